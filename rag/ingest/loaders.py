"""Files → `Document`s. One bad file is skipped with a reason; it never stops a run.

Supported: .txt, .md/.markdown, .html/.htm (main text only), .pdf (pypdf; scanned pages by OCR), .docx
(python-docx), .pptx (python-pptx), .xlsx (openpyxl), .csv/.tsv, .epub, .odt, .eml (the message, and each attachment
of a supported type as a document of its own), images (.png, .jpg/.jpeg, .tif/.tiff, by OCR), and .jsonl corpora with
one `{"id", "title", "text"}` document a line.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from rag.core.errors import DocumentError, ParseLimitError
from rag.core.records import Document
from rag.ingest.anchors import Extracted, locate
from rag.ingest.archives import ZipLimits, check_zip
from rag.ingest.cleaning import clean_text
from rag.ingest.formats import TYPES, ZIPPED, extract, may_need_ocr, plain_title
from rag.ingest.formats import decode as _decode
from rag.ingest.mail import Attachment, read_mail
from rag.ingest.ocr import LowConfidence, OcrNotice, OcrProgress, OcrSettings, OcrStarted
from rag.ingest.parse_worker import (
    DeadlineExceeded,
    MemoryLimitExceeded,
    Worker,
    WorkerFailed,
    WorkerUnavailable,
    listening,
    report,
)
from rag.safety.ownership import is_index_dir

log = logging.getLogger("rag.ingest.loaders")
# One INFO line a page read by OCR: `rag index` shows it as a live progress line on a terminal.
progress_log = logging.getLogger("rag.ingest.progress")

_TYPES = TYPES
SUPPORTED_SUFFIXES = tuple(_TYPES)
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class SkippedFile:
    path: str  # the file, or `file:line` for one line of a JSONL corpus
    reason: str
    doc_id: str | None = None  # the id the file's document would have had, if it has one
    file: str | None = None  # the file's id under the corpus (documents from it record it as "corpus_file")


@dataclass
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


@dataclass(frozen=True)
class FileLimits:
    """What one file may cost to read (the `[limits]` section of rag.toml): its extracted text
    (`max_chars`), its parse time and memory, what a zip-based file may unpack to, and whether a
    symlink out of the corpus is followed."""

    max_chars: int = 5_000_000
    max_parse_seconds: float = 30.0
    max_parse_memory_mb: int = 1024
    zip: ZipLimits = ZipLimits()
    follow_external_symlinks: bool = False
    ocr: OcrSettings = OcrSettings()  # its time limit (max_ocr_seconds) is on top of max_parse_seconds


def load_documents(paths: Iterable[str | Path], *, root: Path | None = None,
                   max_bytes: int = DEFAULT_MAX_BYTES, limits: FileLimits | None = None) -> LoadResult:
    limits = limits or FileLimits()
    result = LoadResult()
    seen: set[str] = set()
    for given in paths:
        given = Path(given)
        if not os.path.lexists(given):
            _skip(result, str(given), "no such file or directory")
            continue
        base = root or (given if given.is_dir() else given.parent)
        for path, problem in _walk(given, limits.follow_external_symlinks):
            doc_id = path.relative_to(base).as_posix() if path.is_relative_to(base) else path.name
            if problem is not None:
                kept = doc_id if problem.keep_indexed else None
                _skip(result, str(path), problem.reason, kept, kept)
                continue
            try:
                docs, skipped = _load_file(path, doc_id, max_bytes, limits)
            except DocumentError as exc:
                _skip(result, str(path), str(exc), doc_id, doc_id)
                continue
            result.skipped.extend(skipped)
            for doc in docs:
                if doc.id in seen:
                    _skip(result, str(path), f"duplicate document id {doc.id!r}")
                    continue
                seen.add(doc.id)
                result.documents.append(doc)
    # The parser child keeps what the files took (a 10 MB JSONL corpus leaves it near 100 MB) until
    # it is replaced; the documents are here now, and embedding them comes next and is long.
    _PARSER.release()
    return result


def load_text_document(name: str, data: bytes, *, doc_id: str | None = None,
                       max_bytes: int = DEFAULT_MAX_BYTES, limits: FileLimits | None = None) -> Document:
    """One document from bytes (an upload); raises DocumentError with the reason."""
    suffix = Path(name).suffix.lower()
    if suffix == ".jsonl":
        raise DocumentError(f"{name}: upload .jsonl corpora with `rag index`, not one at a time")
    _check_suffix(name)
    if len(data) > max_bytes:
        raise DocumentError(f"{name}: file too large ({len(data) / 1e6:.1f} MB > {max_bytes / 1e6:.0f} MB)")
    return _parse_within_limits(suffix, data, doc_id or Path(name).name, name, limits or FileLimits())


def load_upload(name: str, data: bytes, *, doc_id: str, max_bytes: int = DEFAULT_MAX_BYTES,
                limits: FileLimits | None = None) -> list[Document]:
    """The documents of one uploaded file under the id `doc_id`: the file's own first, then, for
    an e-mail, each attachment read as `rag index` reads it (an attachment that cannot be read is
    logged and left out). Raises DocumentError when the file itself cannot be read."""
    limits = limits or FileLimits()
    if Path(name).suffix.lower() != ".eml":
        return [load_text_document(name, data, doc_id=doc_id, max_bytes=max_bytes, limits=limits)]
    _check_suffix(name)
    if len(data) > max_bytes:
        raise DocumentError(f"{name}: file too large ({len(data) / 1e6:.1f} MB > {max_bytes / 1e6:.0f} MB)")
    docs, _ = _load_mail(data, doc_id, doc_id, max_bytes, limits)
    return docs


@dataclass(frozen=True)
class _Problem:
    """Why a directory entry is not read, and whether its indexed version should stay."""

    reason: str
    keep_indexed: bool = True


def _walk(given: Path, follow_external: bool) -> Iterator[tuple[Path, _Problem | None]]:
    """Regular files under `given` (sorted, hidden names skipped), and entries that are not read.

    Nothing but a regular file is ever opened: a named pipe would block the run forever and a
    device could be endless. A symlink is read when its target is inside the corpus, or outside
    it only with `follow_external`; a directory reached twice (a link loop) is read once.
    """
    info = _stat(given)
    if isinstance(info, _Problem):
        yield given, info
        return
    if not stat.S_ISDIR(info.st_mode):  # a file named on the command line is read wherever it points
        yield given, _kind_problem(info)
        return
    root = Path(os.path.realpath(given))
    yield from _walk_dir(given, root, {(info.st_dev, info.st_ino)}, follow_external)


def _walk_dir(directory: Path, root: Path, visited: set[tuple[int, int]],
              follow_external: bool) -> Iterator[tuple[Path, _Problem | None]]:
    try:
        with os.scandir(directory) as it:
            entries = sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
    except FileNotFoundError:
        yield directory, _Problem("directory vanished while indexing (deleted or moved)")
        return
    except OSError as exc:
        yield directory, _Problem(f"cannot list this directory: {exc.strerror}")
        return
    for entry in entries:
        path = Path(entry.path)
        info = _stat(path)
        if isinstance(info, _Problem):
            yield path, info
            continue
        if entry.is_symlink():
            target = Path(os.path.realpath(path))
            if not target.is_relative_to(root):
                if not follow_external:
                    yield path, _Problem(f"symlink to {target}, outside the corpus; not read (set "
                                         "follow_external_symlinks = true to read it)", keep_indexed=False)
                    continue
            elif stat.S_ISDIR(info.st_mode):
                continue  # a directory inside the corpus is read under its own name, not twice
        if stat.S_ISDIR(info.st_mode) and is_index_dir(path):
            continue  # an index kept inside the corpus is never read as documents (it would index itself)
        if stat.S_ISDIR(info.st_mode):
            key = (info.st_dev, info.st_ino)
            if key in visited:
                yield path, _Problem("directory already read through another link (symlink loop); not read again")
                continue
            visited.add(key)
            yield from _walk_dir(path, root, visited, follow_external)
        else:
            yield path, _kind_problem(info)


def _stat(path: Path) -> os.stat_result | _Problem:
    """The stat of what `path` points to, or why it cannot be read."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            return _Problem(f"broken symlink: its target {os.readlink(path)} does not exist")
        return _Problem("vanished while indexing (deleted or moved); its indexed version, if any, is kept")
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return _Problem("symlink loop (the link leads back to itself); fix or remove the link")
        return _Problem(f"cannot read: {exc.strerror}")


