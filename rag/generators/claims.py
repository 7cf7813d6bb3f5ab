"""Whether passages support a generated sentence: claim by claim, not by word overlap.

A sentence is cut into its claims (`rag.text.sentences.claim_clauses`). Each claim must be
supported on its own by one sentence, or two adjacent sentences, of a cited passage: at least
`min_clause_support` of its content words (stemmed, stop words removed) are there. A sentence that
repeats a passage and appends "and the administrator password is hunter2" has one supported claim
and one with no support, so it fails, however many of its words the passage holds. The sentence
as a whole must also reach `min_support` (its claims' scores weighted by their length).

Names and numbers are facts on their own: every capitalised name, all-caps word, number or number
word of the sentence must occur in the cited passages (or their titles), wherever it stands. A
paraphrase may say "created" for "formed", but not "Tahir Yuldashev" or "5,000" for nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rag.core.records import Hit
from rag.text.analysis import analyze, stopwords
from rag.text.claim_words import FUNCTION_WORDS, NUMBER_WORDS
from rag.text.sentences import claim_clauses, split_sentences

_TOKEN = re.compile(r"[^\W_][\w'’.-]*[^\W_]|[^\W_]", re.UNICODE)
_INJECTION = re.compile(
    r"\b(ignore|disregard|forget)\s+(all\s+|any\s+)?(of\s+)?(the\s+|your\s+)?(previous|prior|above|earlier|preceding)\s+"
    r"(instructions?|rules|directions|prompts?)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ClaimSettings:
    """How much of a sentence the passages it cites must hold: `min_support` of its content words
    over the whole sentence, `min_clause_support` of each claim's, where a claim has at least
    `min_clause_words` content words (shorter parts join their neighbour). Measured with
    `python -m bench claims` (docs/answers.md)."""

    min_support: float = 0.6
    min_clause_support: float = 0.5
    min_clause_words: int = 2
    # A name may appear in another form in the passages ("Syrian" for "Syria"): see `_mentioned`.
    name_prefix: int = 4  # names shorter than this must match exactly: "Ali" is not "Alibaba"
    name_suffix: int = 3


@dataclass(frozen=True)
class Support:
    """Passage `passage` (1-based, in the order given) supports the sentence with the span
    `start:end` of its chunk, with `score` of the claims it supports."""

    passage: int
    score: float
    start: int
    end: int


@dataclass(frozen=True)
class Verdict:
    supports: tuple[Support, ...]  # empty when the sentence is not supported
    score: float  # the sentence's support, its claims' scores weighted by their length
    reason: str = ""  # why not, when it is not


@lru_cache(maxsize=4096)  # a passage's sentences are compared with every claim of the answer
def content(text: str) -> frozenset[str]:
    """The stems a claim is made of: the index's stop words and the words of grammar left out."""
    return frozenset(analyze(text, stopwords() | FUNCTION_WORDS))


def support(claim: str, source: str) -> float:
    """Share of the claim's content words that the source contains."""
    words = content(claim)
    if not words:
        return 0.0
    return len(words & content(source)) / len(words)


def best_span(claim: str, hit: Hit) -> tuple[float, int, int]:
    """(support, start, end) of the best supporting sentence or pair of sentences, in chunk offsets.
    A passage sentence that tells the model to ignore its instructions is never evidence: a reply
    echoing it repeats the attack, not a fact of the documents."""
    text = hit.chunk.text
    spans = split_sentences(text) or [(0, len(text))]
    evidence = [not _INJECTION.search(text[s:e]) for s, e in spans]
    best = (0.0, spans[0][0], spans[0][1])
    for i, (s, e) in enumerate(spans):
        if not evidence[i]:
            continue
        score = support(claim, text[s:e])
        if score > best[0]:
            best = (score, s, e)
        if i + 1 < len(spans) and evidence[i + 1]:
            pair = support(claim, text[s:spans[i + 1][1]])
            if pair > best[0] + 0.15:  # a second sentence must add real support to widen the quote
                best = (pair, s, spans[i + 1][1])
    return best


def specific_words(claim: str) -> dict[str, str]:
    """The sentence's names, all-caps words, numbers and number words: stem -> the word as written.
    The first word is a name only in capitals ("SYSTEM"), since every sentence starts with one."""
    out: dict[str, str] = {}
    stop = stopwords()
    for i, match in enumerate(_TOKEN.finditer(claim)):
        word = match.group().strip("'’.-")
        lower = word.lower()
        if not word or lower in stop:
            continue
        numeric = any(ch.isdigit() for ch in word) or lower in NUMBER_WORDS
        caps = len(word) > 1 and word.isupper() and any(ch.isalpha() for ch in word)
        name = word[0].isupper() and (i > 0 or caps)
        if numeric or name or caps:
            for stem in analyze(word, frozenset()):
                out.setdefault(stem, word)
    return out


def _mentioned(stem: str, word: str, evidence: set[str], settings: ClaimSettings) -> bool:
    """A number must occur as written; a name also in another form of it: a longer word of the
    passages starts with it ("Uzbek": "Uzbekistan", "Syria": "Syrian"), or it adds at most
    `name_suffix` letters to one ("Iranian": "Iran", but "Islamabad" is not "Islamic")."""
    if stem in evidence:
        return True
    shortest = settings.name_prefix
    if any(ch.isdigit() for ch in word) or word.lower() in NUMBER_WORDS or len(stem) < shortest:
        return False
    return any(len(e) >= shortest and (e.startswith(stem) or (stem.startswith(e) and len(stem) - len(e) <= settings.name_suffix))
               for e in evidence)


def check(claim: str, hits: Sequence[Hit], numbers: Sequence[int], settings: ClaimSettings) -> Verdict:
    """Whether the passages `hits` (numbered `numbers`) support `claim` together."""
    evidence: set[str] = set()
    for hit in hits:
        evidence.update(analyze(f"{hit.chunk.title}\n{hit.chunk.text}", frozenset()))
    missing = [word for stem, word in specific_words(claim).items() if not _mentioned(stem, word, evidence, settings)]
    if missing:
        return Verdict((), 0.0, f"the cited passages do not mention {', '.join(missing[:3])}")
    parts = claim_clauses(claim, settings.min_clause_words) or [claim]
    by_hit: dict[int, list[str]] = {}
    weighted = total = 0.0
    for part in parts:
        scored = [(best_span(part, hit)[0], i) for i, hit in enumerate(hits)]
        score, i = max(scored, key=lambda x: x[0], default=(0.0, -1))
        if score < settings.min_clause_support:
            return Verdict((), 0.0, f"the cited passages do not support {part!r}")
        size = len(content(part))
        weighted, total = weighted + score * size, total + size
        by_hit.setdefault(i, []).append(part)
    overall = weighted / total if total else 0.0
    if overall < settings.min_support:
        return Verdict((), overall, "the cited passages support too little of it")
    supports = []
    for i, parts_of in by_hit.items():
        score, start, end = best_span(" ".join(parts_of), hits[i])
        supports.append(Support(numbers[i], score, start, end))
    return Verdict(tuple(sorted(supports, key=lambda s: numbers.index(s.passage))), overall)
