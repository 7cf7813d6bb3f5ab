"""The `VectorIndex` protocol and the factory that picks an index type for a corpus size."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class VectorIndex(Protocol):
    kind: str
    dim: int

    def __len__(self) -> int: ...

    def add(self, vectors: np.ndarray) -> None: ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, positions), each of shape (n_queries, k); missing results have position -1."""
        ...

    def save(self, path: Path) -> None: ...


def choose_index_type(index_type: str, n_vectors: int, approx_threshold: int) -> str:
    """`auto` means exact search until brute force stops being cheap, HNSW after that."""
    if index_type != "auto":
        return index_type
    return "hnsw" if n_vectors >= approx_threshold else "flat"


def build_index(vectors: np.ndarray, index_type: str = "auto", approx_threshold: int = 200_000) -> VectorIndex:
    from .faiss_index import FaissIndex

    kind = choose_index_type(index_type, len(vectors), approx_threshold)
    index = FaissIndex.create(kind, vectors.shape[1])
    index.add(vectors)
    return index


def load_index(path: Path) -> VectorIndex:
    from .faiss_index import FaissIndex

    return FaissIndex.load(path)
