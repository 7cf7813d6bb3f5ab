"""BM25 lexical retrieval with bm25s, persisted beside the vector index.

Tokens are lower-cased words with English stop words removed and Snowball stems (PyStemmer),
the setup bm25s recommends. The scorer is rebuilt from the chunk texts whenever the index
changes; bm25s builds 100k passages in a few seconds, far less than embedding them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import IndexCorruptError

log = logging.getLogger("rag.lexical")

_WORD = re.compile(r"(?u)\b\w\w+\b|\b\d\b")


@lru_cache(maxsize=1)
def _stemmer():
    try:
        import Stemmer  # PyStemmer
    except ImportError:  # stemming improves recall, but BM25 still works without it
        return None
    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def analyze(text: str, stop_words: frozenset[str] | None = None) -> list[str]:
    stop = stopwords() if stop_words is None else stop_words
    words = [w for w in _WORD.findall(text.lower()) if w not in stop]
    stemmer = _stemmer()
    return stemmer.stemWords(words) if stemmer else words


class BM25Index:
    def __init__(self, model, n_docs: int):
        self._model = model
        self._n = n_docs
        self._vocab = model.vocab_dict

    @classmethod
    def build(cls, texts: Sequence[str]) -> "BM25Index":
        import bm25s

        model = bm25s.BM25()
        # bm25s rejects an empty corpus and empty documents; a placeholder token keeps positions aligned.
        tokens = [analyze(t) or ["\x00"] for t in texts] or [["\x00"]]
        model.index(tokens, show_progress=False)
        return cls(model, len(texts))

    def __len__(self) -> int:
        return self._n

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, positions) best first; only documents sharing a term with the query."""
        terms = [t for t in analyze(query) if t in self._vocab]
        if not terms or self._n == 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        k = min(k, self._n)
        docs, scores = self._model.retrieve([terms], k=k, show_progress=False, n_threads=1)
        docs, scores = docs[0], scores[0]
        keep = scores > 0
        return scores[keep].astype(np.float32), docs[keep].astype(np.int64)

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self._model.save(str(path), show_progress=False)
        (path / "size.json").write_text(json.dumps({"n_docs": self._n}))

    @classmethod
    def load(cls, path: Path, mmap: bool = True) -> "BM25Index":
        import bm25s

        try:
            n = json.loads((path / "size.json").read_text())["n_docs"]
            model = bm25s.BM25.load(str(path), mmap=mmap, show_progress=False)
        except (OSError, ValueError, KeyError) as exc:
            raise IndexCorruptError(f"cannot read the BM25 index in {path}: {exc}") from None
        return cls(model, n)
