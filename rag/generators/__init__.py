"""The `Generator` protocol and the registry of implementations.

Adding a generator is one module in this package and one line in `REGISTRY`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from rag.core.config import Config
from rag.core.errors import ConfigError
from rag.core.records import Answer, Hit

# A stream yields text deltas as they are produced, then exactly one final, verified `Answer`.
StreamEvent = str | Answer


@runtime_checkable
class Generator(Protocol):
    name: str

    def generate(self, question: str, hits: Sequence[Hit]) -> Answer: ...

    def stream(self, question: str, hits: Sequence[Hit]) -> Iterator[StreamEvent]: ...


# name -> "module:factory"; the factory takes (config, **kwargs).
REGISTRY: dict[str, str] = {
    "extractive": "rag.generators.extractive.generator:ExtractiveGenerator",
    "llama_cpp": "rag.generators.llama_cpp:LlamaCppGenerator",
    "openai": "rag.generators.openai_compatible:OpenAICompatibleGenerator",
}


def create_generator(name: str, config: Config | None = None, **kwargs) -> Generator:
    config = config or Config.load()
    target = REGISTRY.get(name)
    if target is None:
        raise ConfigError(f"unknown generator {name!r}; choose one of {', '.join(sorted(REGISTRY))}")
    module_name, factory = target.split(":")
    module = importlib.import_module(module_name)
    return getattr(module, factory)(config, **kwargs)


def available_generators() -> list[str]:
    return sorted(REGISTRY)
