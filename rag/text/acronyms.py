"""Questions that ask what an acronym stands for, and passages that spell one out.

"What does IMU stand for?" shares one word, IMU, with every passage of an article about the IMU,
so neither BM25 nor embeddings can tell which passage holds the answer. The passage that does
has a recognisable shape, "Islamic Movement of Uzbekistan (IMU)": words whose initials make the
acronym, then the acronym in brackets. The retriever ranks such passages first for such questions.
"""

from __future__ import annotations

import re

_ACRONYM = r"\b([A-Z][A-Z0-9&]{1,7})\b"  # case matters here: "IMU", not "imu"
_ASKS = re.compile(
    rf"(?i:\bwhat\b|\bwhich\b).*?{_ACRONYM}.*?(?i:\b(?:stands?|short)\s+for\b)"
    rf"|(?i:\b(?:meaning|expansion|full\s+(?:form|name))\s+of\s+(?:the\s+)?){_ACRONYM}")
_MINOR = {"of", "the", "and", "for", "in", "on", "to", "a", "an", "de", "du", "la", "&"}


def asked_acronym(question: str) -> str | None:
    """The acronym a question asks to have spelled out, if it asks that."""
    m = _ASKS.search(question)
    return next((g for g in m.groups() if g), None) if m else None


def defines(text: str, acronym: str) -> bool:
    """Whether `text` spells the acronym out: initials of the words before "(ACRONYM)" match it."""
    for m in re.finditer(rf"\(\s*{re.escape(acronym)}\s*\)", text):
        words = re.findall(r"[\w&’'-]+", text[max(0, m.start() - 200):m.start()])
        initials = [w[0].upper() for w in reversed(words) if w.lower() not in _MINOR]
        if "".join(reversed(initials[:len(acronym)])) == acronym.upper():
            return True
    return False
