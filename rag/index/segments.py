"""Immutable segments and the views that search a version's live segments as one index.

A segment is a directory written once and never changed:

    chunks.jsonl, chunks.offsets.npy   the chunk store (rag.index.chunk_store)
    vectors.npy, vectors.faiss         the stored vectors and their FAISS index
    terms/                             BM25 term statistics (rag.index.bm25.TermStats)
    documents.json                     the documents whose chunks it holds: their manifest entries
                                       and the rows [start, end) of their chunks
    sentences*.npy                     sentence and clause vectors of its chunks (rag.index.sentence_vectors;
                                       absent in segments written before them)

A version lists its segments and, per segment, the documents deleted since it was written
(tombstones). Positions seen by the retriever are positions among the live rows, in segment
order: a merge keeps that order, so results before and after a merge are the same.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rag.core.errors import IndexCorruptError
from rag.core.records import Chunk
from rag.index import npy
from rag.index.bm25 import LexicalIndex, TermStats
from rag.index.chunk_store import ChunkStore, write_chunks
from rag.index.sentence_vectors import PieceVectors, SegmentSentences, merge_piece_vectors
from rag.index.vectors import VectorIndex, build_index, load_index

CHUNKS = "chunks.jsonl"
CHUNK_OFFSETS = "chunks.offsets.npy"
VECTORS = "vectors.npy"
FAISS = "vectors.faiss"
TERMS = "terms"
DOCUMENTS = "documents.json"
SEGMENT_FILES = (CHUNKS, CHUNK_OFFSETS, VECTORS, FAISS, TERMS, DOCUMENTS)

log = logging.getLogger("rag.index")


@dataclass(frozen=True)
class SegmentRef:
    """A version's view of one segment: its name, its rows, how many are live, and the documents
    deleted from it since it was written (tombstones)."""

    name: str
    n_chunks: int
    live: int
    deleted: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "n_chunks": self.n_chunks, "live": self.live, "deleted": list(self.deleted)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SegmentRef":
        return cls(str(data["name"]), int(data["n_chunks"]), int(data["live"]),
                   tuple(str(d) for d in data.get("deleted", ())))


class Segment:
    """One segment on disk, opened lazily where that matters (chunks are memory-mapped)."""

    def __init__(self, path: Path, *, terms: TermStats | None = None):
        self.path = path
        self.chunks = ChunkStore(path / CHUNKS, path / CHUNK_OFFSETS)
        try:
            self.vectors = npy.load(path / VECTORS, mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(f"cannot read {path / VECTORS} ({exc})") from None
        self.index: VectorIndex = load_index(path / FAISS)
        self.terms = terms if terms is not None else TermStats.load(path / TERMS)
        documents, rows = read_documents(path)
        self.documents: dict[str, dict[str, Any]] = documents
        self.rows: dict[str, tuple[int, int]] = rows
        self.sentences = SegmentSentences.open(path, len(self.chunks))
        counts = {"chunks": len(self.chunks), "vectors": len(self.vectors), "vector index": len(self.index),
                  "bm25": len(self.terms)}
        if len(set(counts.values())) != 1:
            raise IndexCorruptError(f"segment {path} is inconsistent ({counts})")

    def __len__(self) -> int:
        return len(self.chunks)

    def live_mask(self, deleted: Sequence[str]) -> np.ndarray | None:
        """Rows still live once `deleted` documents are gone; None when nothing is deleted."""
        if not deleted:
            return None
        live = np.ones(len(self), dtype=bool)
        for doc_id in deleted:
            start, end = self.rows.get(doc_id, (0, 0))
            live[start:end] = False
        return live


def read_documents(path: Path) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[int, int]]]:
    """A segment's document table (cached: a segment never changes, and at a million chunks the
    table takes a fraction of a second to parse; the key includes the file's identity, so a
    replaced or damaged file is read afresh). Callers must not modify what it returns."""
    try:
        st = (path / DOCUMENTS).stat()
    except OSError as exc:
        raise IndexCorruptError(f"cannot read {path / DOCUMENTS} ({exc.strerror or exc})") from None
    return _read_documents(path, path.name, st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=64)
def _read_documents(path: Path, *key: object) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[int, int]]]:
    try:
        data = json.loads((path / DOCUMENTS).read_text(encoding="utf-8"))
        documents = data["documents"]
        rows = {d: (int(r[0]), int(r[1])) for d, r in data["rows"].items()}
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise IndexCorruptError(f"cannot read {path / DOCUMENTS} ({exc})") from None
    if not isinstance(documents, dict):
        raise IndexCorruptError(f"{path / DOCUMENTS} is damaged (no document table)")
    return documents, rows


def write_segment(path: Path, chunks: Sequence[Chunk], vectors: np.ndarray, documents: Mapping[str, Any], *,
                  dim: int, index_type: str, approx_threshold: int, previous: VectorIndex | None = None,
                  terms: TermStats | None = None, sentences: PieceVectors | None = None) -> VectorIndex:
    """Write a new segment into the (new, empty) directory `path`; returns its vector index.
    `chunks` of one document must be consecutive. `terms`: statistics already known (a merge).
    `sentences`: the chunks' sentence vectors, when the embedder could pool them."""
    path.mkdir()
    if sentences is not None:
        if len(sentences.offsets) != len(chunks) + 1:
            raise ValueError("sentence vectors for another number of chunks")
        sentences.save(path)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(chunks), dim)
    np.save(path / VECTORS, vectors)
    index = build_index(vectors, index_type, approx_threshold, previous)
    index.save(path / FAISS)
    (terms if terms is not None else TermStats.build(c.indexed_text for c in chunks)).save(path / TERMS)
    write_chunks(chunks, path / CHUNKS, path / CHUNK_OFFSETS)
    rows: dict[str, list[int]] = {}
    for i, c in enumerate(chunks):
        span = rows.setdefault(c.doc_id, [i, i])
        if span[1] != i:
            raise ValueError(f"the chunks of {c.doc_id!r} are not consecutive")
        span[1] = i + 1
    (path / DOCUMENTS).write_text(json.dumps({"documents": dict(documents), "rows": rows}, ensure_ascii=False),
                                  encoding="utf-8")
    return index


