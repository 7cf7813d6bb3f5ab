"""The index on disk: immutable segments, one directory per version, and a `CURRENT` file
naming the live version.

    <index_dir>/.rag-owned.json     the ledger: every entry rag created here (see rag.safety.ownership)
    <index_dir>/CURRENT             name of the live version, replaced atomically
    <index_dir>/v<time>-<id>/       one version (a commit point):
        manifest.json               embedder, chunker, the live segments in order and the documents
                                    deleted from each since it was written (tombstones)
        segments/s<time>-<id>/      the segments (rag.index.segments); a segment is written once, by the
                                    version that adds it, and later versions hard-link its files

An update writes one small segment with the new or changed documents and tombstones for the
removed or replaced ones; unchanged segments are shared by hard link, never rewritten. Merges
(rag.index.merge_policy) fold small segments together and drop deleted rows, each published as a version
of its own. Search over many segments scores exactly as over one (rag.index.segments, rag.index.bm25).

rag writes only into a directory that is new, empty, or already an index, and removes only
entries its ledger lists: never a user's file, whatever its name.

A new version is written in a temporary sibling, fsynced, renamed into place, and only then
published by replacing `CURRENT` (rename is atomic on POSIX). A crash at any moment leaves the
previous version live and whole; readers that opened the previous version keep working because
one older version is kept, and a version's segment files are its own links, so removing an old
version never touches what another version uses. Writers take an exclusive lock so two
`rag index` runs cannot interleave.

Format 1 indexes (one whole index per version, before segments) are read as they are and
become a single segment on their next update.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from rag.core.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError, RagError
from rag.core.records import Chunk
from rag.embedders import Embedder
from rag.embedders.precision import DEFAULT_VARIANT, mixable
from rag.index import npy
from rag.index.bm25 import Bm25sIndex, TermStats
from rag.index.chunk_store import ChunkStore
from rag.index.merge_policy import next_merge
from rag.index.segments import (
    CHUNK_OFFSETS,
    CHUNKS,
    DOCUMENTS,
    FAISS,
    TERMS,
    VECTORS,
    LiveChunks,
    LiveParts,
    LiveVectorIndex,
    LiveVectors,
    Segment,
    SegmentRef,
    merge_segments,
    read_documents,
    write_segment,
)
from rag.index.sentence_vectors import PieceVectors, SentenceVectors
from rag.index.vectors import VectorIndex, load_index
from rag.safety.ownership import CURRENT, MANIFEST, VERSION_NAME, OwnedDir, is_index_dir, write_error

FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)
# Chunker settings added later (absent from older manifests) count as their defaults.
# What a setting an older manifest does not record meant then (no header before `context`).
CHUNKER_DEFAULTS = {"context": False}
SEGMENTS = "segments"
BM25_DIR = "bm25"  # format 1
LEGACY_REQUIRED = (MANIFEST, CHUNKS, VECTORS, FAISS, BM25_DIR)
SEGMENT_NAME = re.compile(r"s\d+-[0-9a-f]{6}")
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

    @property
    def variants(self) -> list[str]:
        """How the index's passage vectors were made (rag.embedders.precision); an index that
        records none was made by PyTorch in fp32."""
        recorded = self.embedder.get("variants") or [self.embedder.get("variant") or DEFAULT_VARIANT]
        return [str(v) for v in recorded]

    def check_variant(self, variant: str, index_dir: Path | str = "") -> None:
        """Raise when vectors made as `variant` may not join this index's."""
        if not mixable(self.variants, variant):
            where = f" --index {index_dir}" if index_dir else ""
            raise IndexMismatchError(
                f"the index holds passage vectors made as {', '.join(self.variants)}, which do not mix with "
                f"{variant}'s. Rebuild it with `rag index --rebuild{where}` or set passage_backend and passage_precision back.")

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
        for key in dict.fromkeys([*chunker, *self.chunker]):
            # A setting an older index does not record had its default value then.
            default = CHUNKER_DEFAULTS.get(key)
            have, want = self.chunker.get(key, default), chunker.get(key, default)
            if have != want:
                diffs.append(f"{key}: index has {have!r}, config has {want!r}")
        if diffs:
            where = f" --index {index_dir}" if index_dir else ""
            raise IndexMismatchError(
                "the index was built with other settings (" + "; ".join(diffs) + "). "
                f"Rebuild it with `rag index --rebuild{where}` or change the config back."
            )


