"""The `Reranker` protocol: re-score the retriever's best candidates with a slower, better model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from rag.core.registry import Registry

__all__ = ["RERANKERS", "Reranker", "RerankerSettings", "create_reranker"]


@runtime_checkable
class Reranker(Protocol):
    name: str

    def scores(self, question: str, passages: Sequence[str]) -> list[float]:
        """One relevance score a passage, higher is better; the scale is the model's own."""
        ...


@dataclass(frozen=True)
class RerankerSettings:
    """`model`: a cross-encoder's name or directory; empty turns reranking off."""

    model: str = ""
    kind: str = "cross-encoder"
    batch_size: int = 32


# kind -> the class; each takes (model, *, batch_size=...).
RERANKERS = Registry("reranker", {
    "cross-encoder": "rag.retrieval.rerankers.cross_encoder:CrossEncoderReranker",
})


def create_reranker(model: str | RerankerSettings, *, batch_size: int = 32) -> Reranker | None:
    """The reranker `model` names (None when the settings turn reranking off)."""
    settings = model if isinstance(model, RerankerSettings) else RerankerSettings(model, batch_size=batch_size)
    if not settings.model:
        return None
    return RERANKERS.resolve(settings.kind)(settings.model, batch_size=settings.batch_size)