class LiveChunks(Sequence[Chunk]):
    """The live chunks of several segments as one sequence."""

    def __init__(self, parts: "LiveParts"):
        self._p = parts

    def __len__(self) -> int:
        return self._p.n

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"chunk {i} out of range")
        s, row = self._p.locate(i)
        return self._p.segments[s].chunks[row]

    def __iter__(self) -> Iterator[Chunk]:
        for seg, rows in zip(self._p.segments, self._p.live_rows):
            for r in (range(len(seg)) if rows is None else rows):
                yield seg.chunks._parse(int(r))


class LiveVectors:
    """The live vectors of several segments, indexed like an array (ints or integer arrays)."""

    def __init__(self, parts: "LiveParts", dim: int):
        self._p = parts
        self.dim = dim
        self.dtype = np.dtype(np.float32)

    @property
    def shape(self) -> tuple[int, int]:
        return (self._p.n, self.dim)

    def __len__(self) -> int:
        return self._p.n

    def __getitem__(self, idx):
        if np.isscalar(idx) or (isinstance(idx, np.ndarray) and idx.ndim == 0):
            s, row = self._p.locate(int(idx))
            return np.asarray(self._p.segments[s].vectors[row])
        positions = np.asarray(idx, dtype=np.int64).reshape(-1)
        out = np.empty((len(positions), self.dim), dtype=np.float32)
        segs, rows = self._p.locate_many(positions)
        for s in np.unique(segs):
            mask = segs == s
            out[mask] = self._p.segments[s].vectors[rows[mask]]
        return out

    def __array__(self, dtype=None, copy=None):
        parts = [np.asarray(seg.vectors if rows is None else seg.vectors[rows], dtype=np.float32)
                 for seg, rows in zip(self._p.segments, self._p.live_rows)]
        out = np.concatenate(parts) if parts else np.zeros((0, self.dim), dtype=np.float32)
        return out if dtype is None else out.astype(dtype)


class LiveVectorIndex:
    """Searches every segment's FAISS index and merges the results. A segment with tombstones is
    searched deeper until every query has k live rows, so exact indexes still return the exact
    top k."""

    def __init__(self, parts: "LiveParts"):
        self._p = parts
        kinds = {seg.index.kind for seg in parts.segments}
        self.kind = kinds.pop() if len(kinds) == 1 else "mixed"
        self.dim = parts.segments[0].index.dim if parts.segments else 0
        self.search_param = max((getattr(seg.index, "search_param", 0) for seg in parts.segments), default=0)

    def __len__(self) -> int:
        return self._p.n

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        nq = len(queries)
        k = max(1, min(k, self._p.n))
        scores, positions = [], []
        for s, seg in enumerate(self._p.segments):
            rows = self._p.live_rows[s]
            n_live = len(seg) if rows is None else len(rows)
            if n_live == 0:
                continue
            live = self._p.live[s]
            # Deep enough to expect k live rows, and deeper while any query got fewer: the first k
            # live rows of an exact ranking are then the exact top k of the live rows.
            depth = min(len(seg), k if live is None else int(k * len(seg) / n_live) + 16)
            while True:
                d, i = seg.index.search(queries, depth)
                valid = i >= 0
                if live is not None:
                    valid &= live[np.where(valid, i, 0)]
                exhausted = int((i >= 0).sum(axis=1).min()) < depth  # an approximate index found no more
                if live is None or exhausted or depth == len(seg) or int(valid.sum(axis=1).min()) >= min(k, n_live):
                    break
                depth = min(len(seg), depth * 2)
            pos = np.full(i.shape, -1, dtype=np.int64)
            ranks = i if self._p.rank[s] is None else self._p.rank[s][np.where(i >= 0, i, 0)]
            pos[valid] = self._p.offsets[s] + ranks[valid]
            scores.append(np.where(valid, d, -np.inf).astype(np.float32))
            positions.append(pos)
        if not scores:
            return np.zeros((nq, 0), dtype=np.float32), np.zeros((nq, 0), dtype=np.int64)
        d, p = np.concatenate(scores, axis=1), np.concatenate(positions, axis=1)
        out_d = np.full((nq, k), -np.inf, dtype=np.float32)
        out_p = np.full((nq, k), -1, dtype=np.int64)
        for q in range(nq):
            keep = p[q] >= 0
            order = np.lexsort((p[q][keep], -d[q][keep]))[:k]
            out_d[q, :len(order)] = d[q][keep][order]
            out_p[q, :len(order)] = p[q][keep][order]
        return out_d, out_p