_KINDS = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"))


def _kind_problem(info: os.stat_result) -> _Problem | None:
    if stat.S_ISREG(info.st_mode):
        return None
    kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a file")
    return _Problem(f"{kind}, not a regular file; not read", keep_indexed=False)


def _skip(result: LoadResult, path: str, reason: str, doc_id: str | None = None, file: str | None = None) -> None:
    log.warning("skipped %s: %s", path, reason)
    result.skipped.append(SkippedFile(path, reason, doc_id, file))


def _check_suffix(name: str) -> None:
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        shown = f"'{suffix}'" if suffix else "without an extension"
        raise DocumentError(f"unsupported file type {shown} (supported: {', '.join(SUPPORTED_SUFFIXES)})")


def _load_file(path: Path, doc_id: str, max_bytes: int,
               limits: FileLimits) -> tuple[list[Document], list[SkippedFile]]:
    if _SURROGATE.search(str(path)):  # undecodable bytes in the name: it could not be stored as an id
        raise DocumentError("the file name is not valid UTF-8; rename the file")
    _check_suffix(path.name)
    data = _read_regular_file(path, max_bytes)
    if path.suffix.lower() == ".jsonl":
        docs, skipped = _within_limits(_parse_jsonl, (str(path), _display(path), data, doc_id), limits)
        for s in skipped:
            log.warning("skipped %s: %s", s.path, s.reason)
        within = []
        for doc in docs:
            try:
                within.append(_check_chars(doc, limits))
            except DocumentError as exc:
                log.warning("skipped %s: %s", doc.source, exc)
                skipped.append(SkippedFile(doc.source, str(exc), doc.id, doc_id))
        return within, skipped
    if path.suffix.lower() == ".eml":
        return _load_mail(data, doc_id, _display(path), max_bytes, limits)
    return [_parse_within_limits(path.suffix.lower(), data, doc_id, _display(path), limits)], []


