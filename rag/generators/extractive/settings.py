"""The extractive generator's settings (the `[extractive]` section of rag.toml)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExtractiveSettings:
    """`abstain_threshold`: the answer abstains when its best sentence's support is below this
    (calibrated on the eval sets; README "Quality"). `sentence_rescore`: the best sentences also
    embedded on their own after the pass on stored vectors (0: none)."""

    abstain_threshold: float = 0.522
    sentence_rescore: int = 3
