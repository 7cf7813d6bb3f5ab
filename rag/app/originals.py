"""A cited document as its source: the original file (verified to be the one indexed), the text
the viewer shows, and where a span sits in it (its pages, and boxes on a PDF page or an image).

A file is found only from the index's own record of the document, never from a request: the path
recorded at indexing (relative to the working directory, or absolute), then the document's id
(or the corpus file it came from) under the corpus folder. A candidate is served only when it is a
regular file with the size and SHA-256 recorded when it was indexed, so a file changed, replaced
or moved since then is never served as if it were the one the answers quote. Documents indexed
before their hash was recorded are served on a size match, and only from inside the corpus folder
(where uploads live too). Hashes are cached by (path, size, mtime), so a file is read once a change.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from rag.app.documents import chunks_of, document_text
from rag.core.errors import DocumentError, DocumentNotFoundError, OriginalNotFoundError, SpanError
from rag.core.pages import span_pages
from rag.core.records import Chunk
from rag.ingest import layout
from rag.ingest.layout import PageHighlight
from rag.ingest.mail import read_mail
from rag.ingest.ocr import OcrSettings
from rag.retrieval.retriever import Retriever

log = logging.getLogger(__name__)

# Media types by the file's extension. Text is declared UTF-8 (the readers decode it so, or by its
# byte-order mark, which browsers honour first).
MEDIA_TYPES = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".epub": "application/epub+zip",
    ".eml": "message/rfc822",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".markdown": "text/markdown; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".tsv": "text/tab-separated-values; charset=utf-8",
    ".jsonl": "text/plain; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".xhtml": "application/xhtml+xml",
    ".xml": "application/xml",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
}
# A browser would run these (scripts in HTML or SVG; an e-mail shown as MHTML): always a download.
NEVER_INLINE = frozenset({".html", ".htm", ".xhtml", ".xml", ".svg", ".eml"})
UNKNOWN_TYPE = "application/octet-stream"
VIEWS = {"pdf": "pdf", "image": "image"}  # manifest type -> view; every other type is shown as text
HASH_CACHE_SIZE = 1024


@dataclass(frozen=True)
class OriginalFile:
    """A verified original: `path` is for the server only and never shown to users."""

    doc_id: str
    path: Path
    media_type: str
    filename: str
    size: int
    inline: bool  # False for types a browser would run: always served as an attachment

    def headers(self, *, download: bool = False) -> dict[str, str]:
        """The headers that go with the file: its name (RFC 5987), and no sniffing or scripts."""
        kind = "inline" if self.inline and not download else "attachment"
        return {"Content-Disposition": f"{kind}; filename*=UTF-8''{quote(self.filename, safe='')}",
                "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"}


@dataclass(frozen=True)
class SourceView:
    """What the viewer shows of a document. `text` is the text as indexed, so a citation's
    offsets hold in it; `page_starts`: where pages 2.. start; `sections`: (offset, heading)."""

    doc_id: str
    title: str
    type: str
    view: str  # "pdf" | "image" | "text"
    pages: int | None
    text: str
    page_starts: tuple[int, ...] = ()
    sections: tuple[tuple[int, str], ...] = ()
    original: bool = False  # an original file can be served
    url: str = ""  # a web page's address

    def to_dict(self) -> dict[str, Any]:
        return {"doc_id": self.doc_id, "title": self.title, "type": self.type, "view": self.view,
                "pages": self.pages, "text": self.text, "page_starts": list(self.page_starts),
                "sections": [[offset, heading] for offset, heading in self.sections],
                "original": self.original, "url": self.url}


@dataclass(frozen=True)
class Highlights:
    """Where `text[start:end]` is: its pages and, on a PDF or image, its boxes page by page.
    `method`: "text-layer", "ocr", "text", or "" when no boxes were found (the viewer still
    opens at `page_first`)."""

    doc_id: str
    start: int
    end: int
    quote: str
    view: str
    page_first: int | None
    page_last: int | None
    pages: tuple[PageHighlight, ...] = field(default=())
    method: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"doc_id": self.doc_id, "start": self.start, "end": self.end, "quote": self.quote,
                "view": self.view, "page_first": self.page_first, "page_last": self.page_last,
                "method": self.method,
                "pages": [{"page": p.page, "width": p.width, "height": p.height,
                           "boxes": [[b.x0, b.y0, b.x1, b.y1] for b in p.boxes]} for p in self.pages]}


class _HashCache:
    """SHA-256 of files by (path, size, mtime_ns): a file is hashed again only when it changed."""

    def __init__(self, size: int = HASH_CACHE_SIZE):
        self.size = size
        self._items: OrderedDict[tuple[str, int, int], str] = OrderedDict()
        self._lock = threading.Lock()

    def sha256(self, path: Path, info: os.stat_result) -> str | None:
        key = (str(path), info.st_size, info.st_mtime_ns)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        digest = _sha256_file(path, info)
        if digest is None:
            return None
        with self._lock:
            self._items[key] = digest
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return digest


_HASHES = _HashCache()


@contextmanager
def _regular(path: Path) -> Iterator[tuple[int, os.stat_result] | None]:
    """The file opened for reading with its stat, or None when it cannot be opened or is not a
    regular file. Opened without blocking, so a FIFO put in a file's place cannot hang a request."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        yield None
        return
    try:
        try:
            info = os.fstat(fd)
        except OSError:
            info = None
        yield (fd, info) if info is not None and stat.S_ISREG(info.st_mode) else None
    finally:
        os.close(fd)


