"""What the retriever, indexer and service need from a place that stores and searches chunks.

Two implementations: `local` (the index directory: rag.index.store, rag.index.segments) and `milvus`
(a Milvus server, cluster or milvus-lite file: rag.backends.milvus). Fusion, de-duplication,
the acronym rule and reranking stay in the retriever, shared by both.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from rag.core.records import Chunk
from rag.index.sentence_vectors import PieceVectors
from rag.index.store import Manifest

Key = Hashable  # a chunk's handle within one view: a row position (local) or the chunk id (Milvus)


@dataclass(frozen=True)
class Filters:
    doc_ids: frozenset[str] | None = None
    date_from: str | None = None  # ISO dates, inclusive; documents without a date never match
    date_to: str | None = None

    @property
    def active(self) -> bool:
        return bool(self.doc_ids or self.date_from or self.date_to)

    def accepts(self, chunk: Chunk) -> bool:
        return self.accepts_fields(chunk.doc_id, chunk_date(chunk.metadata))

    def accepts_fields(self, doc_id: str, date: str) -> bool:
        if self.doc_ids and doc_id not in self.doc_ids:
            return False
        if self.date_from or self.date_to:
            if not date:
                return False
            if self.date_from and date < self.date_from:
                return False
            if self.date_to and date > self.date_to:
                return False
        return True


def chunk_date(metadata) -> str:
    """The date a date filter compares: the first ten characters (YYYY-MM-DD) of `date`."""
    return str(metadata.get("date", ""))[:10]


class SearchView(Protocol):
    """One state of the store, used for a whole query (a newer one is opened by `refresh`)."""

    manifest: Manifest  # settings it was built with, and the document catalogue
    version: object  # compared with `Backend.version()` to see whether another writer published

    def __len__(self) -> int: ...

    def dense(self, query: np.ndarray, depth: int, filters: Filters) -> list[Key]:
        """Keys of the nearest chunks by inner product, best first; at least the best `depth`
        that pass `filters` (a store that cannot filter while searching returns more)."""
        ...

    def lexical(self, question: str, depth: int, filters: Filters) -> list[tuple[Key, float]]:
        """(key, BM25 score) best first, only chunks sharing a term with the question."""
        ...

    def chunks(self, keys: Sequence[Key]) -> list[Chunk]: ...

    def vectors(self, keys: Sequence[Key]) -> np.ndarray:
        """float32 rows in the order of `keys`."""
        ...

    def best_piece_cosines(self, keys: Sequence[Key], query: np.ndarray) -> np.ndarray | None:
        """Per key, the best cosine of the chunk's stored sentence and clause vectors with `query`
        (NaN where a chunk has none); None when this store keeps no such vectors."""
        ...


class Backend(Protocol):
    name: str  # "local" or "milvus"
    where: str  # for messages: the index directory, or the Milvus address and collection

    def open(self) -> SearchView:
        """The live state; IndexNotFoundError when nothing was indexed yet."""
        ...

    def version(self) -> object:
        """A cheap token of the live state, equal to `SearchView.version` while nothing changed."""
        ...

    def read_manifest(self) -> Manifest:
        """The catalogue alone (no vectors, no model)."""
        ...

    def lock(self) -> AbstractContextManager[None]:
        """Held by a writer around `previous` .. `publish`."""
        ...

    def previous(self) -> Manifest | None:
        """The live manifest an update starts from, checked whole; None when nothing is stored."""
        ...

    def publish(self, manifest: Manifest, chunks: Sequence[Chunk], vectors: np.ndarray, *,
                added: Collection[str], updated: Collection[str], removed: Collection[str],
                rebuild: bool, approx_threshold: int, sentences: PieceVectors | None = None) -> tuple[int, int]:
        """Make `manifest.documents` the live documents: `chunks` and `vectors` are those of
        `added` and `updated`; the chunks of `updated` and `removed` go. With `rebuild`, whatever
        was stored is replaced. `sentences`: the chunks' sentence and clause vectors, kept by a
        backend that stores them for the extractive generator (the others let it embed them).
        Returns (live chunks, segments)."""
        ...
