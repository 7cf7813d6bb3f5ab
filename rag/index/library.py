"""The document library: what is indexed, as typed records, and removing documents from it.

The index manifest is the catalogue: one entry a document with its title, source, chunk count,
metadata and when it was added and last updated. Removal is one atomic index update; a file that
an upload stored under `<corpus>/uploads/` goes with it, a file anywhere else is the user's.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.core.errors import DocumentNotFoundError
from rag.index.store import Manifest

UPLOAD_DIR = "uploads"  # the folder under the corpus where uploads are stored (see rag.indexing.uploads)


@dataclass(frozen=True)
class DocumentInfo:
    id: str
    title: str
    source: str
    type: str = ""
    chunks: int = 0
    pages: int | None = None  # documents with pages (PDF) only
    size: int | None = None  # bytes of the file it was read from
    added_at: float | None = None  # Unix times; None in indexes built before they were recorded
    updated_at: float | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    parent: str | None = None  # the document this one came with (an e-mail, for its attachments)

    @classmethod
    def from_entry(cls, doc_id: str, entry: Mapping[str, Any]) -> "DocumentInfo":
        meta = dict(entry.get("metadata") or {})
        pages, size = meta.get("pages"), meta.get("bytes")
        return cls(id=doc_id, title=str(entry.get("title") or ""), source=str(entry.get("source") or ""),
                   type=str(meta.get("type", "")), chunks=int(entry.get("n_chunks", 0)),
                   pages=pages if isinstance(pages, int) else None, size=size if isinstance(size, int) else None,
                   added_at=_time(entry.get("added_at")), updated_at=_time(entry.get("updated_at")),
                   metadata=meta, parent=str(meta["parent"]) if meta.get("parent") else None)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "source": self.source, "type": self.type,
                "chunks": self.chunks, "pages": self.pages, "size": self.size,
                "added_at": format_time(self.added_at), "updated_at": format_time(self.updated_at),
                "parent": self.parent, "metadata": dict(self.metadata)}


@dataclass(frozen=True)
class Removal:
    """What `remove_documents` did."""

    removed: tuple[str, ...]
    deleted_files: tuple[str, ...] = ()  # uploads deleted with their documents
    kept_files: tuple[str, ...] = ()  # the user's own files, left in place
    n_chunks: int = 0  # chunks left in the index

    def messages(self, *, full_paths: bool = True) -> list[str]:
        """One line per thing done; `full_paths=False` names deleted uploads by file name only
        (for a web page, which has no business showing the server's folders)."""
        lines = [f"removed {doc_id}" for doc_id in self.removed]
        lines += [f"deleted the uploaded file {path if full_paths else Path(path).name}" for path in self.deleted_files]
        lines += [f"left {path} in place: delete it, or it will be indexed again by the next `rag index`"
                  for path in self.kept_files]
        return lines


def list_documents(manifest: Manifest) -> list[DocumentInfo]:
    return [DocumentInfo.from_entry(doc_id, entry) for doc_id, entry in sorted(manifest.documents.items())]


def with_children(manifest: Manifest, doc_ids: list[str]) -> list[str]:
    """`doc_ids` and the documents that came with them (an e-mail's attachments): these go when
    their parent goes, as they would with its file."""
    children = [d for d, entry in manifest.documents.items()
                if (entry.get("metadata") or {}).get("parent") in doc_ids and d not in doc_ids]
    return doc_ids + children


def find_document(manifest: Manifest, doc_id: str) -> DocumentInfo:
    entry = manifest.documents.get(doc_id)
    if entry is None:
        raise DocumentNotFoundError(f"no document {doc_id!r} in the index; `rag docs` lists the ids")
    return DocumentInfo.from_entry(doc_id, entry)


def source_file(info: DocumentInfo) -> Path | None:
    """The user's file the document was read from, if it still exists."""
    if not info.source:
        return None
    path = Path(info.source)
    if info.type == "jsonl":  # "corpus/qa.jsonl:12"
        path = Path(info.source.rsplit(":", 1)[0])
    elif info.parent and isinstance(info.metadata.get("path"), str):  # an attachment: the e-mail's file
        path = Path(info.metadata["path"])
    return path if path.is_file() else None


def format_time(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t else ""


def format_size(n: int | None) -> str:
    if n is None:
        return ""
    for unit in ("B", "KB", "MB"):
        if n < 1024 or unit == "MB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def _time(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