def _sha256_file(path: Path, expected: os.stat_result) -> str | None:
    """The file's hash, or None when it is not the regular file that was stat'ed any more."""
    with _regular(path) as opened:
        if opened is None:
            return None
        fd, info = opened
        if (info.st_dev, info.st_ino, info.st_size) != (expected.st_dev, expected.st_ino, expected.st_size):
            return None
        h = hashlib.sha256()
        try:
            while part := os.read(fd, 1 << 20):
                h.update(part)
        except OSError:
            return None
        return h.hexdigest()


def _read_regular(path: Path, size: int) -> bytes | None:
    """The bytes of a regular file of exactly `size` bytes; None if it is not that any more."""
    with _regular(path) as opened:
        if opened is None:
            return None
        fd, _ = opened
        parts, total = [], 0
        try:
            while total <= size and (part := os.read(fd, min(1 << 20, size + 1 - total))):
                parts.append(part)
                total += len(part)
        except OSError:
            return None
        return b"".join(parts) if total == size else None


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


class Originals:
    """The originals, views and highlights of one collection's documents."""

    def __init__(self, retriever: Retriever, corpus_dir: Path | str, *, ocr: OcrSettings | None = None):
        self.retriever = retriever
        self.corpus_dir = Path(corpus_dir)
        self.ocr = ocr

    # --- the index's record of a document ---

    def _entry(self, doc_id: str) -> Mapping[str, Any]:
        self.retriever.refresh()  # a document removed by another process is not served
        entry = self.retriever.documents.get(doc_id) if isinstance(doc_id, str) else None
        if entry is None:
            raise DocumentNotFoundError(f"no document {doc_id!r} in the index; `rag docs` lists the ids")
        return entry

    # --- the original file ---

    def original(self, doc_id: str) -> OriginalFile:
        entry = self._entry(doc_id)
        meta = entry.get("metadata") or {}
        if meta.get("parent"):
            raise OriginalNotFoundError(f"{doc_id!r} is an attachment; open its e-mail {meta['parent']!r} instead")
        path = self._verified(doc_id, meta, entry.get("source"))
        suffix = path.suffix.lower()
        return OriginalFile(doc_id=doc_id, path=path, media_type=MEDIA_TYPES.get(suffix, UNKNOWN_TYPE),
                            filename=_filename(doc_id), size=int(meta["bytes"]),
                            inline=suffix in MEDIA_TYPES and suffix not in NEVER_INLINE)

    def _verified(self, doc_id: str, meta: Mapping[str, Any], source: Any = None) -> Path:
        """The file on disk that is the document's original, or OriginalNotFoundError."""
        if meta.get("url"):
            raise OriginalNotFoundError(f"{doc_id!r} is a web page: open {meta['url']} instead")
        if meta.get("type") == "jsonl":
            raise OriginalNotFoundError(f"{doc_id!r} is a record of a .jsonl corpus, not a file of its own")
        size, digest = meta.get("bytes"), meta.get("sha256")
        if not isinstance(size, int) or isinstance(size, bool):
            raise OriginalNotFoundError(f"the index holds no size for {doc_id!r}; re-index it to open its file")
        roots = [self.corpus_dir.resolve()]
        for candidate in self._candidates(doc_id, meta, source):
            try:
                info = candidate.stat()
                real = candidate.resolve(strict=True)
            except (OSError, RuntimeError):
                continue
            if not stat.S_ISREG(info.st_mode) or info.st_size != size:
                continue
            if isinstance(digest, str) and digest:
                if _HASHES.sha256(real, info) == digest:
                    return real
            elif _inside(real, roots):  # indexed before hashes were recorded
                return real
        raise OriginalNotFoundError(f"the file of {doc_id!r} is gone or changed since it was indexed; "
                                    "re-index it (`rag index`) to open it")

    def _candidates(self, doc_id: str, meta: Mapping[str, Any], source: Any) -> list[Path]:
        out: list[Path] = []
        for recorded in (meta.get("path"), source):  # an upload's source is where it was stored
            if isinstance(recorded, str) and recorded:
                out.append(Path(recorded))
        for rel in (doc_id, meta.get("corpus_file")):
            if isinstance(rel, str) and rel and not rel.startswith("/"):
                out.append(self.corpus_dir / rel)
        return list(dict.fromkeys(out))

    def _data(self, doc_id: str, entry: Mapping[str, Any]) -> bytes | None:
        """The original's bytes, as verified; None when there is none to read. An e-mail's
        attachment is taken out of its verified e-mail and must have the hash it was indexed with."""
        meta = entry.get("metadata") or {}
        parent = meta.get("parent")
        if parent:
            return self._attachment(meta, str(parent))
        try:
            data = _read_regular(self._verified(doc_id, meta, entry.get("source")), int(meta["bytes"]))
        except OriginalNotFoundError:
            return None
        digest = meta.get("sha256")
        if data is None or (isinstance(digest, str) and digest and hashlib.sha256(data).hexdigest() != digest):
            return None  # changed between the check and the read
        return data

    def _attachment(self, meta: Mapping[str, Any], parent: str) -> bytes | None:
        mail_entry = self.retriever.documents.get(parent)
        digest, name = meta.get("sha256"), meta.get("attachment")
        if mail_entry is None or not digest or not name or (mail_entry.get("metadata") or {}).get("parent"):
            return None
        mail = self._data(parent, mail_entry)
        if mail is None:
            return None
        try:
            attachments = read_mail(mail).attachments
        except DocumentError:
            return None
        return next((a.data for a in attachments
                     if a.name == name and hashlib.sha256(a.data).hexdigest() == digest), None)

    # --- what the viewer shows ---

    def source_view(self, doc_id: str) -> SourceView:
        entry = self._entry(doc_id)
        meta = entry.get("metadata") or {}
        chunks = chunks_of(self.retriever, doc_id)
        text = document_text(chunks)
        pages = meta.get("pages") if isinstance(meta.get("pages"), int) else None
        try:
            original = bool(self.original(doc_id))
        except DocumentNotFoundError:
            original = False
        return SourceView(doc_id=doc_id, title=str(entry.get("title") or ""), type=str(meta.get("type", "")),
                          view=VIEWS.get(str(meta.get("type", "")), "text"), pages=pages, text=text,
                          page_starts=_page_starts(chunks, pages, len(text)), sections=_sections(chunks),
                          original=original, url=str(meta.get("url") or ""))

    def highlights(self, doc_id: str, start: int, end: int) -> Highlights:
        entry = self._entry(doc_id)
        meta = entry.get("metadata") or {}
        chunks = chunks_of(self.retriever, doc_id)
        text = document_text(chunks)
        if not (0 <= start < end <= len(text)):
            raise SpanError(f"the span {start}-{end} is not inside {doc_id!r} (offsets 0-{len(text)}, start before end)")
        quote = text[start:end]
        first, _ = _pages_at(chunks, start)
        _, last = _pages_at(chunks, end - 1)
        view = VIEWS.get(str(meta.get("type", "")), "text")
        if view == "text":
            return Highlights(doc_id, start, end, quote, view, first, last, (), "text")
        found = self._boxes(doc_id, entry, quote, first, last)
        return Highlights(doc_id, start, end, quote, view, first, last, found.pages if found else (),
                          found.method if found else "")

    def _boxes(self, doc_id: str, entry: Mapping[str, Any], quote: str, first: int | None,
               last: int | None) -> layout.SpanLayout | None:
        """Boxes are an aid to the eye: without them the viewer still opens at the right page, so
        a file that cannot be read for them (changed, damaged) costs the boxes only."""
        data = self._data(doc_id, entry)
        if data is None:
            return None
        pages = list(range(first, (last or first) + 1)) if first is not None else [1]
        try:
            return layout.locate_span(_suffix(doc_id, entry.get("metadata") or {}), data, quote, pages, ocr=self.ocr)
        except NotImplementedError:
            return None
        except Exception as exc:  # noqa: BLE001 - a damaged file must not fail the request
            log.warning("no highlight boxes for %s: %s: %s", doc_id, type(exc).__name__, str(exc)[:200])
            return None

    def page_image(self, doc_id: str, page: int) -> bytes:
        entry = self._entry(doc_id)
        meta = entry.get("metadata") or {}
        if meta.get("type") != "image":
            raise OriginalNotFoundError(f"{doc_id!r} is not an image; its pages are not served as pictures")
        pages = meta.get("pages") if isinstance(meta.get("pages"), int) else 1
        if isinstance(page, bool) or not isinstance(page, int) or not 1 <= page <= pages:
            raise SpanError(f"{doc_id!r} has no page {page} (it has {pages})")
        data = self._data(doc_id, entry)
        if data is None:
            raise OriginalNotFoundError(f"the file of {doc_id!r} is gone or changed since it was indexed; "
                                        "re-index it (`rag index`) to open it")
        return layout.render_image_page(_suffix(doc_id, meta), data, page)