ATTACHMENT_SEPARATOR = "#"  # an attachment's id: the e-mail's id, "#", its file name (mail/offer.eml#offer.pdf)


def attachment_id(mail_id: str, name: str) -> str:
    return f"{mail_id}{ATTACHMENT_SEPARATOR}{name}"


def _load_mail(data: bytes, doc_id: str, display: str, max_bytes: int,
               limits: FileLimits) -> tuple[list[Document], list[SkippedFile]]:
    """The e-mail, then each attachment of a supported type read as a file of its own: in its own
    parser call, within the same limits, with the e-mail as its `parent`. An attachment that
    cannot be read is skipped with one line (keeping its indexed version, if any); the e-mail and
    its other attachments are indexed all the same.

    The e-mail is one file, so it and its attachments share one `max_parse_seconds`: a message of
    a thousand small PDF bombs costs what one file may cost, not a thousand times that."""
    deadline = time.monotonic() + limits.max_parse_seconds
    mail, attachments = _within_limits(_read_mail, (data, doc_id, display), limits)
    docs, skipped = [_check_chars(mail, limits)], []
    for attachment in attachments:
        where = f"attachment {attachment.name} of {display}"
        suffix = _attachment_suffix(attachment)
        att_id = attachment_id(doc_id, attachment.name)
        try:
            if suffix is None:
                raise DocumentError(f"unsupported type ({attachment.content_type}); not read")
            if len(attachment.data) > max_bytes:
                raise DocumentError(f"too large ({len(attachment.data) / 1e6:.1f} MB > {max_bytes / 1e6:.0f} MB)")
            left = deadline - time.monotonic()
            if left <= 0:
                raise DocumentError(f"not read: the e-mail and its attachments before it used up max_parse_seconds "
                                    f"({limits.max_parse_seconds:g} s); raise max_parse_seconds to read it")
            # Read under its own name, so a title made from the name is the attachment's ("offer").
            doc = _parse_within_limits(suffix, attachment.data, attachment.name,
                                       f"{display}{ATTACHMENT_SEPARATOR}{attachment.name}", limits, left)
        except DocumentError as exc:
            log.warning("skipped %s: %s", where, exc)
            skipped.append(SkippedFile(where, str(exc), att_id if suffix else None))
            continue
        inherited = {"date": mail.metadata["date"]} if "date" in mail.metadata else {}
        docs.append(replace(doc, id=att_id, metadata={**inherited, **doc.metadata, "path": display, "parent": doc_id,
                                           "corpus_file": doc_id, "attachment": attachment.name}))
    return docs, skipped