@dataclass(frozen=True)
class VersionInfo:
    path: Path
    n_chunks: int
    segments: tuple[SegmentRef, ...]


@dataclass
class IndexSnapshot:
    """One loaded version: what the retriever searches."""

    path: Path
    manifest: Manifest
    chunks: Sequence[Chunk]
    vectors: np.ndarray
    vector_index: VectorIndex
    bm25: Any  # rag.index.bm25.LexicalIndex (Bm25sIndex for a format-1 index)
    segments: tuple[SegmentRef, ...] = ()
    # Sentence vectors stored with the chunks (rag.index.sentence_vectors); empty for older indexes.
    sentences: SentenceVectors = field(default_factory=lambda: SentenceVectors(()))


class IndexStore:
    """An index directory. It writes and deletes only entries its ledger lists (rag.safety.ownership)."""

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
            # Only rag's own ledger, lock or temporaries (a first `rag index` interrupted) is no index yet.
            if self.root.is_dir() and self.owned.unlisted():
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

    def version_info(self, path: Path | None = None) -> "VersionInfo":
        """Size and segments of a version (the live one by default), from its manifest alone."""
        path = path or self.current_path()
        header = _read_header(path)
        refs = () if header["format_version"] == 1 else tuple(_segment_refs(path, header))
        return VersionInfo(path, int(header["n_chunks"]), refs)

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
        header = _read_header(path)
        if header["format_version"] == 1:
            return self._load_legacy(path, header, mmap)
        refs = _segment_refs(path, header)
        fix = _rebuild(self.root)
        segments = []
        for ref in refs:
            where = path / SEGMENTS / ref.name
            if not where.is_dir():
                raise IndexCorruptError(f"index version {path} is missing its segment {ref.name}; {fix}")
            try:
                segments.append(Segment(where))
            except IndexCorruptError as exc:
                raise IndexCorruptError(f"{exc}; {fix}") from None
        parts = LiveParts(segments, [ref.deleted for ref in refs])
        documents: dict[str, dict[str, Any]] = {}
        for seg, ref in zip(segments, refs):
            deleted = set(ref.deleted)
            documents.update((d, dict(m)) for d, m in seg.documents.items() if d not in deleted)
        manifest = _manifest_from(header, documents)
        counts = {"live chunks": parts.n, "manifest": manifest.n_chunks,
                  "segment sizes": sum(len(s) for s in segments) - sum(r.n_chunks for r in refs) + parts.n}
        if len(set(counts.values())) != 1:
            raise IndexCorruptError(f"index {path} is inconsistent ({counts}); {fix}")
        dim = int(manifest.embedder.get("dim") or (segments[0].index.dim if segments else 0))
        if len(segments) == 1 and parts.live[0] is None:  # the common case: no indirection at all
            seg = segments[0]
            chunks, vectors, vector_index = seg.chunks, seg.vectors, seg.index
        else:
            chunks, vectors, vector_index = LiveChunks(parts), LiveVectors(parts, dim), LiveVectorIndex(parts)
        sentences = SentenceVectors([seg.sentences for seg in segments], parts)
        return IndexSnapshot(path, manifest, chunks, vectors, vector_index, parts.lexical(), tuple(refs), sentences)

    def _load_legacy(self, path: Path, header: dict[str, Any], mmap: bool) -> IndexSnapshot:
        manifest = _manifest_from(header, header.get("documents", {}))
        missing = [name for name in LEGACY_REQUIRED if not (path / name).exists()]
        if missing:
            raise IndexCorruptError(f"index version {path} is missing {', '.join(missing)}; {_rebuild(self.root)}")
        chunks = ChunkStore(path / CHUNKS, path / CHUNK_OFFSETS)
        try:
            vectors = npy.load(path / VECTORS, mmap_mode="r" if mmap else None)
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(f"cannot read {path / VECTORS} ({exc}); {_rebuild(self.root)}") from None
        try:
            vector_index = load_index(path / FAISS)
            bm25 = Bm25sIndex.load(path / BM25_DIR)
        except IndexCorruptError as exc:
            raise IndexCorruptError(f"{exc}; {_rebuild(self.root)}") from None
        counts = {"chunks": len(chunks), "vectors": len(vectors), "vector index": len(vector_index),
                  "bm25": len(bm25), "manifest": manifest.n_chunks}
        if len(set(counts.values())) != 1:
            raise IndexCorruptError(f"index {path} is inconsistent ({counts}); {_rebuild(self.root)}")
        return IndexSnapshot(path, manifest, chunks, vectors, vector_index, bm25)

    # --- writing: call these under `lock()` ---

    def write(self, manifest: Manifest, chunks: Sequence[Chunk], vectors: np.ndarray, *,
              approx_threshold: int = 200_000, previous: VectorIndex | None = None,
              sentences: PieceVectors | None = None) -> Path:
        """Replace the whole index with one segment holding `chunks` and make it live.

        `previous` is the live version's vector index: an approximate index reuses its training.
        On any failure (disk full, read-only, a crash in a builder) everything this call created
        is removed and the previous version stays live.
        """
        self._claim()
        name = _new_name("s")
        dim = _dim(manifest, vectors)
        ref = SegmentRef(name, len(chunks), len(chunks))
        return self._publish(manifest, [ref], {name: lambda dst: write_segment(
            dst, chunks, vectors, manifest.documents, dim=dim, index_type=manifest.index_type,
            approx_threshold=approx_threshold, previous=previous, sentences=sentences)}, base=None)

    def update(self, manifest: Manifest, chunks: Sequence[Chunk], vectors: np.ndarray, *,
               replaced: Collection[str] = (), approx_threshold: int = 200_000,
               sentences: PieceVectors | None = None) -> Path:
        """Publish a version holding `manifest.documents`: documents it no longer lists, and those
        in `replaced`, get tombstones; `chunks` (of the documents not yet live, and of `replaced`)
        go into one new segment. Every other segment is shared with the live version as it is."""
        self._claim()
        base = self._migrated(self.current_path())
        refs = _segment_refs(base, _read_header(base))
        replaced = set(replaced)
        live_docs: set[str] = set()
        new_refs = []
        for ref in refs:
            docs, rows = _segment_documents(base, ref, self.root)
            deleted = set(ref.deleted)
            mine = set(docs) - deleted
            live_docs |= mine
            gone = {d for d in mine if d not in manifest.documents or d in replaced}
            if gone == mine and mine:
                continue  # nothing of it stays live: the new version simply does not list it
            dead_rows = sum(rows[d][1] - rows[d][0] for d in gone if d in rows)
            new_refs.append(SegmentRef(ref.name, ref.n_chunks, ref.live - dead_rows, tuple(sorted(deleted | gone))))
        added = {d: m for d, m in manifest.documents.items() if d not in live_docs or d in replaced}
        new: dict[str, Callable[[Path], object]] = {}
        if added or len(chunks):
            name = _new_name("s")
            dim = _dim(manifest, vectors)
            new_refs.append(SegmentRef(name, len(chunks), len(chunks)))
            new[name] = lambda dst: write_segment(dst, chunks, vectors, added, dim=dim,
                                                  index_type=manifest.index_type, approx_threshold=approx_threshold,
                                                  sentences=sentences)
        return self._publish(manifest, new_refs, new, base=base)

    def merge(self, *, full: bool = False, approx_threshold: int = 200_000) -> int:
        """Merge segments as the policy asks (rag.index.merge_policy), or all into one with `full`; each
        merge is published as a version of its own. Returns the number of merges."""
        self._claim()
        merges = 0
        while True:
            base = self.current_path()
            if full:
                base = self._migrated(base)
            header = _read_header(base)
            if header["format_version"] == 1:
                return merges
            refs = _segment_refs(base, header)
            if full:
                run = (0, len(refs)) if len(refs) > 1 or any(r.deleted for r in refs) else None
            else:
                run = next_merge([r.live for r in refs], [r.n_chunks for r in refs])
            if run is None:
                return merges
            start, end = run
            manifest = _manifest_from(header, {})
            merged = refs[start:end]
            try:
                segments = [(Segment(base / SEGMENTS / r.name), r.deleted) for r in merged]
            except IndexCorruptError as exc:
                raise IndexCorruptError(f"{exc}; {_rebuild(self.root)}") from None
            name = _new_name("s")
            live = sum(r.live for r in merged)
            dim = _dim(manifest, None)
            self._publish(manifest, [*refs[:start], SegmentRef(name, live, live), *refs[end:]],
                          {name: partial(merge_segments, parts=segments, dim=dim, index_type=manifest.index_type,
                                         approx_threshold=approx_threshold)}, base=base)
            merges += 1
            if full:
                return merges

    def _migrated(self, base: Path) -> Path:
        """A format-1 version becomes one segment (its files linked, its BM25 statistics computed
        once from the chunk texts), published as a version of its own."""
        header = _read_header(base)
        if header["format_version"] != 1:
            return base
        snapshot = self._load_legacy(base, header, mmap=True)
        rows: dict[str, list[int]] = {}
        texts = []
        for i, c in enumerate(snapshot.chunks):
            span = rows.setdefault(c.doc_id, [i, i])
            if span[1] != i:
                raise IndexCorruptError(f"{base} keeps the chunks of {c.doc_id!r} apart, which this version of rag "
                                        f"cannot convert; {_rebuild(self.root)}")
            span[1] = i + 1
            texts.append(c.text)
        manifest = snapshot.manifest

        def convert(dst: Path) -> None:
            dst.mkdir()
            for file in (CHUNKS, VECTORS, FAISS):
                _link(base / file, dst / file)
            if (base / CHUNK_OFFSETS).is_file():
                _link(base / CHUNK_OFFSETS, dst / CHUNK_OFFSETS)
            else:
                np.save(dst / CHUNK_OFFSETS, np.asarray(snapshot.chunks._offsets))
            TermStats.build(texts).save(dst / TERMS)
            (dst / DOCUMENTS).write_text(json.dumps({"documents": manifest.documents, "rows": rows},
                                                    ensure_ascii=False), encoding="utf-8")

        name = _new_name("s")
        n = manifest.n_chunks
        return self._publish(manifest, [SegmentRef(name, n, n)], {name: convert}, base=None)

    def _publish(self, manifest: Manifest, refs: Sequence[SegmentRef], new: dict[str, Callable[[Path], object]],
                 base: Path | None) -> Path:
        """Write a version listing `refs` (segments in `new` are written, the others linked from
        `base`) and make it live; on failure remove everything this call created."""
        self._remove_stale_temporaries()
        name = _new_name("v")
        tmp, pointer_tmp = self.root / f"tmp-{name}", self.root / f"tmp-{name}.CURRENT"
        self.owned.record(tmp.name, name, pointer_tmp.name, CURRENT)
        published = False
        try:
            tmp.mkdir()
            (tmp / SEGMENTS).mkdir()
            for ref in refs:
                if ref.name in new:
                    new[ref.name](tmp / SEGMENTS / ref.name)
                else:
                    assert base is not None
                    _link_tree(base / SEGMENTS / ref.name, tmp / SEGMENTS / ref.name)
            header = {"format_version": FORMAT_VERSION, "built_at": time.time(), "embedder": manifest.embedder,
                      "chunker": manifest.chunker, "index_type": manifest.index_type,
                      "n_chunks": sum(r.live for r in refs), "segments": [r.to_dict() for r in refs]}
            # The manifest goes last: a version without one is never considered complete.
            (tmp / MANIFEST).write_text(json.dumps(header, indent=1, ensure_ascii=False), encoding="utf-8")
            _fsync_tree(tmp, skip={tmp / SEGMENTS / r.name for r in refs if r.name not in new})
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
            # No other writer now: a temporary version on disk is what an interrupted one left.
            self._remove_stale_temporaries(on_disk_only=True)
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

    def _remove_stale_temporaries(self, on_disk_only: bool = False) -> None:
        # Under the lock no other writer is running, so any listed temporary is a crash's leftover.
        # (`on_disk_only`: entries of temporaries already gone stay listed until the next publish,
        # so a run that changes nothing rewrites nothing, not even the ledger.)
        self._discard(*(n for n in self.owned.entries() if n.startswith("tmp-")
                        and (not on_disk_only or os.path.lexists(self.root / n))))

    def _collect_garbage(self, live: str) -> None:
        # Keep the newest previous version too: a reader may have just opened it.
        versions = sorted(n for n in self.owned.entries() if VERSION_NAME.fullmatch(n) and n != live)
        self._discard(*versions[:-1])


