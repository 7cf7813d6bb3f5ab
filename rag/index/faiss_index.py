"""FAISS behind the `VectorIndex` protocol.

- `flat`: `IndexFlatIP`, exact inner-product search; the right choice up to a few hundred
  thousand vectors on a laptop (a 100k x 384 scan is a few milliseconds on one core).
- `ivf`: `IndexIVFFlat` with about 4*sqrt(n) lists (a power of two). Approximate: a query scans
  `nprobe` lists, and `nprobe` is chosen at build time, on the corpus itself, as the smallest that
  keeps Recall@10 against exact search at or above `TARGET_RECALL`. The lists are memory-mapped
  when loaded, so a large index costs resident memory only for the lists queries touch.
- `hnsw`: `IndexHNSWFlat` (M=32), approximate with sub-millisecond queries, `efSearch` chosen the
  same way; it is held in memory whole and costs minutes to build at a million vectors.

Positions in the index are positions in the chunk store. Every index version is built from the
stored vectors; an IVF index reuses the previous version's trained centroids while the corpus
stays the size they were trained for, so an update costs one assignment pass, not a k-means run.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import faiss
import numpy as np

from rag.core.errors import IndexCorruptError

log = logging.getLogger("rag.index")

# One OpenMP thread for queries: a single query gains nothing from more, and idle FAISS threads
# spinning beside torch's own pool made query embedding plus search 2-3x slower on two cores.
faiss.omp_set_num_threads(1)

HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
TARGET_RECALL = 0.97  # measured on a sample at build time; leaves margin above the 0.95 we promise
SEARCH_PARAMS = {"ivf": (4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256), "hnsw": (16, 32, 48, 64, 96, 128, 256)}
CALIBRATION_QUERIES = 256


@contextmanager
def _all_cores() -> Iterator[None]:
    """Training and bulk adds do parallelise; queries do not (see above)."""
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(1)


def ivf_lists(n: int) -> int:
    """About 4*sqrt(n) lists, a power of two (1M vectors -> 4096 lists of ~244), and never fewer
    than 39 training points a list, the least k-means accepts without warning."""
    lists = 2 ** round(math.log2(4 * math.sqrt(max(n, 1))))
    while lists > 1 and n < 39 * lists:
        lists //= 2
    return lists


class FaissIndex:
    def __init__(self, index: faiss.Index, kind: str):
        self._index = index
        self.kind = kind
        self.dim = index.d

    @classmethod
    def build(cls, kind: str, vectors: np.ndarray, previous: "FaissIndex | None" = None) -> "FaissIndex":
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dim = vectors.shape
        with _all_cores():
            if kind == "flat":
                index = faiss.IndexFlatIP(dim)
            elif kind == "hnsw":
                index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
                index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            elif kind == "ivf":
                index = cls._ivf(vectors, previous)
            else:
                raise ValueError(f"unknown index type {kind!r}")
            if n:
                index.add(vectors)
        built = cls(index, kind)
        if kind != "flat":
            built.calibrate(vectors)
        return built

    @staticmethod
    def _ivf(vectors: np.ndarray, previous: "FaissIndex | None") -> faiss.Index:
        n, dim = vectors.shape
        nlist = ivf_lists(n)
        if previous is not None and previous.kind == "ivf" and previous._index.nlist == nlist \
                and previous.dim == dim:
            # A copy of the trained centroids; the previous lists may be memory-mapped read-only.
            quantizer = faiss.IndexFlatIP(dim)
            quantizer.add(previous._index.quantizer.reconstruct_n(0, nlist))
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            index.is_trained = True
            return index
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        # k-means needs ~40 points a centroid; more only slows training down.
        sample = vectors
        if n > 64 * nlist:
            rows = np.sort(np.random.default_rng(0).choice(n, 64 * nlist, replace=False))
            sample = vectors[rows]
        index.train(sample)
        return index

    def calibrate(self, vectors: np.ndarray) -> float:
        """Pick the cheapest search setting with Recall@10 >= TARGET_RECALL against exact search.

        The queries are stored vectors (their own match excluded): they come from the corpus's
        own distribution, which is what makes the estimate honest for this corpus.
        """
        n = len(vectors)
        if n <= 11:
            self._set_param(SEARCH_PARAMS[self.kind][-1])
            return 1.0
        rows = calibration_rows(vectors, min(CALIBRATION_QUERIES, n))
        queries = np.ascontiguousarray(vectors[rows])
        exact = exact_top(vectors, queries, 11)
        recall = 0.0
        for param in SEARCH_PARAMS[self.kind]:
            self._set_param(param)
            _, found = self._index.search(queries, 11)
            recall = recall_at(found, exact, rows, 10)
            if recall >= TARGET_RECALL:
                break
        log.info("%s index: search parameter %s gives Recall@10 %.3f on %d sample queries",
                 self.kind, self.search_param, recall, len(rows))
        return recall

    @property
    def search_param(self) -> int:
        if self.kind == "ivf":
            return int(self._index.nprobe)
        if self.kind == "hnsw":
            return int(self._index.hnsw.efSearch)
        return 0

    def _set_param(self, value: int) -> None:
        if self.kind == "ivf":
            self._index.nprobe = min(int(value), self._index.nlist)
        elif self.kind == "hnsw":
            self._index.hnsw.efSearch = int(value)

    @classmethod
    def load(cls, path: Path) -> "FaissIndex":
        try:
            # Memory-mapped: resident memory grows with what queries read, not with the index.
            index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
        except RuntimeError:
            try:
                index = faiss.read_index(str(path))
            except RuntimeError as exc:
                raise IndexCorruptError(f"cannot read vector index {path}: {str(exc).splitlines()[0]}") from None
        if isinstance(index, faiss.IndexHNSW):
            kind = "hnsw"
        elif isinstance(index, faiss.IndexIVF):
            kind = "ivf"
        else:
            kind = "flat"
        return cls(index, kind)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = max(1, min(k, len(self)))
        if len(self) == 0:
            n = len(queries)
            return np.zeros((n, 0), dtype=np.float32), np.zeros((n, 0), dtype=np.int64)
        return self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k)

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))


def calibration_rows(vectors: np.ndarray, count: int, block: int = 65_536) -> np.ndarray:
    """`count` rows picked by their vectors' content, not their positions.

    A random sample of positions is a new sample whenever a row is added or removed, and the
    chosen search setting can then move a step on sampling noise alone (a 24k-vector corpus: nprobe
    24, and 16 after a merge that removed 300 rows and added 100; x1.5 in query cost). Keyed by
    content, a version that shares most vectors with the previous one calibrates on mostly the
    same queries, and its setting moves only if the data does.
    """
    direction = np.random.default_rng(1).standard_normal(vectors.shape[1])
    keys = np.empty(len(vectors), dtype=np.float64)
    for start in range(0, len(vectors), block):
        projected = np.asarray(vectors[start:start + block], dtype=np.float64) @ direction
        keys[start:start + len(projected)] = np.modf(np.abs(projected) * 1e6)[0]  # a hash of the vector
    return np.sort(np.argpartition(keys, count - 1)[:count]) if count < len(keys) else np.arange(len(keys))


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int, block: int = 65_536) -> np.ndarray:
    """Exact top-k positions by blocks, so a memory-mapped million vectors is never copied whole."""
    best_s = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(vectors), block):
        scores = queries @ np.asarray(vectors[start:start + block], dtype=np.float32).T
        top = np.argpartition(-scores, min(k, scores.shape[1]) - 1, axis=1)[:, :k]
        s = np.concatenate([best_s, np.take_along_axis(scores, top, 1)], axis=1)
        i = np.concatenate([best_i, top + start], axis=1)
        order = np.argsort(-s, axis=1, kind="stable")[:, :k]
        best_s, best_i = np.take_along_axis(s, order, 1), np.take_along_axis(i, order, 1)
    return best_i


def recall_at(found: np.ndarray, exact: np.ndarray, own: np.ndarray | None, k: int) -> float:
    """Share of the exact top-k (each query's own position excluded) that the search found."""
    total = 0.0
    for i, (f, e) in enumerate(zip(found, exact)):
        skip = {int(own[i])} if own is not None else set()
        truth = [int(x) for x in e if int(x) not in skip][:k]
        got = [int(x) for x in f if int(x) >= 0 and int(x) not in skip][:k]
        total += len(set(got).intersection(truth)) / max(len(truth), 1)
    return total / max(len(found), 1)
