"""Add documents while the app runs: validate, store safely under the corpus, index incrementally."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import DocumentError
from .indexer import Indexer
from .loaders import load_text_document
from .records import Document

UPLOAD_DIR = "uploads"
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str) -> str:
    """The file's own name only, in a conservative alphabet: no directories, no hidden files."""
    base = re.split(r"[\\/]", name)[-1]
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = _UNSAFE.sub("-", stem).strip(".-")[:80] or "upload"
    suffix = _UNSAFE.sub("", suffix)[:10].lower()
    return f"{stem}.{suffix}" if suffix else stem


@dataclass(frozen=True)
class Ingested:
    document: Document
    path: Path
    chunks: int


def ingest(name: str, data: bytes, *, corpus_dir: Path, index_dir: Path, indexer: Indexer,
           max_bytes: int = MAX_UPLOAD_BYTES) -> Ingested:
    """Parse first (nothing is stored when a file is bad), then store and index just this document."""
    if len(data) > max_bytes:
        raise DocumentError(f"{name}: file too large ({len(data) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB)")
    filename = safe_filename(name)
    folder = (Path(corpus_dir) / UPLOAD_DIR).resolve()
    target = folder / filename
    if target.parent != folder:  # belt and braces: the name cannot climb out of the folder
        raise DocumentError(f"{name}: not a usable file name")
    doc_id = f"{UPLOAD_DIR}/{filename}"
    document = load_text_document(filename, data, doc_id=doc_id, max_bytes=max_bytes)
    document = Document(id=doc_id, title=document.title, text=document.text, source=str(target),
                        metadata={**document.metadata, "path": doc_id})
    folder.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{filename}.part")
    tmp.write_bytes(data)
    tmp.replace(target)
    report = indexer.sync([document], index_dir, remove_missing=False)
    return Ingested(document, target, report.embedded_chunks)
