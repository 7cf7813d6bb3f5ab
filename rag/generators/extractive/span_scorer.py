"""How likely a short-answer span is right, from its evidence (`span_evidence`): one interface, so a
learned reader or an entailment model can replace the built-in scorer in one module.

The built-in scorer is a logistic model over the evidence, fitted on the tuning halves of the
evaluation sets (`rag.eval.fit`); its coefficients are data (`span_model.json`), not code. Its
output is the probability that the span is right; the generator shows the span in bold only when
that probability reaches `ExtractiveSettings.short_answer_threshold`, which the evaluation's
calibration sets for a target precision on the tuning halves.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Protocol

from rag.core.errors import ConfigError
from rag.core.registry import Registry

MODEL_FILE = "span_model.json"


class SpanScorer(Protocol):
    def confidence(self, evidence: Mapping[str, float]) -> float:
        """The probability (0-1) that the span the evidence describes answers the question."""
        ...


SPAN_SCORERS = Registry("short-answer scorer", {
    "logistic": "rag.generators.extractive.span_scorer:LogisticSpanScorer",
})


@dataclass(frozen=True)
class LogisticModel:
    """sigmoid(bias + sum(weight * (value - mean) / scale)); a feature the model does not know weighs 0."""

    bias: float = 0.0
    weights: Mapping[str, float] = field(default_factory=dict)
    means: Mapping[str, float] = field(default_factory=dict)
    scales: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"bias": self.bias, "weights": dict(self.weights), "means": dict(self.means),
                "scales": dict(self.scales)}


class LogisticSpanScorer:
    def __init__(self, model: LogisticModel | None = None):
        self.model = model or packaged_model()

    def confidence(self, evidence: Mapping[str, float]) -> float:
        m = self.model
        z = m.bias + sum(w * (evidence.get(name, 0.0) - m.means.get(name, 0.0)) / (m.scales.get(name) or 1.0)
                         for name, w in m.weights.items())
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


@lru_cache(maxsize=1)
def packaged_model() -> LogisticModel:
    try:
        data = json.loads(resources.files(__package__).joinpath(MODEL_FILE).read_text(encoding="utf-8"))
        return LogisticModel(**{k: data[k] for k in ("bias", "weights", "means", "scales")})
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"the short-answer model {MODEL_FILE} is missing or damaged ({type(exc).__name__}: "
                          f"{exc}); reinstall the package") from None


def load_scorer(name: str) -> SpanScorer:
    return SPAN_SCORERS.resolve(name)()