def _suffix(doc_id: str, meta: Mapping[str, Any]) -> str:
    name = meta.get("attachment") or meta.get("path") or doc_id
    return Path(str(name)).suffix.lower()


def _filename(doc_id: str) -> str:
    """The document's own file name, without anything a header could not carry."""
    name = doc_id.rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable())
    return name or "document"


def _chunk_at(chunks: Sequence[Chunk], offset: int) -> Chunk | None:
    for c in chunks:
        if c.start <= offset < c.end:
            return c
    # Between two chunks (whitespace the chunker skipped): the next one holds the pages from there.
    return next((c for c in chunks if c.start > offset), chunks[-1] if chunks else None)


def _pages_at(chunks: Sequence[Chunk], offset: int) -> tuple[int | None, int | None]:
    chunk = _chunk_at(chunks, offset)
    if chunk is None:
        return None, None
    return span_pages(chunk.metadata, offset, offset + 1)


def _page_starts(chunks: Sequence[Chunk], pages: int | None, length: int) -> tuple[int, ...]:
    """Where pages 2.. start, from the pages and page breaks the chunks record. A page no chunk
    starts on (no text) starts where the next page's text does."""
    if not pages or pages < 2:
        return ()
    known: dict[int, int] = {}
    for c in chunks:
        first = c.metadata.get("page_start")
        if not isinstance(first, int):
            continue
        known[first] = min(known.get(first, c.start), c.start)
        for i, offset in enumerate(c.metadata.get("page_breaks") or (), 1):
            known[first + i] = min(known.get(first + i, offset), offset)
    out, following = [], length
    for n in range(pages, 1, -1):
        following = min(known.get(n, following), following)
        out.append(following)
    return tuple(reversed(out))


def _sections(chunks: Sequence[Chunk]) -> tuple[tuple[int, str], ...]:
    """(offset, heading) of each section, from the heading each chunk records: at the heading's own
    words when the chunk holds them, else at the chunk's start."""
    out: list[tuple[int, str]] = []
    for c in chunks:
        heading = c.metadata.get("section")
        if not isinstance(heading, str) or not heading or (out and out[-1][1] == heading):
            continue
        at = c.text.find(heading)
        offset = c.start + at if at >= 0 else c.start
        if not out or offset > out[-1][0]:
            out.append((offset, heading))
    return tuple(out)
