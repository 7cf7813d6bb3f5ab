"""The evidence that a short-answer span is the answer, as named numbers a scorer can weigh.

The extractor's own score ranks the spans of the quoted sentences; whether the best of them should
be shown in bold is another question, answered from evidence the ranking does not use on its own:
how far the best span is ahead of its rivals, how well its sentence is supported, how much of the
question's wording surrounds the span (an answer to "how many people were injured" sits next to
"injured", not next to "attacks"), and whether the span is of the kind the question asks for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rag.generators.extractive.question_types import QuestionType
from rag.generators.extractive.short_answer import Span, head_word, word_stems
from rag.text.analysis import word_family

QUESTION_KINDS = ("time", "number", "person", "place", "name", "entity", "phrase")
SPAN_KINDS = ("date", "year", "weekday", "number", "money", "name", "list", "quoted", "phrase", "choice", "title")
CONTEXT_WINDOW = 6  # words either side of a span that count as its neighbourhood


def span_evidence(qtype: QuestionType, question_stems: set[str], ranked: Sequence[tuple[int, Span]],
                  sentences: Sequence[str], supports: Sequence[float], min_score: float,
                  passages: Sequence[str] = ()) -> dict[str, float]:
    """Evidence for `ranked[0]`, the best span of `sentences` (the quotes, best supported first, with
    their `supports`). `question_stems`: the question's content words, analysed; `passages`: every
    retrieved passage, where an answer stated more than once is found again."""
    i, best = ranked[0]
    head = {word_family(s) for s in word_stems(head_word(qtype))} if qtype.head else set()
    rival = next((sp.score for j, sp in ranked[1:] if not (j == i and sp.start < best.end and best.start < sp.end)
                  and sp.text.lower() != best.text.lower()), min_score)
    sentence = sentences[i]
    before, after = _neighbourhood(sentence, best.start, best.end)
    families = {word_family(s) for s in question_stems}
    near = {word_family(s) for w in before + after for s in word_stems(w)}
    everywhere = {word_family(s) for s in word_stems(sentence)}
    asked = max(1, len(families))
    evidence = {
        "span_score": best.score,
        "span_margin": best.score - rival,
        "fit": best.fit,
        "repeated": best.repeated,
        "proximity": best.proximity,
        "support": supports[0] if supports else 0.0,
        "span_support": supports[i] if i < len(supports) else 0.0,
        "support_margin": (supports[0] - supports[1]) if len(supports) > 1 else 0.0,
        "context_match": len(families & near) / asked,
        "sentence_match": len(families & everywhere) / asked,
        "span_words": math.log1p(len(best.text.split())),
        "rivals": math.log1p(len(ranked) - 1),
        "later_sentence": float(i > 0),
        "agreement": _agreement(best.text, passages),
        "one_word": float(len(best.text.split()) == 1),
        # A capitalised first word is capitalised by the sentence, not by being a name ("Summer").
        "opens_sentence": float(not sentence[:best.start].strip(" “\"'(")),
        "head_beside": float(bool(head) and _beside(sentence, best.start, best.end, head)),
    }
    evidence.update({f"asks_{k}": float(qtype.kind == k) for k in QUESTION_KINDS})
    evidence.update({f"span_{k}": float(best.kind == k) for k in SPAN_KINDS})
    return evidence


def _beside(sentence: str, start: int, end: int, head: set[str]) -> bool:
    """The question's head noun inside the span or right next to it: "the publication Registan",
    "Ferghana Valley", "Tampa, the host city"."""
    before, after = sentence[:start].split()[-1:], sentence[end:].split()[:1]
    words = before + sentence[start:end].split() + after
    return any(word_family(s) in head for w in words for s in word_stems(w))


def _neighbourhood(sentence: str, start: int, end: int) -> tuple[list[str], list[str]]:
    return sentence[:start].split()[-CONTEXT_WINDOW:], sentence[end:].split()[:CONTEXT_WINDOW]


def _agreement(span: str, passages: Sequence[str]) -> float:
    """The share of the retrieved passages that state the span too: separate sources naming the same
    answer make it likelier."""
    if not passages:
        return 0.0
    wanted = " ".join(span.lower().split())
    return sum(wanted in " ".join(p.lower().split()) for p in passages) / len(passages)
