"""FAISS behind the `VectorIndex` protocol.

- `flat`: `IndexFlatIP`, exact inner-product search; the right choice up to a few hundred
  thousand vectors on a laptop (a 100k x 384 scan is a few milliseconds).
- `hnsw`: `IndexHNSWFlat` (M=32, efConstruction=80, efSearch=64), approximate; sub-linear
  search at the cost of ~M*8 extra bytes a vector and a slower build.

Positions in the index are positions in the chunk store; updates rebuild the index from the
stored vectors (see rag.index_store), so no id mapping is needed.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from ..errors import IndexCorruptError

# One OpenMP thread: a single query gains nothing from more, and idle FAISS threads spinning
# beside torch's own pool made query embedding plus search 2-3x slower on two cores.
faiss.omp_set_num_threads(1)

HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 64


class FaissIndex:
    def __init__(self, index: faiss.Index, kind: str):
        self._index = index
        self.kind = kind
        self.dim = index.d

    @classmethod
    def create(cls, kind: str, dim: int) -> "FaissIndex":
        if kind == "flat":
            return cls(faiss.IndexFlatIP(dim), kind)
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            index.hnsw.efSearch = HNSW_EF_SEARCH
            return cls(index, kind)
        raise ValueError(f"unknown index type {kind!r}")

    @classmethod
    def load(cls, path: Path) -> "FaissIndex":
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise IndexCorruptError(f"cannot read vector index {path}: {str(exc).splitlines()[0]}") from None
        kind = "hnsw" if isinstance(index, faiss.IndexHNSW) else "flat"
        if kind == "hnsw":
            index.hnsw.efSearch = HNSW_EF_SEARCH
        return cls(index, kind)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, vectors: np.ndarray) -> None:
        if len(vectors):
            self._index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = max(1, min(k, len(self)))
        if len(self) == 0:
            n = len(queries)
            return np.zeros((n, 0), dtype=np.float32), np.zeros((n, 0), dtype=np.int64)
        return self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k)

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))
