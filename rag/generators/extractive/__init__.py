"""The offline generator: answers with the passages' own sentences, cited, and a short answer
when a span fills the question's slot."""

from rag.generators.extractive.generator import ExtractiveGenerator
from rag.generators.extractive.settings import ExtractiveSettings

__all__ = ["ExtractiveGenerator", "ExtractiveSettings"]
