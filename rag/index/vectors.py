"""The `VectorIndex` protocol and the registry of index types, chosen by corpus size."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from rag.core.config import INDEX_TYPES
from rag.core.registry import Registry

__all__ = ["INDEX_TYPES", "VECTOR_INDEXES", "VectorIndex", "build_index", "choose_index_type", "load_index"]


@runtime_checkable
class VectorIndex(Protocol):
    kind: str
    dim: int

    def __len__(self) -> int: ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, positions), each of shape (n_queries, k); missing results have position -1."""
        ...

    def save(self, path: Path) -> None: ...


# index type -> the class that builds it: `cls.build(kind, vectors, previous)` and `cls.load(path)`.
# The three FAISS types share one class (rag.index.faiss_index explains the trade-offs).
VECTOR_INDEXES = Registry("index type", {
    "flat": "rag.index.faiss_index:FaissIndex",
    "ivf": "rag.index.faiss_index:FaissIndex",
    "hnsw": "rag.index.faiss_index:FaissIndex",
})


def choose_index_type(index_type: str, n_vectors: int, approx_threshold: int) -> str:
    """`auto`: exact search while a full scan stays cheap (200k vectors: ~10 ms on one core),
    IVF above that (see rag.index.faiss_index for why IVF rather than HNSW)."""
    if index_type != "auto":
        return index_type
    return "ivf" if n_vectors >= approx_threshold else "flat"


def build_index(vectors: np.ndarray, index_type: str = "auto", approx_threshold: int = 200_000,
                previous: VectorIndex | None = None) -> VectorIndex:
    """An index over `vectors`; `previous` (the last version's index) lets IVF keep its centroids."""
    kind = choose_index_type(index_type, len(vectors), approx_threshold)
    cls = VECTOR_INDEXES.resolve(kind)
    return cls.build(kind, vectors, previous if isinstance(previous, cls) else None)


def load_index(path: Path, index_type: str = "flat") -> VectorIndex:
    """The index saved at `path` (a FAISS file records its own type; `index_type` picks the class)."""
    return VECTOR_INDEXES.resolve(index_type).load(path)
