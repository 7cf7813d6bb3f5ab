"""The vectors of the last few questions.

A question is embedded by the retriever and, a moment later, by the extractive generator, which
scores sentences against it; with the same model both get the same vector. Remembering the last
few single-question calls saves that second model call (about 10 ms on two cores) without
threading the vector through the pipeline's interfaces. Few: enough for a handful of users asking
at once, and a benchmark cycling through its questions still measures every embedding.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

RECENT = 8


class RecentQuestions:
    def __init__(self, size: int = RECENT):
        self._size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], compute: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """`compute(texts)`, answered from memory for a single text seen lately. Batches (the
        generator's sentences) are computed as they are: they rarely repeat."""
        texts = list(texts)
        if len(texts) != 1:
            return compute(texts)
        with self._lock:
            known = self._vectors.get(texts[0])
            if known is not None:
                self._vectors.move_to_end(texts[0])
                return known[None, :].copy()
        vectors = compute(texts)
        with self._lock:
            self._vectors[texts[0]] = np.array(vectors[0], copy=True)
            while len(self._vectors) > self._size:
                self._vectors.popitem(last=False)
        return vectors
