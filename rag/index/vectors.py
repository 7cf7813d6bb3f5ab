"""The `VectorIndex` protocol and the factory that picks an index type for a corpus size."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from rag.core.config import INDEX_TYPES

__all__ = ["INDEX_TYPES", "VectorIndex", "build_index", "choose_index_type", "load_index"]


@runtime_checkable
class VectorIndex(Protocol):
    kind: str
    dim: int

    def __len__(self) -> int: ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, positions), each of shape (n_queries, k); missing results have position -1."""
        ...

    def save(self, path: Path) -> None: ...


def choose_index_type(index_type: str, n_vectors: int, approx_threshold: int) -> str:
    """`auto`: exact search while a full scan stays cheap (200k vectors: ~10 ms on one core),
    IVF above that (see rag.index.faiss_index for why IVF rather than HNSW)."""
    if index_type != "auto":
        return index_type
    return "ivf" if n_vectors >= approx_threshold else "flat"


def build_index(vectors: np.ndarray, index_type: str = "auto", approx_threshold: int = 200_000,
                previous: VectorIndex | None = None) -> VectorIndex:
    """An index over `vectors`; `previous` (the last version's index) lets IVF keep its centroids."""
    from rag.index.faiss_index import FaissIndex

    kind = choose_index_type(index_type, len(vectors), approx_threshold)
    return FaissIndex.build(kind, vectors, previous if isinstance(previous, FaissIndex) else None)


def load_index(path: Path) -> VectorIndex:
    from rag.index.faiss_index import FaissIndex

    return FaissIndex.load(path)