def _attachment_suffix(attachment: Attachment) -> str | None:
    """The reader for an attachment: by its file name's extension, else by its declared type."""
    import mimetypes

    suffix = Path(attachment.name).suffix.lower()
    if suffix not in _TYPES:
        suffix = {"message/rfc822": ".eml", "text/plain": ".txt"}.get(attachment.content_type) or \
            mimetypes.guess_extension(attachment.content_type) or ""
    return suffix if suffix in _TYPES and suffix != ".jsonl" else None


def _read_mail(data: bytes, doc_id: str, source: str) -> tuple[Document, tuple[Attachment, ...]]:
    """In the parser process: the message as a document, and its attachments' bytes."""
    mail = read_mail(data)
    return _document(".eml", mail.extracted, data, doc_id, source), mail.attachments


def _read_regular_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file, at most `max_bytes`, however it changed since it was listed."""
    # Non-blocking, then checked: if a named pipe took the file's place since the walk, opening
    # it must not wait for a writer.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise DocumentError("vanished while indexing (deleted or moved); its indexed version, if any, "
                            "is kept") from None
    except OSError as exc:
        raise DocumentError(f"cannot read: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        problem = _kind_problem(info)
        if problem:
            raise DocumentError(problem.reason)
        if info.st_size > max_bytes:
            raise DocumentError(f"file too large ({info.st_size / 1e6:.1f} MB > {max_bytes / 1e6:.0f} MB)")
        parts, total = [], 0
        while total <= max_bytes:  # it may grow while it is read
            part = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not part:
                break
            parts.append(part)
            total += len(part)
        if total > max_bytes:
            raise DocumentError(f"file too large (more than {max_bytes / 1e6:.0f} MB)")
        return b"".join(parts)
    except OSError as exc:
        raise DocumentError(f"cannot read: {exc.strerror}") from None
    finally:
        os.close(fd)


def load_web_document(url: str, suffix: str, data: bytes, *, limits: FileLimits | None = None,
                      metadata: dict[str, Any] | None = None) -> Document:
    """One document from a fetched page whose content type names the reader (`suffix`: ".html",
    ".pdf", ...), with the same parse limits as a file. Its id, source and `url` are the URL; an
    HTML page is read for its main text (rag.ingest.web_page). Raises DocumentError."""
    limits = limits or FileLimits()
    doc = _within_limits(_read_document, (suffix, data, url, url, limits.zip, limits.ocr, True, limits.max_chars,
                                          limits.max_parse_seconds), limits, events=_ocr_events(suffix, url, limits))
    doc = _check_chars(doc, limits)
    if doc.metadata.get("partial"):
        log.warning("%s: indexed in part: %s", url, doc.metadata["partial"])
    return replace(doc, metadata={**doc.metadata, **(metadata or {}), "url": url})


def _parse_within_limits(suffix: str, data: bytes, doc_id: str, source: str, limits: FileLimits,
                         seconds: float | None = None) -> Document:
    budget = (limits.max_chars, limits.max_parse_seconds if seconds is None else seconds)
    doc = _check_chars(_within_limits(_read_document, (suffix, data, doc_id, source, limits.zip, limits.ocr, False,
                                                       *budget), limits, seconds,
                                      events=_ocr_events(suffix, source, limits)), limits)
    if doc.metadata.get("partial"):
        log.warning("%s: indexed in part: %s", source, doc.metadata["partial"])
    return doc


def _read_document(suffix: str, data: bytes, doc_id: str, source: str, zip_limits: ZipLimits,
                   ocr: OcrSettings | None = None, web: bool = False, max_chars: int | None = None,
                   seconds: float | None = None) -> Document:
    """In the parser process: a zip-based file's declared sizes first, before any of it is unpacked
    (its directory alone can list a million parts), then the parse."""
    if suffix in ZIPPED:
        check_zip(data, zip_limits)
    return _parse(suffix, data, doc_id, source, ocr, web=web, max_chars=max_chars, seconds=seconds)


def _ocr_events(suffix: str, source: str, limits: FileLimits) -> _OcrEvents | None:
    return _OcrEvents(source, limits.ocr.max_seconds) if may_need_ocr(suffix, limits.ocr) else None


class _OcrEvents:
    """What the parser process reports while it reads a file by OCR, as log lines naming the
    file; OCR's start grants the call `max_ocr_seconds` more."""

    def __init__(self, source: str, ocr_seconds: float) -> None:
        self.source, self.ocr_seconds, self.started = source, ocr_seconds, False

    def __call__(self, event: Any) -> float | None:
        if isinstance(event, OcrStarted) and not self.started:
            self.started = True
            return self.ocr_seconds
        if isinstance(event, OcrProgress):
            progress_log.info("%s: OCR page %d (%d of %d)", self.source, event.page, event.done, event.total)
        elif isinstance(event, LowConfidence):
            log.warning("%s: page %d: OCR confidence %.0f is below ocr_min_confidence (%g); indexed, but its text "
                        "may be wrong", self.source, event.page, event.confidence, event.threshold)
        elif isinstance(event, OcrNotice):
            log.warning("%s: %s", self.source, event.message)
        return None


