"""The `Embedder` protocol, its settings, and the registry of question-embedding backends."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from rag.core.config import PASSAGE_BACKENDS, PRECISIONS, QUERY_BACKENDS
from rag.core.errors import ConfigError
from rag.core.registry import Registry

__all__ = ["EMBEDDERS", "Embedder", "EmbedderSettings", "create_embedder", "load_embedder"]


@runtime_checkable
class Embedder(Protocol):
    name: str  # recorded in the index manifest; a hub name, never a machine path
    dim: int
    max_tokens: int  # the model's own limit, in its own tokenizer's tokens

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_passages(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...

    def fits(self, text: str) -> bool: ...


@dataclass(frozen=True)
class EmbedderSettings:
    """`model`: a hub name or a local path (names resolve to an installed copy, rag.embedders.models).
    `query_backend`: "torch" embeds everything with sentence-transformers; "onnx-int8" embeds
    questions with an int8 ONNX export (passages still with PyTorch); "auto" takes the int8 path
    when an export of `model` (or `query_onnx_model`) is installed, with onnxruntime.
    `passage_precision`: "fp32", "bf16", or "auto" (bf16 where the CPU has it natively; see
    rag.embedders.precision). `passage_backend`: "torch", "openvino" (rag.embedders.openvino_passages)
    or "auto" (OpenVINO when installed and the model is one it can run)."""

    model: str = "sentence-transformers/all-MiniLM-L6-v2"
    batch_size: int = 64
    query_backend: str = "auto"
    query_onnx_model: str = ""  # an .onnx file; empty means the installed export of `model`
    passage_precision: str = "auto"
    passage_backend: str = "auto"


# query backend -> the class that embeds questions (and passages, through PyTorch). Each takes
# (model, *, batch_size=..., onnx_path=...) as keywords it accepts; see `load_embedder`.
EMBEDDERS = Registry("query backend", {
    "torch": "rag.embedders.sentence_transformer:SentenceTransformerEmbedder",
    "onnx-int8": "rag.embedders.onnx_int8:OnnxInt8QueryEmbedder",
})


def choose_query_backend(settings: EmbedderSettings) -> str:
    """`auto` becomes "onnx-int8" when an export and onnxruntime are installed, else "torch"."""
    if settings.query_backend != "auto":
        return settings.query_backend
    from rag.embedders.models import resolve_quantized_model

    available = ((settings.query_onnx_model or resolve_quantized_model(settings.model))
                 and importlib.util.find_spec("onnxruntime"))
    return "onnx-int8" if available else "torch"


def load_embedder(settings: EmbedderSettings | None = None) -> Embedder:
    """The embedder `settings` describe (defaults: the default model, int8 questions when installed)."""
    settings = settings or EmbedderSettings()
    backend = choose_query_backend(settings)
    cls = EMBEDDERS.resolve(backend)
    if backend == "onnx-int8":
        return cls(settings.model, onnx_path=settings.query_onnx_model, batch_size=settings.batch_size,
                   precision=settings.passage_precision, passage_backend=settings.passage_backend)
    return cls(settings.model, batch_size=settings.batch_size, precision=settings.passage_precision,
               passage_backend=settings.passage_backend)


def create_embedder(model: str, *, batch_size: int = 64, query_backend: str = "torch",
                    query_onnx_model: str = "", passage_precision: str = "auto",
                    passage_backend: str = "auto") -> Embedder:
    """`load_embedder` with the settings as keywords (PyTorch for questions unless asked otherwise)."""
    if query_backend not in QUERY_BACKENDS and query_backend not in EMBEDDERS:
        raise ConfigError(f"query_backend must be one of {', '.join(QUERY_BACKENDS)} (got {query_backend!r})")
    if passage_precision not in PRECISIONS:
        raise ConfigError(f"passage_precision must be one of {', '.join(PRECISIONS)} (got {passage_precision!r})")
    if passage_backend not in PASSAGE_BACKENDS:
        raise ConfigError(f"passage_backend must be one of {', '.join(PASSAGE_BACKENDS)} (got {passage_backend!r})")
    return load_embedder(EmbedderSettings(model, batch_size, query_backend, query_onnx_model, passage_precision,
                                          passage_backend))
