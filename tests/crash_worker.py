"""Index a growing corpus over and over until killed; used by test_crash_safety.py.

Runs the real `Indexer` and index store with a tiny deterministic embedder, so a run takes
milliseconds and the test can kill it at many different moments.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np

from rag.config import Config
from rag.indexer import Indexer
from rag.records import Document


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


if __name__ == "__main__":
    index_dir = Path(sys.argv[1])
    indexer = Indexer(Config(chunk_tokens=64, chunk_overlap=8), HashEmbedder())
    n = 0
    while True:
        indexer.sync(generation(n), index_dir)
        print(n, flush=True)
        n += 1
