"""Files → `Document`s. One bad file is skipped with a reason; it never stops a run.

Supported: .txt, .md/.markdown, .html/.htm (main text only), .pdf (pypdf), .docx (python-docx), and .jsonl corpora
with one `{"id", "title", "text"}` document a line.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .cleaning import clean_text
from .errors import DocumentError
from .ingest import extract, locate
from .ingest.formats import TYPES, plain_title
from .ingest.formats import decode as _decode
from .records import Document

log = logging.getLogger("rag.loaders")

_TYPES = TYPES
SUPPORTED_SUFFIXES = tuple(_TYPES)
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str
    doc_id: str | None = None  # the id the file's document would have had, if it has one


@dataclass
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


def load_documents(paths: Iterable[str | Path], *, root: Path | None = None,
                   max_bytes: int = DEFAULT_MAX_BYTES) -> LoadResult:
    result = LoadResult()
    seen: set[str] = set()
    for given in paths:
        given = Path(given)
        base = root or (given if given.is_dir() else given.parent)
        for path in _walk(given):
            doc_id = path.relative_to(base).as_posix() if path.is_relative_to(base) else path.name
            try:
                docs, skipped = _load_file(path, doc_id, max_bytes)
            except DocumentError as exc:
                _skip(result, str(path), str(exc), doc_id)
                continue
            result.skipped.extend(skipped)
            for doc in docs:
                if doc.id in seen:
                    _skip(result, str(path), f"duplicate document id {doc.id!r}")
                    continue
                seen.add(doc.id)
                result.documents.append(doc)
        if not given.exists():
            _skip(result, str(given), "no such file or directory")
    return result


def load_text_document(name: str, data: bytes, *, doc_id: str | None = None,
                       max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    """One document from bytes (an upload); raises DocumentError with the reason."""
    suffix = Path(name).suffix.lower()
    if suffix == ".jsonl":
        raise DocumentError(f"{name}: upload .jsonl corpora with `rag index`, not one at a time")
    _check_suffix(name)
    if len(data) > max_bytes:
        raise DocumentError(f"{name}: file too large ({len(data) / 1e6:.1f} MB > {max_bytes / 1e6:.0f} MB)")
    return _parse(suffix, data, doc_id or Path(name).name, name)


def _walk(path: Path) -> Iterator[Path]:
    if path.is_file():
        yield path
    elif path.is_dir():
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if not name.startswith("."):
                    yield Path(dirpath) / name


def _skip(result: LoadResult, path: str, reason: str, doc_id: str | None = None) -> None:
    log.warning("skipped %s: %s", path, reason)
    result.skipped.append(SkippedFile(path, reason, doc_id))


def _check_suffix(name: str) -> None:
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        shown = f"'{suffix}'" if suffix else "without an extension"
        raise DocumentError(f"unsupported file type {shown} (supported: {', '.join(SUPPORTED_SUFFIXES)})")


def _load_file(path: Path, doc_id: str, max_bytes: int) -> tuple[list[Document], list[SkippedFile]]:
    if _SURROGATE.search(str(path)):  # undecodable bytes in the name: it could not be stored as an id
        raise DocumentError("the file name is not valid UTF-8; rename the file")
    _check_suffix(path.name)
    size = path.stat().st_size
    if size > max_bytes:
        raise DocumentError(f"file too large ({size / 1e6:.1f} MB > {max_bytes / 1e6:.0f} MB)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"cannot read: {exc.strerror}") from None
    if path.suffix.lower() == ".jsonl":
        return _parse_jsonl(path, data)
    return [_parse(path.suffix.lower(), data, doc_id, _display(path))], []


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path.resolve())


def _parse(suffix: str, data: bytes, doc_id: str, source: str) -> Document:
    extracted = extract(suffix, data)
    cleaned = clean_text(extracted.text)
    text, anchors = locate(cleaned.text)
    text = text.rstrip()
    if not text.strip():
        raise DocumentError("empty document (no text after cleaning)")
    found = {k: locate(v)[0] if isinstance(v, str) else v for k, v in cleaned.metadata.items()}
    metadata = {**found, **{k: v for k, v in extracted.metadata.items() if v}, "path": source,
                "type": _TYPES[suffix], "bytes": len(data)}
    if extracted.pages:
        # Page n starts at page_starts[n - 1]; a page with no text starts where the next text does.
        metadata["pages"] = extracted.pages
        metadata["page_starts"] = [0] + [min(anchors.get(("p", n), len(text)), len(text))
                                         for n in range(1, extracted.pages)]
    if extracted.sections:
        metadata["sections"] = [[anchors[("s", i)], s.level, s.heading] for i, s in enumerate(extracted.sections)
                                if ("s", i) in anchors and anchors[("s", i)] < len(text)]
    title = extracted.title or (locate(cleaned.title)[0] if cleaned.title else None)
    title = plain_title(title or "") or Path(doc_id).stem.replace("-", " ").replace("_", " ")
    return Document(id=doc_id, title=title, text=text, source=source, metadata=metadata)


def _parse_jsonl(path: Path, data: bytes) -> tuple[list[Document], list[SkippedFile]]:
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
        except ValueError as exc:
            reason = f"bad JSON ({exc})" if isinstance(exc, json.JSONDecodeError) else str(exc)
            log.warning("skipped %s: %s", where, reason)
            skipped.append(SkippedFile(where, reason))
            continue
        cleaned = clean_text(body)
        if not cleaned.text:
            log.warning("skipped %s: empty document", where)
            skipped.append(SkippedFile(where, "empty document"))
            continue
        ids.add(str(doc_id))
        extra = {k: v for k, v in item.items() if k not in ("id", "title", "text") and isinstance(v, (str, int, float, bool))}
        docs.append(Document(id=str(doc_id), title=str(item.get("title") or ""), text=cleaned.text,
                             source=f"{_display(path)}:{lineno}",
                             metadata={**cleaned.metadata, **extra, "path": _display(path), "type": "jsonl"}))
    if not docs and not skipped:
        raise DocumentError("empty document")
    return docs, skipped
