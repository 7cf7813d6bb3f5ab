"""Language-model generators as the tests drive them: a small config, an OpenAI-compatible
generator pointed at a local endpoint, hits made of given texts, and what every answer keeps to."""

from __future__ import annotations

from rag.app import factory
from rag.core.config import Config
from rag.core.records import Answer, Chunk, Hit

SECRET = "sk-test-SECRET123"
FORMED = "The IMU was first formed in the late 1990s by Uzbeks based in Northern Afghanistan."


def hits_for(*texts: str) -> list[Hit]:
    return [Hit(Chunk(f"d#{i}", "d", t, 0, len(t), len(t.split()), "IMU"), 1.0 / (i + 1), i + 1)
            for i, t in enumerate(texts)]


def small_config(**overrides) -> Config:
    settings = {"answer_tokens": 64, "context_tokens": 1024, "request_timeout": 10, "max_retries": 2}
    return Config(**{**settings, **overrides})


def assert_contract(answer: Answer, hits: list[Hit]) -> None:
    assert isinstance(answer, Answer)
    assert answer.abstained == (not answer.citations)
    given = {h.chunk.id: h for h in hits}
    for c in answer.citations:
        chunk = given[c.chunk_id].chunk
        assert chunk.text[c.start - chunk.start:c.end - chunk.start] == c.quote
        assert f"[{c.marker}]" in answer.text and c.support >= 0.6


def generator(url: str, **config):
    """The hosted generator on `url`, retrying almost at once."""
    from rag.generators.openai_compatible import OpenAICompatibleGenerator

    return OpenAICompatibleGenerator(factory.openai_settings(small_config(**config)), base_url=url, model="m", backoff=0.01)
