"""The index on disk: one directory per version, and a `CURRENT` file naming the live one.

    <index_dir>/CURRENT            name of the live version, replaced atomically
    <index_dir>/v<time>-<id>/      manifest.json, chunks.jsonl (+ chunks.offsets.npy), vectors.npy,
                                   vectors.faiss, bm25/

A new version is written in a temporary sibling, fsynced, renamed into place, and only then
published by replacing `CURRENT` (rename is atomic on POSIX). A crash at any moment leaves the
previous version live and whole; readers that opened the previous version keep working because
one older version is kept. Writers take an exclusive lock so two `rag index` runs cannot
interleave.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .chunk_store import ChunkStore, write_chunks
from .embedders import Embedder
from .errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError
from .indexes import VectorIndex, build_index, load_index
from .lexical import BM25Index
from .records import Chunk

FORMAT_VERSION = 1
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"
CHUNK_OFFSETS = "chunks.offsets.npy"
VECTORS = "vectors.npy"
FAISS = "vectors.faiss"
BM25_DIR = "bm25"
REQUIRED = (MANIFEST, CHUNKS, VECTORS, FAISS, BM25_DIR)


@dataclass(frozen=True)
class Manifest:
    embedder: dict[str, Any]
    chunker: dict[str, Any]
    documents: dict[str, dict[str, Any]]
    n_chunks: int
    index_type: str
    built_at: float = field(default_factory=time.time)
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "built_at": self.built_at,
            "embedder": self.embedder,
            "chunker": self.chunker,
            "index_type": self.index_type,
            "n_chunks": self.n_chunks,
            "documents": self.documents,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Manifest":
        return cls(embedder=data["embedder"], chunker=data["chunker"], documents=data["documents"],
                   n_chunks=int(data["n_chunks"]), index_type=data["index_type"],
                   built_at=float(data["built_at"]), format_version=int(data["format_version"]))

    def check_embedder(self, embedder: Embedder, chunker: dict[str, Any], index_dir: Path | str = "") -> None:
        """`check_compatible` for a live embedder. When the models differ, the configured one is
        loaded first: if it does not exist, "rebuild the index" would be the wrong advice, and
        its ModelNotFoundError is the error to fix."""
        if embedder.name != self.embedder.get("name"):
            _ = embedder.dim
        self.check_compatible(embedder.name, chunker, index_dir)

    def check_compatible(self, embedder: str, chunker: dict[str, Any], index_dir: Path | str = "") -> None:
        """Raise with every difference spelled out and the command that fixes it."""
        diffs = []
        if self.embedder.get("name") != embedder:
            diffs.append(f"embedding model: index has {self.embedder.get('name')!r}, config has {embedder!r}")
        for key, want in chunker.items():
            have = self.chunker.get(key)
            if have != want:
                diffs.append(f"{key}: index has {have!r}, config has {want!r}")
        if diffs:
            where = f" --index {index_dir}" if index_dir else ""
            raise IndexMismatchError(
                "the index was built with other settings (" + "; ".join(diffs) + "). "
                f"Rebuild it with `rag index --rebuild{where}` or change the config back."
            )


@dataclass
class IndexSnapshot:
    """One loaded version: what the retriever searches."""

    path: Path
    manifest: Manifest
    chunks: Sequence[Chunk]
    vectors: np.ndarray
    vector_index: VectorIndex
    bm25: BM25Index


class IndexStore:
    def __init__(self, root: Path | str):
        self.root = Path(root)

    def exists(self) -> bool:
        return (self.root / CURRENT).is_file()

    def current_path(self) -> Path:
        pointer = self.root / CURRENT
        if not pointer.is_file():
            if self.root.is_dir() and any(p.is_dir() for p in self.root.glob("v*")):
                raise IndexCorruptError(f"{self.root} holds no live index (CURRENT is missing); "
                                        f"rebuild it with `rag index --rebuild --index {self.root}`")
            raise IndexNotFoundError(f"no index at {self.root}; build one with `rag index --index {self.root}`")
        name = pointer.read_text(encoding="utf-8").strip()
        path = self.root / name
        if not name or "/" in name or not path.is_dir():
            raise IndexCorruptError(f"{self.root}/CURRENT points to a missing version {name!r}; "
                                    f"rebuild with `rag index --rebuild --index {self.root}`")
        return path

    def read_manifest(self) -> Manifest:
        return _read_manifest(self.current_path())

    def load(self, *, mmap: bool = True) -> IndexSnapshot:
        path = self.current_path()
        manifest = _read_manifest(path)
        missing = [name for name in REQUIRED if not (path / name).exists()]
        if missing:
            raise IndexCorruptError(f"index version {path} is missing {', '.join(missing)}; "
                                    f"rebuild with `rag index --rebuild --index {self.root}`")
        chunks = ChunkStore(path / CHUNKS, path / CHUNK_OFFSETS)
        try:
            vectors = np.load(path / VECTORS, mmap_mode="r" if mmap else None)
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(f"cannot read {path / VECTORS} ({exc}); rebuild with `rag index --rebuild --index {self.root}`") from None
        try:
            vector_index = load_index(path / FAISS)
            bm25 = BM25Index.load(path / BM25_DIR)
        except IndexCorruptError as exc:
            raise IndexCorruptError(f"{exc}; rebuild with `rag index --rebuild --index {self.root}`") from None
        counts = {"chunks": len(chunks), "vectors": len(vectors), "vector index": len(vector_index),
                  "bm25": len(bm25), "manifest": manifest.n_chunks}
        if len(set(counts.values())) != 1:
            raise IndexCorruptError(f"index {path} is inconsistent ({counts}); "
                                    f"rebuild with `rag index --rebuild --index {self.root}`")
        return IndexSnapshot(path, manifest, chunks, vectors, vector_index, bm25)

    def write(self, manifest: Manifest, chunks: Sequence[Chunk], vectors: np.ndarray, *,
              approx_threshold: int = 200_000, previous: VectorIndex | None = None) -> Path:
        """Write a complete new version and make it live. Call under `lock()`.

        `previous` is the live version's vector index: an approximate index reuses its training.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temporaries()
        name = f"v{time.time_ns()}-{uuid.uuid4().hex[:6]}"
        tmp = self.root / f"tmp-{name}"
        tmp.mkdir()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        # An index emptied by removing its last document keeps its width: (0, dim) cannot be inferred.
        vectors = vectors.reshape(len(chunks), vectors.shape[-1] if vectors.ndim == 2 and not len(chunks) else -1)
        np.save(tmp / VECTORS, vectors)
        index = build_index(vectors, manifest.index_type, approx_threshold, previous)
        index.save(tmp / FAISS)
        BM25Index.build([c.text for c in chunks]).save(tmp / BM25_DIR)
        write_chunks(chunks, tmp / CHUNKS, tmp / CHUNK_OFFSETS)
        final_manifest = Manifest(**{**manifest.__dict__, "index_type": index.kind, "n_chunks": len(chunks)})
        # The manifest goes last: a version without one is never considered complete.
        (tmp / MANIFEST).write_text(json.dumps(final_manifest.to_dict(), indent=1, ensure_ascii=False),
                                    encoding="utf-8")
        _fsync_tree(tmp)
        os.rename(tmp, self.root / name)
        _fsync_dir(self.root)
        pointer_tmp = self.root / f"tmp-{name}.CURRENT"
        with open(pointer_tmp, "w", encoding="utf-8") as fh:
            fh.write(name + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(pointer_tmp, self.root / CURRENT)
        _fsync_dir(self.root)
        self._remove_old_versions(keep={name})
        return self.root / name

    @contextmanager
    def lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _remove_stale_temporaries(self) -> None:
        for p in self.root.glob("tmp-*"):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)

    def _remove_old_versions(self, keep: set[str]) -> None:
        # Keep the newest previous version too: a reader may have just opened it.
        versions = sorted((p for p in self.root.glob("v*") if p.is_dir()), key=lambda p: p.name)
        old = [p for p in versions if p.name not in keep]
        for p in old[:-1]:
            shutil.rmtree(p, ignore_errors=True)


def _read_manifest(path: Path) -> Manifest:
    try:
        data = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexCorruptError(f"{path} has no {MANIFEST}; rebuild with `rag index --rebuild`") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise IndexCorruptError(f"{path / MANIFEST} is not valid JSON ({exc}); rebuild with `rag index --rebuild`") from None
    version = data.get("format_version") if isinstance(data, dict) else None
    if version != FORMAT_VERSION:
        raise IndexCorruptError(f"{path} has index format version {version!r}, which this version of rag does not "
                                f"read (it reads {FORMAT_VERSION}); rebuild with "
                                f"`rag index --rebuild --index {path.parent}`")
    try:
        return Manifest.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexCorruptError(f"{path / MANIFEST} is missing {exc}; rebuild with `rag index --rebuild`") from None


def _fsync_tree(root: Path) -> None:
    for dirpath, _, files in os.walk(root):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as fh:
                os.fsync(fh.fileno())
        _fsync_dir(Path(dirpath))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
