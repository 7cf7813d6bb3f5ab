"""The index on disk: one directory per version, and a `CURRENT` file naming the live one.

    <index_dir>/.rag-owned.json    the ledger: every entry rag created here (see rag.ownership)
    <index_dir>/CURRENT            name of the live version, replaced atomically
    <index_dir>/v<time>-<id>/      manifest.json, chunks.jsonl (+ chunks.offsets.npy), vectors.npy,
                                   vectors.faiss, bm25/

rag writes only into a directory that is new, empty, or already an index, and removes only
entries its ledger lists: never a user's file, whatever its name.

A new version is written in a temporary sibling, fsynced, renamed into place, and only then
published by replacing `CURRENT` (rename is atomic on POSIX). A crash at any moment leaves the
previous version live and whole; readers that opened the previous version keep working because
one older version is kept. Writers take an exclusive lock so two `rag index` runs cannot
interleave.
"""

from __future__ import annotations

import json
import logging
import os
import re
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
from .errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError, RagError
from .indexes import VectorIndex, build_index, load_index
from .lexical import BM25Index
from .ownership import LEDGER, OwnedDir, write_error
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
VERSION_NAME = re.compile(r"v\d+-[0-9a-f]{6}")
_LOAD_ATTEMPTS = 3

log = logging.getLogger("rag.index")


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
    """An index directory. It writes and deletes only entries its ledger lists (rag.ownership)."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.owned = OwnedDir(self.root, "index")

    def exists(self) -> bool:
        return (self.root / CURRENT).is_file()

    def current_path(self) -> Path:
        pointer = self.root / CURRENT
        if self.root.exists() and not self.root.is_dir():
            raise IndexNotFoundError(f"{self.root} is a file, not an index directory; point --index at a directory")
        try:
            raw = pointer.read_bytes()
        except FileNotFoundError:
            if any(VERSION_NAME.fullmatch(n) and (self.root / n).is_dir() for n in self._owned_names()):
                raise IndexCorruptError(f"{self.root} holds no live index (CURRENT is missing); "
                                        f"rebuild it with `rag index --rebuild --index {self.root}`") from None
            if self.root.is_dir() and any(self.root.iterdir()):
                raise IndexNotFoundError(f"{self.root} is not an index directory (it holds other files); build an "
                                         f"index in a new directory with `rag index --index NEW_DIR`") from None
            raise IndexNotFoundError(f"no index at {self.root}; build one with `rag index --index {self.root}`") from None
        except OSError as exc:
            raise IndexCorruptError(f"{pointer} is damaged ({exc.strerror or exc}); {_rebuild(self.root)}") from None
        try:
            name = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise IndexCorruptError(f"{pointer} is damaged (not a version name); {_rebuild(self.root)}") from None
        path = self.root / name
        if not VERSION_NAME.fullmatch(name) or not path.is_dir():
            raise IndexCorruptError(f"{pointer} points to a missing version {name[:80]!r}; {_rebuild(self.root)}")
        return path

    def read_manifest(self) -> Manifest:
        return _read_manifest(self.current_path())

    def load(self, *, mmap: bool = True) -> IndexSnapshot:
        for attempt in range(_LOAD_ATTEMPTS):
            path = self.current_path()
            try:
                return self._load_version(path, mmap)
            except (IndexCorruptError, OSError) as exc:
                # A writer may have published a newer version and collected this one while it was
                # being opened: that is not damage, so read the live one instead.
                if attempt + 1 < _LOAD_ATTEMPTS and self._moved_on_from(path):
                    continue
                if isinstance(exc, OSError):
                    raise IndexCorruptError(f"cannot read {exc.filename or path} ({exc.strerror or exc}); "
                                            f"{_rebuild(self.root)}") from None
                raise
        raise AssertionError("unreachable")

    def _owned_names(self) -> list[str]:
        try:
            return list(self.owned.entries())
        except RagError:
            return []

    def _moved_on_from(self, path: Path) -> bool:
        try:
            return self.current_path() != path
        except RagError:
            return False

    def _load_version(self, path: Path, mmap: bool) -> IndexSnapshot:
        manifest = _read_manifest(path)
        missing = [name for name in REQUIRED if not (path / name).exists()]
        if missing:
            raise IndexCorruptError(f"index version {path} is missing {', '.join(missing)}; {_rebuild(self.root)}")
        chunks = ChunkStore(path / CHUNKS, path / CHUNK_OFFSETS)
        try:
            vectors = np.load(path / VECTORS, mmap_mode="r" if mmap else None)
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(f"cannot read {path / VECTORS} ({exc}); {_rebuild(self.root)}") from None
        try:
            vector_index = load_index(path / FAISS)
            bm25 = BM25Index.load(path / BM25_DIR)
        except IndexCorruptError as exc:
            raise IndexCorruptError(f"{exc}; {_rebuild(self.root)}") from None
        counts = {"chunks": len(chunks), "vectors": len(vectors), "vector index": len(vector_index),
                  "bm25": len(bm25), "manifest": manifest.n_chunks}
        if len(set(counts.values())) != 1:
            raise IndexCorruptError(f"index {path} is inconsistent ({counts}); {_rebuild(self.root)}")
        return IndexSnapshot(path, manifest, chunks, vectors, vector_index, bm25)

    def write(self, manifest: Manifest, chunks: Sequence[Chunk], vectors: np.ndarray, *,
              approx_threshold: int = 200_000, previous: VectorIndex | None = None) -> Path:
        """Write a complete new version and make it live. Call under `lock()`.

        `previous` is the live version's vector index: an approximate index reuses its training.
        On any failure (disk full, read-only, a crash in a builder) everything this call created
        is removed and the previous version stays live.
        """
        self._claim()
        self._remove_stale_temporaries()
        name = f"v{time.time_ns()}-{uuid.uuid4().hex[:6]}"
        tmp, pointer_tmp = self.root / f"tmp-{name}", self.root / f"tmp-{name}.CURRENT"
        self.owned.record(tmp.name, name, pointer_tmp.name, CURRENT)
        published = False
        try:
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
            with open(pointer_tmp, "w", encoding="utf-8") as fh:
                fh.write(name + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(pointer_tmp, self.root / CURRENT)
            published = True
            _fsync_dir(self.root)
        except BaseException as exc:
            self._discard(tmp.name, pointer_tmp.name, *(() if published else (name,)))
            if isinstance(exc, OSError) and not published:
                raise write_error(self.root, exc) from None
            if not published:
                raise
        self._collect_garbage(live=name)
        return self.root / name

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Claim the directory (new, empty, or an index already) and hold its writer lock."""
        self._claim()
        with self.owned.lock():
            yield

    def _claim(self) -> None:
        """An index written before ledgers existed is adopted: its pointer, lock and live version
        become the ledger's, and anything else in the directory stays unowned and untouched."""
        legacy: list[str] = []
        if not self.owned.is_claimed() and is_index_dir(self.root):
            legacy = [CURRENT, ".lock", self.current_path().name]
        self.owned.claim(adopt=legacy, allow_foreign=bool(legacy))

    def _discard(self, *names: str) -> None:
        try:
            self.owned.delete(*names)
        except (OSError, RagError):
            log.warning("could not remove %s from %s; it is removed by the next index run", names, self.root)

    def _remove_stale_temporaries(self) -> None:
        # Under the lock no other writer is running, so any listed temporary is a crash's leftover.
        self._discard(*(n for n in self.owned.entries() if n.startswith("tmp-")))

    def _collect_garbage(self, live: str) -> None:
        # Keep the newest previous version too: a reader may have just opened it.
        versions = sorted(n for n in self.owned.entries() if VERSION_NAME.fullmatch(n) and n != live)
        self._discard(*versions[:-1])


