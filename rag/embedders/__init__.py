"""The `Embedder` protocol and the factory that picks an implementation from config."""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    name: str  # recorded in the index manifest; a hub name, never a machine path
    dim: int
    max_tokens: int  # the model's own limit, in its own tokenizer's tokens

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_passages(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...

    def fits(self, text: str) -> bool: ...


def create_embedder(model: str, *, batch_size: int = 64) -> Embedder:
    from .sentence_transformer import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(model, batch_size=batch_size)
