"""The extractive generator's settings (the `[extractive]` section of rag.toml)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExtractiveSettings:
    """`abstain_threshold`: the answer abstains when its best sentence's support is below this
    (calibrated on the eval sets; README "Quality"). `sentence_rescore`: the best sentences also
    embedded on their own after the pass on stored vectors (0: none). `short_answer_threshold`: a
    short answer is shown only when `short_answer_scorer` is at least this sure of it; below, the
    answer is the supporting quote alone, introduced by `quote_intro`."""

    abstain_threshold: float = 0.522
    sentence_rescore: int = 3
    short_answer_threshold: float = 0.626
    short_answer_scorer: str = "logistic"
    quote_intro: str = "The documents say: "