class LiveParts:
    """Where each live position lives: segment offsets, live masks and row maps."""

    def __init__(self, segments: Sequence[Segment], deleted: Sequence[Sequence[str]]):
        self.segments = list(segments)
        self.live = [seg.live_mask(d) for seg, d in zip(self.segments, deleted)]
        self.live_rows = [None if m is None else np.flatnonzero(m) for m in self.live]
        # rank[r]: position of row r among the segment's live rows (only where rows are deleted)
        self.rank = [None if m is None else np.cumsum(m) - 1 for m in self.live]
        sizes = [len(seg) if rows is None else len(rows) for seg, rows in zip(self.segments, self.live_rows)]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.n = int(self.offsets[-1])

    def locate(self, position: int) -> tuple[int, int]:
        s = int(np.searchsorted(self.offsets, position, side="right")) - 1
        local = position - int(self.offsets[s])
        rows = self.live_rows[s]
        return s, local if rows is None else int(rows[local])

    def locate_many(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        segs = np.searchsorted(self.offsets, positions, side="right") - 1
        local = positions - self.offsets[segs]
        rows = local.copy()
        for s in np.unique(segs):
            if self.live_rows[s] is not None:
                mask = segs == s
                rows[mask] = self.live_rows[s][local[mask]]
        return segs, rows

    def lexical(self) -> LexicalIndex:
        return LexicalIndex([(seg.terms, live, int(off), rank) for seg, live, off, rank
                             in zip(self.segments, self.live, self.offsets[:-1], self.rank)])


def merge_segments(path: Path, parts: Sequence[tuple[Segment, Sequence[str]]], *, dim: int, index_type: str,
                   approx_threshold: int) -> VectorIndex:
    """Write the live rows of `parts` (segment, its deleted documents) as one new segment, in order.

    Nothing is re-analysed or re-embedded: chunk lines are copied as bytes, vectors as arrays,
    term statistics merged; only the FAISS index is built anew (an IVF one keeps the centroids of
    the largest IVF segment merged while the size still suits them)."""
    from rag.index.chunk_store import copy_rows

    path.mkdir()
    kept = []
    for seg, deleted in parts:
        live = seg.live_mask(deleted)
        kept.append((seg, None if live is None else np.flatnonzero(live), frozenset(deleted)))
    n = sum(len(seg) if rows is None else len(rows) for seg, rows, _ in kept)
    vectors = np.empty((n, dim), dtype=np.float32)
    documents: dict[str, Any] = {}
    rows_out: dict[str, list[int]] = {}
    at = 0
    for seg, rows, deleted in kept:
        block = np.asarray(seg.vectors if rows is None else seg.vectors[rows], dtype=np.float32)
        vectors[at:at + len(block)] = block
        new_row = None
        if rows is not None:
            new_row = np.full(len(seg) + 1, -1, dtype=np.int64)
            new_row[rows] = np.arange(len(rows))
        for doc_id, meta in seg.documents.items():
            if doc_id in deleted:
                continue
            start, end = seg.rows.get(doc_id, (0, 0))
            documents[doc_id] = meta
            if end > start:
                s = start if new_row is None else int(new_row[start])
                rows_out[doc_id] = [at + s, at + s + (end - start)]
        at += len(block)
    np.save(path / VECTORS, vectors)
    previous = max((seg.index for seg, _, _ in kept if seg.index.kind == "ivf"), key=len, default=None)
    index = build_index(vectors, index_type, approx_threshold, previous)
    index.save(path / FAISS)
    TermStats.merge([(seg.terms, rows) for seg, rows, _ in kept]).save(path / TERMS)
    # Sentence vectors follow their chunks; a segment written before them contributes none.
    if any(seg.sentences is not None for seg, _, _ in kept):
        merge_piece_vectors([(seg.sentences, rows, len(seg)) for seg, rows, _ in kept], dim).save(path)
    copy_rows([(seg.chunks, rows) for seg, rows, _ in kept], path / CHUNKS, path / CHUNK_OFFSETS)
    (path / DOCUMENTS).write_text(json.dumps({"documents": documents, "rows": rows_out}, ensure_ascii=False),
                                  encoding="utf-8")
    return index

