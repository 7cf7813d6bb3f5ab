"""Serve a GGUF model on an OpenAI-compatible endpoint on this machine (llama.cpp via xllamacpp).

    with serve_gguf() as base_url:          # http://127.0.0.1:<port>/v1
        rag ask ... --generator openai --base-url <base_url>
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.core.errors import GeneratorError
from rag.generators.gguf import free_port, llama_params, resolve_gguf


@contextmanager
def serve_gguf(model_path: str | Path | None = None, *, port: int | None = None, n_ctx: int = 2048,
               threads: int | None = None, timeout: float = 60.0) -> Iterator[str]:
    model = resolve_gguf(str(model_path) if model_path else None)
    port = port or free_port()
    xllamacpp, params = llama_params(model, n_ctx, threads or os.cpu_count() or 1, port=port)
    server = xllamacpp.Server(params)
    base_url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=2) as r:
                json.load(r)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise GeneratorError(f"the local model server did not start on port {port}") from None
            time.sleep(0.1)
    try:
        yield base_url
    finally:
        del server
