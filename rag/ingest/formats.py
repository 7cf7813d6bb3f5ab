"""Which extractor reads which file type."""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable

from rag.core.errors import DocumentError
from rag.ingest.anchors import Extracted, scrub
from rag.ingest.ocr import OcrSettings

TYPES = {".txt": "txt", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".pdf": "pdf",
         ".docx": "docx", ".jsonl": "jsonl", ".epub": "epub", ".eml": "eml", ".odt": "odt", ".xlsx": "xlsx",
         ".csv": "csv", ".tsv": "tsv", ".pptx": "pptx", ".png": "image", ".jpg": "image", ".jpeg": "image",
         ".tif": "image", ".tiff": "image"}
# What one upload may be: a .jsonl corpus holds many documents and is indexed with `rag index`.
UPLOADABLE = tuple(suffix for suffix in TYPES if suffix != ".jsonl")
# Formats stored as a zip of XML parts, whose unpacked size is checked before they are parsed
# (rag.ingest.archives).
ZIPPED = frozenset({".docx", ".epub", ".odt", ".xlsx", ".pptx"})
# A plain-text file written Markdown-style: its first line may be "# Title".
_HEADING_MARKERS = re.compile(r"^\s*#{1,6}\s+")


_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))


def decode(data: bytes) -> str:
    """UTF-8 text, or UTF-16/32 recognised by its byte-order mark or, without one, by its NUL bytes."""
    encoding = _wide_encoding(data)
    if encoding is None:
        if b"\x00" in data[:8192]:
            raise DocumentError("binary file (contains NUL bytes)")
        encoding = "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        shown = encoding.upper().removesuffix("-SIG")
        raise DocumentError(f"not valid {shown} text (re-save it as UTF-8)") from None


def _wide_encoding(data: bytes) -> str | None:
    """The encoding of text written in UTF-16 (or UTF-32), from its byte-order mark or, without
    one, from where its NULs fall: text in the Latin, Greek or Cyrillic scripts written as UTF-16
    has a NUL as every other byte, on the same side; binary data has them anywhere."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    head = data[:8192]
    if len(head) < 4 or len(head) % 2:
        return None
    even, odd = head[0::2].count(0), head[1::2].count(0)
    pairs = len(head) // 2
    # Mostly one side (spaces, digits and line breaks are ASCII even in Chinese text); almost
    # never the other (a character whose low byte is 0).
    encoding = ("utf-16-le" if odd > 0.3 * pairs and even < 0.02 * pairs else
                "utf-16-be" if even > 0.3 * pairs and odd < 0.02 * pairs else None)
    if encoding is None:
        return None
    sample = head.decode(encoding, "replace")
    printable = sum(c.isprintable() or c in "\t\n\r" for c in sample)
    return encoding if printable >= 0.95 * len(sample) else None  # else numbers stored as 16 bits


def may_need_ocr(suffix: str, ocr: OcrSettings) -> bool:
    """Whether reading a file of this type can run OCR (and so gets `max_ocr_seconds` more time)."""
    return ocr.mode != "never" and TYPES.get(suffix) in ("pdf", "image")


def extract(suffix: str, data: bytes, ocr: OcrSettings | None = None,
            on_page: Callable[[object], None] | None = None, *, max_chars: int | None = None,
            seconds: float | None = None) -> Extracted:
    """`ocr`: how scans and images are read (None: not at all); `on_page` hears of OCR's progress.
    `max_chars` and `seconds` (the parse's time limit): where a format read as a stream (a
    spreadsheet) stops reading, saying so in the result's warnings; the others are read whole and
    judged by the caller."""
    kind = TYPES.get(suffix)
    if kind == "pdf":
        from rag.ingest.pdf import extract_pdf

        return extract_pdf(data, ocr, on_page)
    if kind == "image":
        from rag.ingest.images import extract_image

        return extract_image(data, ocr or OcrSettings(mode="never"), on_page)
    if kind == "docx":
        from rag.ingest.docx import extract_docx

        return extract_docx(data)
    if kind == "xlsx":
        from rag.ingest.spreadsheets import extract_xlsx

        return extract_xlsx(data, max_chars, seconds)
    if kind == "pptx":
        from rag.ingest.slides import extract_pptx

        return extract_pptx(data)
    if kind == "epub":
        from rag.ingest.epub import extract_epub

        return extract_epub(data)
    if kind == "odt":
        from rag.ingest.odt import extract_odt

        return extract_odt(data)
    if kind == "eml":
        from rag.ingest.mail import extract_eml

        return extract_eml(data)
    text = decode(data)
    if kind in ("csv", "tsv"):
        from rag.ingest.spreadsheets import extract_delimited

        return extract_delimited(text, "\t" if kind == "tsv" else None, max_chars, seconds)
    if kind == "html":
        from rag.ingest.markup import extract_html

        return extract_html(text)
    if kind == "md":
        from rag.ingest.markup import extract_markdown

        return extract_markdown(text)
    return Extracted(scrub(text))


def plain_title(title: str) -> str:
    return _HEADING_MARKERS.sub("", title).strip()
