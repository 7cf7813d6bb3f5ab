"""The `Embedder` protocol and the factory that picks an implementation from config."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from rag.core.config import QUERY_BACKENDS
from rag.core.errors import ConfigError

if TYPE_CHECKING:
    from rag.core.config import Config


@runtime_checkable
class Embedder(Protocol):
    name: str  # recorded in the index manifest; a hub name, never a machine path
    dim: int
    max_tokens: int  # the model's own limit, in its own tokenizer's tokens

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_passages(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...

    def fits(self, text: str) -> bool: ...


def create_embedder(model: str, *, batch_size: int = 64, query_backend: str = "torch",
                    query_onnx_model: str = "") -> Embedder:
    """`query_backend`: "torch" embeds everything with sentence-transformers; "onnx-int8" embeds
    questions with an int8 ONNX export (passages still with PyTorch); "auto" takes the int8 path
    when an export of `model` is installed."""
    from rag.embedders.models import resolve_quantized_model
    from rag.embedders.sentence_transformer import SentenceTransformerEmbedder

    if query_backend not in QUERY_BACKENDS:
        raise ConfigError(f"query_backend must be one of {', '.join(QUERY_BACKENDS)} (got {query_backend!r})")
    if query_backend == "auto":
        available = (query_onnx_model or resolve_quantized_model(model)) and importlib.util.find_spec("onnxruntime")
        query_backend = "onnx-int8" if available else "torch"
    if query_backend == "onnx-int8":
        from rag.embedders.onnx_int8 import OnnxInt8QueryEmbedder

        return OnnxInt8QueryEmbedder(model, onnx_path=query_onnx_model, batch_size=batch_size)
    return SentenceTransformerEmbedder(model, batch_size=batch_size)


def embedder_for(config: "Config") -> Embedder:
    return create_embedder(config.embedding_model, batch_size=config.embedding_batch_size,
                           query_backend=config.query_backend, query_onnx_model=config.query_onnx_model)