# Every format, plain text included, parses in a child process stopped at the deadline and capped
# in memory: a small PDF's compressed streams expand a thousandfold, a 2 MB HTML page of nested
# tags takes minutes, a 500 KB Word file gigabytes, and a JSONL line nested a million deep blows
# the stack. A call costs about a millisecond more than in-process.
def _within_limits(func: Callable[..., Any], args: tuple, limits: FileLimits, seconds: float | None = None, *,
                   events: _OcrEvents | None = None) -> Any:
    """`seconds`: what is left of the file's `max_parse_seconds`, when one file is parsed in parts;
    `events`: what a file read by OCR reports while it is read."""
    if _NO_PARSER_PROCESS.is_set():
        return _in_process(func, args, events)
    memory = limits.max_parse_memory_mb * 2**20
    try:
        return _PARSER.run(func, args, limits.max_parse_seconds if seconds is None else seconds, memory_limit=memory,
                           on_event=events)
    except DeadlineExceeded:
        if events is not None and events.started:
            raise DocumentError(f"parsing and OCR took longer than max_parse_seconds + max_ocr_seconds "
                                f"({limits.max_parse_seconds + events.ocr_seconds:g} s) and were stopped; raise "
                                "max_ocr_seconds to index it") from None
        raise DocumentError(f"parsing took longer than max_parse_seconds ({limits.max_parse_seconds:g} s) and "
                            "was stopped; raise max_parse_seconds to index it") from None
    except MemoryLimitExceeded:
        raise ParseLimitError(f"parsing needed more memory than max_parse_memory_mb ({limits.max_parse_memory_mb:,} "
                              "MB) and was stopped; raise max_parse_memory_mb to index it") from None
    except WorkerUnavailable as exc:
        # No child process here (an embedded interpreter, say): parse without a deadline.
        _NO_PARSER_PROCESS.set()
        log.warning("%s; files are parsed without a time or memory limit", exc)
        return _in_process(func, args, events)
    except WorkerFailed:
        raise DocumentError("the parser stopped on this file (damaged, or out of memory?)") from None
    except DocumentError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged file makes parsers raise almost anything
        raise DocumentError(f"cannot parse: {type(exc).__name__}: {str(exc)[:120]}") from None


def _check_chars(doc: Document, limits: FileLimits) -> Document:
    if len(doc.text) > limits.max_chars:
        raise DocumentError(f"too much text: {len(doc.text):,} characters > max_file_chars "
                            f"({limits.max_chars:,}); raise max_file_chars to index it")
    return doc


def _in_process(func: Callable[..., Any], args: tuple, on_event: Callable[[Any], None] | None) -> Any:
    previous = listening(on_event)
    try:
        return func(*args)
    finally:
        listening(previous)


_PARSER = Worker(preload=("rag.ingest.loaders", "pypdf", "docx", "selectolax.lexbor", "rag.ingest.images",
                          "PIL.Image", "pypdfium2", "openpyxl", "pptx"))
_NO_PARSER_PROCESS = threading.Event()


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path.resolve())


def _parse(suffix: str, data: bytes, doc_id: str, source: str, ocr: OcrSettings | None = None, *,
           web: bool = False, max_chars: int | None = None, seconds: float | None = None) -> Document:
    if web and _TYPES.get(suffix) == "html":
        from rag.ingest.web_page import extract_web_page

        extracted = extract_web_page(data, doc_id)
    else:
        extracted = extract(suffix, data, ocr, report, max_chars=max_chars, seconds=seconds)
    return _document(suffix, extracted, data, doc_id, source, web=web)


