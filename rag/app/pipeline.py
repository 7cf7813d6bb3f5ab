"""Question in, cited answer out: condense → retrieve → generate, as plain composition."""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

from rag.app import factory
from rag.core.collections import DEFAULT_COLLECTION, collection_config, not_found
from rag.core.config import Config
from rag.core.errors import QueryError
from rag.core.records import Answer
from rag.generators import Generator, StreamEvent
from rag.retrieval.retriever import Retriever, check_k
from rag.text.followups import condense
from rag.text.questions import clean_question

SEARCH_OPTIONS = ("mode", "doc_ids", "date_from", "date_to")


class Pipeline:
    """`Pipeline.load().ask("When was the IMU first formed?")` returns an `Answer`.

    `Pipeline(retriever, generator)` composes parts already built; `Pipeline.load` builds them
    from a `Config` (default: `Config.load()`, i.e. rag.toml and RAG_* variables) through
    `rag.app.factory`. The question's length limit and the default k are the retriever's."""

    def __init__(self, retriever: Retriever, generator: Generator):
        self.retriever = retriever
        self.generator = generator

    @classmethod
    def load(cls, index_dir: Path | str | None = None, *, config: Config | None = None,
             generator: str | Generator | None = None, collection: str = DEFAULT_COLLECTION,
             **generator_options: Any) -> "Pipeline":
        """`collection`: a named document collection (rag.app.collections) instead of the default
        one; `index_dir` is the default collection's index, beside which named ones live."""
        config = config or Config.load()
        if index_dir is not None:
            config = config.replace(index_dir=index_dir)
        if collection != DEFAULT_COLLECTION:
            config = collection_config(config, collection)
            if not Path(config.corpus_dir).is_dir():  # its folder, with either backend
                raise not_found(collection)
        retriever = factory.retriever(config, config.index_dir)
        return cls(retriever, factory.generator(config, generator, retriever=retriever, **generator_options))

    def ask(self, question: str, history: Sequence[Any] | None = None, *, k: int | None = None,
            **filters: Collection[str] | str | None) -> Answer:
        final: Answer | None = None
        for event in self.ask_stream(question, history, k=k, **filters):
            if isinstance(event, Answer):
                final = event
        assert final is not None
        return final

    def ask_stream(self, question: str, history: Sequence[Any] | None = None, *, k: int | None = None,
                   **filters: Collection[str] | str | None) -> Iterator[StreamEvent]:
        """Text deltas as the answer is produced, then the final verified `Answer`."""
        t0 = time.perf_counter()
        question = clean_question(question, self.retriever.settings.max_question_chars)
        k = check_k(self.retriever.settings.k if k is None else k)  # k=0 is a mistake, not "the default"
        unknown = sorted(set(filters) - set(SEARCH_OPTIONS))
        if unknown:
            raise QueryError(f"unknown search option(s) {', '.join(unknown)}; known: {', '.join(SEARCH_OPTIONS)}")
        standalone = condense(question, history)
        retrieval = self.retriever.retrieve(standalone, k, **filters)
        # closing(): a reader that stops early (Stop in the page) cancels the model's request at once.
        with closing(self.generator.stream(standalone, retrieval.hits)) as events:
            for event in events:
                if isinstance(event, Answer):
                    timings = {**retrieval.timings, **event.timings,
                               "total_ms": (time.perf_counter() - t0) * 1000}
                    yield replace(event, question=question, standalone_question=standalone, timings=timings)
                else:
                    yield event