def is_index_dir(path: Path) -> bool:
    """An index directory, ledgered or written before ledgers (a CURRENT naming a version)."""
    kind = OwnedDir(path, "index").kind_on_disk() if (path / LEDGER).is_file() else None
    if kind is not None:
        return kind == "index"  # an upload folder keeps a ledger too
    try:
        name = (path / CURRENT).read_text(encoding="utf-8").strip()
    except (OSError, ValueError):
        return False
    return bool(VERSION_NAME.fullmatch(name)) and (path / name / MANIFEST).is_file()


def _rebuild(root: Path) -> str:
    return f"rebuild with `rag index --rebuild --index {root}`"


def _read_manifest(path: Path) -> Manifest:
    fix = _rebuild(path.parent)
    try:
        data = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexCorruptError(f"{path} has no {MANIFEST}; {fix}") from None
    except OSError as exc:
        raise IndexCorruptError(f"cannot read {path / MANIFEST} ({exc.strerror or exc}); {fix}") from None
    except ValueError as exc:  # UnicodeDecodeError included
        raise IndexCorruptError(f"{path / MANIFEST} is not valid JSON ({str(exc)[:100]}); {fix}") from None
    version = data.get("format_version") if isinstance(data, dict) else None
    if version != FORMAT_VERSION:
        raise IndexCorruptError(f"{path} has index format version {version!r}, which this version of rag does not "
                                f"read (it reads {FORMAT_VERSION}); {fix}")
    try:
        return Manifest.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexCorruptError(f"{path / MANIFEST} is missing {exc}; {fix}") from None


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