def _rebuild(root: Path) -> str:
    return f"rebuild with `rag index --rebuild --index {root}`"


def _read_header(path: Path) -> dict[str, Any]:
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
    if version not in READABLE_FORMATS or isinstance(version, bool):
        raise IndexCorruptError(f"{path} has index format version {version!r}, which this version of rag does not "
                                f"read (it reads {', '.join(map(str, READABLE_FORMATS))}); {fix}")
    try:
        _manifest_from(data, data.get("documents", {}))
        if version != 1:
            _segment_refs(path, data)
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexCorruptError(f"{path / MANIFEST} is missing {exc}; {fix}") from None
    return data


def _manifest_from(header: dict[str, Any], documents: dict[str, dict[str, Any]]) -> Manifest:
    return Manifest(embedder=header["embedder"], chunker=header["chunker"], documents=documents,
                    n_chunks=int(header["n_chunks"]), index_type=header["index_type"],
                    built_at=float(header["built_at"]), format_version=int(header["format_version"]))


def _segment_refs(path: Path, header: dict[str, Any]) -> list[SegmentRef]:
    try:
        refs = [SegmentRef.from_dict(r) for r in header["segments"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexCorruptError(f"{path / MANIFEST} lists its segments wrongly ({exc}); "
                                f"{_rebuild(path.parent)}") from None
    if any(not SEGMENT_NAME.fullmatch(r.name) for r in refs) or len({r.name for r in refs}) != len(refs):
        raise IndexCorruptError(f"{path / MANIFEST} names a segment wrongly; {_rebuild(path.parent)}")
    return refs


def _segment_documents(version: Path, ref: SegmentRef, root: Path):
    try:
        return read_documents(version / SEGMENTS / ref.name)
    except IndexCorruptError as exc:
        raise IndexCorruptError(f"{exc}; {_rebuild(root)}") from None


def _read_manifest(path: Path) -> Manifest:
    """The manifest of one version; a segmented version's document table is read from its
    segments (never the vectors or indexes)."""
    header = _read_header(path)
    if header["format_version"] == 1:
        return _manifest_from(header, header["documents"])
    documents: dict[str, dict[str, Any]] = {}
    for ref in _segment_refs(path, header):
        docs, _ = _segment_documents(path, ref, path.parent)
        deleted = set(ref.deleted)
        documents.update((d, dict(m)) for d, m in docs.items() if d not in deleted)  # callers may edit theirs
    return _manifest_from(header, documents)


def _dim(manifest: Manifest, vectors: np.ndarray | None) -> int:
    if manifest.embedder.get("dim"):
        return int(manifest.embedder["dim"])
    return int(vectors.shape[1]) if vectors is not None and vectors.ndim == 2 else 0


def _new_name(prefix: str) -> str:
    return f"{prefix}{time.time_ns()}-{uuid.uuid4().hex[:6]}"


_copied_instead = False


def _link(src: Path, dst: Path) -> None:
    """A hard link: the new version shares the file, nothing is copied. A file system without
    hard links gets a copy (correct, only slower), with a warning once."""
    global _copied_instead
    try:
        os.link(src, dst)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        if not _copied_instead:
            log.warning("%s does not support hard links (%s); unchanged segments are copied instead",
                        dst.parent, exc.strerror)
            _copied_instead = True
        shutil.copy2(src, dst)


def _link_tree(src: Path, dst: Path) -> None:
    dst.mkdir()
    for entry in sorted(src.iterdir()):
        if entry.is_dir():
            _link_tree(entry, dst / entry.name)
        else:
            _link(entry, dst / entry.name)


def _fsync_tree(root: Path, skip: Collection[Path] = ()) -> None:
    """fsync every file and directory under `root`; the files of `skip` (linked from a version
    already on disk) are durable already, only their new directory entries need syncing."""
    for dirpath, _, files in os.walk(root):
        if Path(dirpath) not in skip and not any(Path(dirpath).is_relative_to(s) for s in skip):
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
