"""Evaluation metrics as small pure functions over ranked relevance and answer strings.

Retrieval relevance is judged per *unit*: a question's relevant documents (`doc_ids`) or its
evidence strings. A hit counts once for each unit it newly covers, so overlapping chunks that
repeat the same evidence earn nothing extra and nDCG stays within [0, 1].

- recall@k: share of questions with at least one relevant hit in the top k (a.k.a. hit rate).
- MRR@k: mean of 1 / rank of the first relevant hit (0 when none in the top k).
- nDCG@k: binary gains, ideal = min(k, number of relevant units).
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np


def first_relevant_rank(gains: Sequence[float], k: int) -> int | None:
    for rank, g in enumerate(gains[:k], 1):
        if g > 0:
            return rank
    return None


def recall_at_k(gains: Sequence[float], k: int) -> float:
    return 1.0 if first_relevant_rank(gains, k) else 0.0


def reciprocal_rank(gains: Sequence[float], k: int = 10) -> float:
    rank = first_relevant_rank(gains, k)
    return 1.0 / rank if rank else 0.0


def ndcg_at_k(gains: Sequence[float], n_relevant: int, k: int = 10) -> float:
    if n_relevant <= 0:
        return 0.0
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains[:k]))
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, n_relevant)))
    return dcg / ideal


def unit_gains(hit_units: Sequence[Iterable[str]]) -> list[float]:
    """1 for a hit that covers a relevant unit no earlier hit covered, else 0."""
    seen: set[str] = set()
    gains = []
    for units in hit_units:
        new = set(units) - seen
        gains.append(1.0 if new else 0.0)
        seen |= new
    return gains


# --- answers (SQuAD-style normalisation) ---

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans({c: " " for c in string.punctuation + "‘’“”–—…"})
_MARKERS = re.compile(r"\[\d+\]")


def normalize_answer(text: str) -> str:
    text = _MARKERS.sub(" ", text.lower()).translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def normalize_whitespace(text: str) -> str:
    return " ".join(text.split())


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    p = normalize_answer(prediction)
    return float(any(p == normalize_answer(a) for a in answers)) if answers else 0.0


def token_f1(prediction: str, answers: Sequence[str]) -> float:
    pred = normalize_answer(prediction).split()
    best = 0.0
    for a in answers:
        gold = normalize_answer(a).split()
        common = sum((Counter(pred) & Counter(gold)).values())
        if not pred or not gold or not common:
            continue
        precision, recall = common / len(pred), common / len(gold)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


RIGHT_F1 = 0.5  # a short answer with at least this token F1 against a gold answer counts as right


def threshold_for_precision(scored: Sequence[tuple[float, float]], target: float) -> float | None:
    """The lowest confidence threshold at which the items shown (confidence >= threshold) are right
    at least `target` of the time; `scored`: (confidence, 1.0 if right else 0.0). None when no
    threshold reaches it."""
    best = None
    ordered = sorted(scored, key=lambda cr: -cr[0])
    right = 0.0
    for n, (conf, ok) in enumerate(ordered, 1):
        right += ok
        last_of_tie = n == len(ordered) or ordered[n][0] < conf
        if last_of_tie and right / n >= target:
            best = conf
    return best


def answer_contained(prediction: str, answers: Sequence[str]) -> float:
    p = f" {normalize_answer(prediction)} "
    return float(any(f" {normalize_answer(a)} " in p for a in answers if normalize_answer(a)))


def mean(values: Sequence[float]) -> float | None:
    """None for an empty set: 'no answerable questions' is not the same as a score of 0."""
    return float(np.mean(values)) if len(values) else None


def percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else None


def best_threshold(scores_answerable: Sequence[float], scores_unanswerable: Sequence[float], *,
                   max_false_refusal: float = 1.0) -> tuple[float, float]:
    """The abstention threshold maximising balanced accuracy, and that accuracy; with
    `max_false_refusal`, only among thresholds that decline at most that share of answerable questions.

    A question is answered when its confidence is >= threshold. Candidates are midpoints between
    consecutive distinct observed scores, so the choice does not sit on one question's score.
    """
    if not scores_answerable or not scores_unanswerable:
        return float("nan"), float("nan")
    values = sorted(set(scores_answerable) | set(scores_unanswerable))
    candidates = [values[0] - 1e-6] + [(a + b) / 2 for a, b in zip(values, values[1:])] + [values[-1] + 1e-6]
    best = (0.0, -1.0)
    for t in candidates:
        answered = sum(s >= t for s in scores_answerable) / len(scores_answerable)
        abstained = sum(s < t for s in scores_unanswerable) / len(scores_unanswerable)
        if 1 - answered > max_false_refusal + 1e-12:
            continue
        bal = (answered + abstained) / 2
        if bal > best[1] + 1e-12:
            best = (t, bal)
    return best
