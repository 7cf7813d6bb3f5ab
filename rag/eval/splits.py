"""Every evaluation set split once into a tuning half and a held-out half.

A threshold, weight or rule is chosen on the tuning half and kept only if the held-out half agrees:
figures on questions that shaped the rules flatter them. The half a question belongs to depends only
on its id and a fixed seed, so adding questions never moves the others; a question may also name its
half itself (`"split": "held-out"`), as a set written only to be held out does for all of its questions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Literal, TypeVar

from rag.core.errors import DatasetError

Split = Literal["tune", "held-out"]
SPLITS: tuple[Split, ...] = ("tune", "held-out")
SEED = "rag-eval-split-1"

Q = TypeVar("Q")


def split_of(question_id: str, declared: str | None = None) -> Split:
    if declared is not None:
        if declared not in SPLITS:
            raise DatasetError(f"question {question_id}: split {declared!r} is not one of {', '.join(SPLITS)}")
        return declared  # type: ignore[return-value]
    digest = hashlib.sha256(f"{SEED}:{question_id}".encode()).digest()
    return "tune" if digest[0] % 2 == 0 else "held-out"


def select(questions: Sequence[Q], split: Split | None) -> list[Q]:
    """The questions of one half (all of them for None)."""
    if split is None:
        return list(questions)
    return [q for q in questions if split_of(q.id, getattr(q, "split", None)) == split]  # type: ignore[attr-defined]
