"""Index a changing corpus over and over until killed; used by tests/reliability/test_crash_safety.py.

Runs the real `Indexer` and index store with a tiny deterministic embedder, so a run takes
milliseconds and the test can kill it at many different moments.

`generations` (default): every run rewrites every document, so each version replaces all of them.
`window`: each run adds one document and removes the oldest beyond WINDOW, continuing from what
the index holds; the merge policy folds the small segments together and every fifth run merges
everything, so kills land inside merges as well as updates.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np

from rag.app import factory
from rag.core.config import Config
from rag.core.records import Document
from rag.index.store import IndexStore
from rag.indexing.indexer import Indexer


class HashEmbedder:
    name = "test/hash-embedder"
    dim = 32
    max_tokens = 10_000

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def fits(self, text: str) -> bool:
        return True

    def _encode(self, texts):
        rows = [np.frombuffer(hashlib.sha256(t.encode()).digest(), dtype=np.uint8).astype(np.float32) for t in texts]
        vectors = np.array(rows, dtype=np.float32).reshape(len(texts), self.dim)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)

    def encode_queries(self, texts):
        return self._encode(texts)

    def encode_passages(self, texts, *, show_progress=False):
        return self._encode(texts)


def generation(n: int) -> list[Document]:
    """Generation n holds documents 0..n, each naming its generation in every chunk."""
    return [Document(id=f"doc{i}.txt", title=f"Doc {i}",
                     text=" ".join(f"Sentence {j} of document {i} in generation {n}." for j in range(40)))
            for i in range(n + 1)]


WINDOW = 12


def window(n: int) -> list[Document]:
    """Window n holds documents max(0, n - WINDOW + 1)..n, each naming itself in every sentence."""
    return [Document(id=f"doc{i}.txt", title=f"Doc {i}",
                     text=" ".join(f"Sentence {j} belongs to window document {i}." for j in range(40)))
            for i in range(max(0, n - WINDOW + 1), n + 1)]


def run_windows(indexer: Indexer, index_dir: Path) -> None:
    store = IndexStore(index_dir)
    n = 0
    if store.exists():
        n = 1 + max(int(d[3:-4]) for d in store.read_manifest().documents)
    while True:
        indexer.sync(window(n), index_dir)
        if n % 5 == 4:
            with store.lock():
                store.merge(full=True)
        print(n, flush=True)
        n += 1


if __name__ == "__main__":
    index_dir = Path(sys.argv[1])
    indexer = factory.indexer(Config(chunk_tokens=64, chunk_overlap=8), HashEmbedder())
    if sys.argv[2:] == ["window"]:
        run_windows(indexer, index_dir)
    n = 0
    while True:
        indexer.sync(generation(n), index_dir)
        print(n, flush=True)
        n += 1
