"""The `Reranker` protocol: re-score the retriever's best candidates with a slower, better model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable


@runtime_checkable
class Reranker(Protocol):
    name: str

    def scores(self, question: str, passages: Sequence[str]) -> list[float]:
        """One relevance score a passage, higher is better; the scale is the model's own."""
        ...


def create_reranker(model: str, *, batch_size: int = 32) -> Reranker:
    from rag.retrieval.rerankers.cross_encoder import CrossEncoderReranker

    return CrossEncoderReranker(model, batch_size=batch_size)
