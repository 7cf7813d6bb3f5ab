"""Which extractor reads which file type."""

from __future__ import annotations

import re

from rag.core.errors import DocumentError
from rag.ingest.anchors import Extracted, scrub

TYPES = {".txt": "txt", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".pdf": "pdf",
         ".docx": "docx", ".jsonl": "jsonl"}
# A plain-text file written Markdown-style: its first line may be "# Title".
_HEADING_MARKERS = re.compile(r"^\s*#{1,6}\s+")


def decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise DocumentError("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DocumentError("not valid UTF-8 text (re-save it as UTF-8)") from None


def extract(suffix: str, data: bytes) -> Extracted:
    kind = TYPES.get(suffix)
    if kind == "pdf":
        from rag.ingest.pdf import extract_pdf

        return extract_pdf(data)
    if kind == "docx":
        from rag.ingest.docx import extract_docx

        return extract_docx(data)
    text = decode(data)
    if kind == "html":
        from rag.ingest.markup import extract_html

        return extract_html(text)
    if kind == "md":
        from rag.ingest.markup import extract_markdown

        return extract_markdown(text)
    return Extracted(scrub(text))


def plain_title(title: str) -> str:
    return _HEADING_MARKERS.sub("", title).strip()
