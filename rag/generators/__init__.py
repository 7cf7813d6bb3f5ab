"""The `Generator` protocol and the registry of implementations.

Adding a generator is one module in this package and one line in `GENERATORS`; its constructor
takes its own settings object (and, when it sets `uses_embedder = True`, the keywords
`embedder=` and `sentences=`, which the factory in rag.app fills with the retriever's). A class
outside this package is chosen by its dotted path, "package.module:Class".
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from rag.core.records import Answer, Hit
from rag.core.registry import Registry

__all__ = ["GENERATORS", "Generator", "StreamEvent", "available_generators"]

# A stream yields text deltas as they are produced, then exactly one final, verified `Answer`.
StreamEvent = str | Answer


@runtime_checkable
class Generator(Protocol):
    name: str

    def generate(self, question: str, hits: Sequence[Hit]) -> Answer: ...

    def stream(self, question: str, hits: Sequence[Hit]) -> Iterator[StreamEvent]: ...


GENERATORS = Registry("generator", {
    "extractive": "rag.generators.extractive.generator:ExtractiveGenerator",
    "llama_cpp": "rag.generators.llama_cpp:LlamaCppGenerator",
    "openai": "rag.generators.openai_compatible:OpenAICompatibleGenerator",
})


def available_generators() -> list[str]:
    return GENERATORS.names()