def _document(suffix: str, extracted: Extracted, data: bytes, doc_id: str, source: str, *,
              web: bool = False) -> Document:
    cleaned = clean_text(extracted.text)
    text, anchors = locate(cleaned.text)
    text = text.rstrip()
    if not text.strip():
        raise DocumentError("empty document (no text after cleaning)")
    found = {k: locate(v)[0] if isinstance(v, str) else v for k, v in cleaned.metadata.items()}
    metadata = {**found, **{k: v for k, v in extracted.metadata.items() if v}, "path": source,
                "type": _TYPES[suffix], "bytes": len(data)}
    if not web:  # what a file's original is checked against before it is served (rag.app.originals)
        metadata["sha256"] = hashlib.sha256(data).hexdigest()
    if extracted.section_breaks and extracted.sections:
        metadata["section_breaks"] = True
    if extracted.warnings:
        metadata["partial"] = "; ".join(extracted.warnings)
    if extracted.pages:
        # Page n starts at page_starts[n - 1]; a page with no text starts where the next text does.
        metadata["pages"] = extracted.pages
        metadata["page_starts"] = [0] + [min(anchors.get(("p", n), len(text)), len(text))
                                         for n in range(1, extracted.pages)]
    if extracted.sections:
        metadata["sections"] = [[anchors[("s", i)], s.level, s.heading] for i, s in enumerate(extracted.sections)
                                if ("s", i) in anchors and anchors[("s", i)] < len(text)]
    from_text = locate(cleaned.title)[0] if cleaned.title and extracted.title_from_text else None
    title = plain_title(extracted.title or from_text or "") or _name_of(doc_id, web)
    return Document(id=doc_id, title=title, text=text, source=source, metadata=metadata)


def _name_of(doc_id: str, web: bool) -> str:
    """A title for a document that declares none: its file name, or a page's last path part."""
    if web:
        path = urlsplit(doc_id).path.rstrip("/")
        return unquote(path.rsplit("/", 1)[-1]) or urlsplit(doc_id).netloc
    return Path(doc_id).stem.replace("-", " ").replace("_", " ")


def _parse_jsonl(path: str, display: str, data: bytes, file_id: str) -> tuple[list[Document], list[SkippedFile]]:
    """`file_id`: the corpus file's own id (its path under the corpus), recorded with every line's
    document so a file that turns unreadable can keep them. `display`: the path as shown."""
    text = _decode(data)
    docs, skipped, ids = [], [], set()
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise ValueError("not a JSON object")
            doc_id, body = item.get("id"), item.get("text")
            if not isinstance(doc_id, (str, int)) or str(doc_id) == "":
                raise ValueError("missing 'id'")
            if not isinstance(body, str):
                raise ValueError("missing or non-text 'text'")
            if str(doc_id) in ids:
                raise ValueError(f"duplicate id {doc_id!r}")
            if any(isinstance(v, str) and _SURROGATE.search(v) for kv in item.items() for v in kv):
                # Valid JSON, but not text: it could not even be written back out as UTF-8.
                raise ValueError("holds a lone surrogate escape such as \\udcff; re-export the line as UTF-8")
        except RecursionError:
            skipped.append(SkippedFile(where, "bad JSON (nested too deeply)", file=file_id))
            continue
        except ValueError as exc:
            reason = f"bad JSON ({exc})" if isinstance(exc, json.JSONDecodeError) else str(exc)
            skipped.append(SkippedFile(where, reason, file=file_id))
            continue
        cleaned = clean_text(body)
        if not cleaned.text:
            skipped.append(SkippedFile(where, "empty document", file=file_id))
            continue
        ids.add(str(doc_id))
        extra = {k: v for k, v in item.items() if k not in ("id", "title", "text") and isinstance(v, (str, int, float, bool))}
        docs.append(Document(id=str(doc_id), title=str(item.get("title") or ""), text=cleaned.text,
                             source=f"{display}:{lineno}",
                             metadata={**cleaned.metadata, **extra, "path": display, "type": "jsonl",
                                       "corpus_file": file_id}))
    if not docs and not skipped:
        raise DocumentError("empty document")
    return docs, skipped
