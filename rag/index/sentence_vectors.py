"""Sentence and clause vectors computed while indexing, so answers need no embedding per passage.

The extractive generator scores every sentence of the retrieved passages (and every clause of a
long sentence) by its cosine with the question. Embedding those at question time cost about a
second per question on long news passages. Instead, `rag index` keeps the token embeddings of
each chunk's own forward pass for a moment and mean-pools them over every sentence and clause
span ("late chunking"): no extra model call, and each vector also knows its passage's context.

A segment stores them beside its chunks (written once, like the rest of the segment):

    sentences.npy          float16 [pieces, dim], normalised
    sentences.keys.npy     uint64 [pieces]: hash of (chunk id, chunk text, piece text)
    sentences.offsets.npy  int64 [chunks + 1]: each chunk's rows, so a merge copies live chunks' rows

The key holds the chunk's text, so a vector is only ever found for the very passage it was
pooled in; a segment without these files (an index built before them) is simply not asked, and
the generator embeds those sentences itself. The offsets also let the retriever rank a passage by
its best sentence (`best_cosines`, the `small_to_big` setting) without reading any text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.core.errors import IndexCorruptError
from rag.core.records import Chunk
from rag.index import npy
from rag.text.sentences import piece_spans

if TYPE_CHECKING:
    from rag.index.segments import LiveParts

SENTENCES = "sentences.npy"
SENTENCE_KEYS = "sentences.keys.npy"
SENTENCE_OFFSETS = "sentences.offsets.npy"
SENTENCE_FILES = (SENTENCES, SENTENCE_KEYS, SENTENCE_OFFSETS)


def piece_key(chunk_id: str, chunk_text: str, piece: str) -> int:
    return piece_keys(chunk_id, chunk_text, [piece])[0]


def piece_keys(chunk_id: str, chunk_text: str, pieces: Iterable[str]) -> list[int]:
    """64-bit keys of `pieces` of one chunk (the chunk part is hashed once)."""
    base = hashlib.blake2b(digest_size=8)
    for part in (chunk_id, chunk_text):
        base.update(part.encode("utf-8", "surrogatepass"))
        base.update(b"\x00")
    keys = []
    for piece in pieces:
        digest = base.copy()
        digest.update(piece.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
        keys.append(int.from_bytes(digest.digest(), "little"))
    return keys


@dataclass(frozen=True)
class PieceVectors:
    """The sentence/clause vectors of a run of chunks, in chunk order."""

    vectors: np.ndarray  # float16 [pieces, dim]
    keys: np.ndarray  # uint64 [pieces]
    offsets: np.ndarray  # int64 [chunks + 1]

    @classmethod
    def empty(cls, n_chunks: int, dim: int) -> "PieceVectors":
        return cls(np.zeros((0, dim), dtype=np.float16), np.zeros(0, dtype=np.uint64),
                   np.zeros(n_chunks + 1, dtype=np.int64))

    @classmethod
    def from_chunks(cls, chunks: Sequence[Chunk], per_chunk: Sequence[np.ndarray], dim: int) -> "PieceVectors":
        """`per_chunk[i]`: the pooled vectors of `piece_spans(chunks[i].text)`, in that order."""
        keys, blocks, sizes = [], [], []
        for chunk, vecs in zip(chunks, per_chunk):
            pieces = piece_spans(chunk.text)
            vecs = np.asarray(vecs, dtype=np.float16)
            if len(vecs) != len(pieces):  # the embedder could not pool this chunk: none stored
                sizes.append(0)
                continue
            keys.extend(piece_keys(chunk.id, chunk.text, [p for p, _, _ in pieces]))
            blocks.append(vecs.reshape(len(pieces), dim))
            sizes.append(len(pieces))
        vectors = np.concatenate(blocks) if blocks else np.zeros((0, dim), dtype=np.float16)
        return cls(vectors, np.array(keys, dtype=np.uint64),
                   np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64))

    def save(self, path: Path) -> None:
        np.save(path / SENTENCES, np.ascontiguousarray(self.vectors, dtype=np.float16))
        np.save(path / SENTENCE_KEYS, np.ascontiguousarray(self.keys, dtype=np.uint64))
        np.save(path / SENTENCE_OFFSETS, np.ascontiguousarray(self.offsets, dtype=np.int64))


def encode_chunks(embedder, chunks: Sequence[Chunk], *, show_progress: bool = False
                  ) -> tuple[np.ndarray, PieceVectors | None]:
    """The chunks' vectors, and their sentence vectors when the embedder can pool token spans
    (`encode_passages_and_spans`); other embedders give the vectors alone."""
    texts = [c.indexed_text for c in chunks]
    pool = getattr(embedder, "encode_passages_and_spans", None)
    if pool is None:
        return embedder.encode_passages(texts, show_progress=show_progress), None
    # Pieces of the chunk's own text, placed after its header in what the model reads.
    shift = [len(t) - len(c.text) for t, c in zip(texts, chunks)]
    spans = [[(a + d, b + d) for _, a, b in piece_spans(c.text)] for c, d in zip(chunks, shift)]
    vectors, pooled = pool(texts, spans, show_progress=show_progress)
    return vectors, PieceVectors.from_chunks(chunks, pooled, vectors.shape[1])


def merge_piece_vectors(parts: Sequence[tuple["SegmentSentences | None", np.ndarray | None, int]],
                        dim: int) -> PieceVectors:
    """The rows of the live chunks of several segments, in order: (sentences or None when the
    segment has none, its live rows or None for all, its chunk count)."""
    blocks, keys, sizes = [], [], []
    for sentences, rows, n_chunks in parts:
        rows = np.arange(n_chunks) if rows is None else rows
        if sentences is None:
            sizes.append(np.zeros(len(rows), dtype=np.int64))
            continue
        off = sentences.offsets
        starts, ends = off[rows], off[rows + 1]
        sizes.append(ends - starts)
        take = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends)]) if len(rows) else np.zeros(0, int)
        take = take.astype(np.int64)
        blocks.append(np.asarray(sentences.vectors[take], dtype=np.float16))
        keys.append(np.asarray(sentences.keys[take], dtype=np.uint64))
    counts = np.concatenate(sizes) if sizes else np.zeros(0, dtype=np.int64)
    return PieceVectors(np.concatenate(blocks) if blocks else np.zeros((0, dim), dtype=np.float16),
                        np.concatenate(keys) if keys else np.zeros(0, dtype=np.uint64),
                        np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))


class SegmentSentences:
    """A segment's stored sentence vectors (memory-mapped), looked up by key."""

    def __init__(self, path: Path, n_chunks: int):
        try:
            self.vectors = npy.load(path / SENTENCES, mmap_mode="r")
            self.keys = npy.load(path / SENTENCE_KEYS, mmap_mode="r")
            self.offsets = npy.load(path / SENTENCE_OFFSETS, mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(f"cannot read the sentence vectors of segment {path} ({exc})") from None
        if (len(self.offsets) != n_chunks + 1 or len(self.keys) != len(self.vectors)
                or int(self.offsets[-1]) != len(self.keys)):
            raise IndexCorruptError(f"the sentence vectors of segment {path} do not match its chunks")

    @classmethod
    def open(cls, path: Path, n_chunks: int) -> "SegmentSentences | None":
        present = [(path / name).exists() for name in SENTENCE_FILES]
        if not any(present):
            return None
        if not all(present):
            raise IndexCorruptError(f"segment {path} has only some of its sentence vector files")
        return cls(path, n_chunks)

    @cached_property
    def _sorted(self) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(np.asarray(self.keys), kind="stable")
        return np.asarray(self.keys)[order], order

    def find(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each key: whether it is stored, and its row (meaningless where not stored)."""
        ordered, order = self._sorted
        if not len(ordered):
            return np.zeros(len(keys), dtype=bool), np.zeros(len(keys), dtype=np.int64)
        at = np.minimum(np.searchsorted(ordered, keys), len(ordered) - 1)
        return ordered[at] == keys, order[at]


class SentenceVectors:
    """The stored sentence vectors of a version's segments."""

    def __init__(self, segments: Sequence[SegmentSentences | None], parts: "LiveParts | None" = None):
        """`segments`: each segment's vectors (None for one stored without them), in the order of
        `parts`, which maps the version's chunk positions to segment rows (needed by `best_cosines`)."""
        self._by_segment = list(segments)
        self._parts = parts

    def __bool__(self) -> bool:
        return any(s is not None for s in self._by_segment)

    def best_cosines(self, positions: Sequence[int], query: np.ndarray) -> np.ndarray:
        """For each chunk position: the highest cosine of its stored sentences and clauses with
        `query` (NaN for a chunk stored without them). A chunk's pieces are consecutive rows, so
        this is one gather and one product per segment, whatever the chunks' texts."""
        out = np.full(len(positions), np.nan, dtype=np.float32)
        if self._parts is None or not len(positions):
            return out
        segs, rows = self._parts.locate_many(np.asarray(positions, dtype=np.int64))
        for s in np.unique(segs).tolist():
            sentences = self._by_segment[s]
            if sentences is None:
                continue
            at = np.flatnonzero(segs == s)
            starts = np.asarray(sentences.offsets[rows[at]], dtype=np.int64)
            sizes = np.asarray(sentences.offsets[rows[at] + 1], dtype=np.int64) - starts
            stored = sizes > 0
            at, starts, sizes = at[stored], starts[stored], sizes[stored]
            if not len(at):
                continue
            first = np.cumsum(sizes) - sizes  # where each chunk's pieces begin in the gathered rows
            take = np.arange(int(sizes.sum())) + np.repeat(starts - first, sizes)
            cosines = np.asarray(sentences.vectors[take], dtype=np.float32) @ np.asarray(query, dtype=np.float32)
            out[at] = np.maximum.reduceat(cosines, first)
        return out

    def lookup(self, chunk: Chunk, texts: Iterable[str]) -> Mapping[str, np.ndarray]:
        """The stored vectors (float32) of those `texts` that are pieces of `chunk`."""
        texts = list(dict.fromkeys(texts))
        if not texts or not self:
            return {}
        keys = np.array(piece_keys(chunk.id, chunk.text, texts), dtype=np.uint64)
        found: dict[str, np.ndarray] = {}
        for seg in self._by_segment:
            if seg is None:
                continue
            hit, rows = seg.find(keys)
            wanted = [i for i in np.flatnonzero(hit).tolist() if texts[i] not in found]
            if wanted:
                # One gather per segment: row by row, a memory-mapped read costs more than the rest
                # of the answer's lookups together.
                vectors = np.asarray(seg.vectors[rows[wanted]], dtype=np.float32)
                found.update(zip((texts[i] for i in wanted), vectors))
            if len(found) == len(texts):
                break
        return found
