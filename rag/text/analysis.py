"""Words as the keyword index and the answer step compare them: lower-cased, English stop words
removed, Snowball stems (PyStemmer), the setup bm25s recommends."""

from __future__ import annotations

import re
from functools import lru_cache

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


# Endings that make one word of another (edit -> editor, invade -> invasion, govern -> government),
# applied to Snowball stems, longest first; a root must keep MIN_ROOT letters.
DERIVATIONAL_ENDINGS = ("ation", "ition", "ment", "ship", "ness", "ance", "ence", "ism", "ist", "ive", "ion",
                        "ant", "ent", "or", "er", "al", "i", "e")
MIN_ROOT = 4


@lru_cache(maxsize=50_000)
def word_family(stem: str) -> str:
    """The root a stem shares with its related forms: "editor" and "edit" -> "edit", "injuri" and
    "injur" -> "injur". Broader than a stem, so it is for matching a question's words against a
    passage's, not for indexing."""
    for ending in DERIVATIONAL_ENDINGS:
        if stem.endswith(ending) and len(stem) - len(ending) >= MIN_ROOT:
            return stem[:-len(ending)]
    return stem
