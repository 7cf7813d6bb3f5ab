"""What a chat front end needs from the library: one retriever (and embedding model) shared by
every session, generators made on demand, and uploads indexed while others keep asking."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from .config import Config
from .embedders import Embedder
from .indexer import Indexer
from .pipeline import Pipeline, make_generator
from .records import Answer
from .retriever import Retriever
from .uploads import ingest


class ChatService:
    """Thread-safe: sessions share it. Readers always see one whole index version."""

    def __init__(self, config: Config, *, embedder: Embedder | None = None):
        """`embedder`: an already loaded model, shared by questions and uploads."""
        self.config = config
        self.retriever = Retriever.load(config.index_dir, config=config, embedder=embedder)
        self._generators: dict[tuple, Any] = {}
        self._lock = threading.Lock()  # guards the generator cache
        self._upload_lock = threading.Lock()  # one indexing at a time; never blocks questions
        self._indexer: Indexer | None = None

    def warm_up(self) -> None:
        """Load the embedding model now, so the first question does not wait for it."""
        self.retriever.search("warm up")

    def pipeline(self, generator: str, base_url: str = "", model: str = "") -> Pipeline:
        key = (generator, base_url, model) if generator == "openai" else (generator,)
        with self._lock:
            if key not in self._generators:
                options = {"base_url": base_url or None, "model": model or None} if generator == "openai" else {}
                self._generators[key] = make_generator(generator, self.config, self.retriever, **options)
            return Pipeline(self.retriever, self._generators[key], self.config)

    def ask_stream(self, question: str, history: list, generator: str, k: int, base_url: str = "",
                   model: str = "") -> Iterator[str | Answer]:
        self.retriever.refresh()  # another process may have re-indexed
        return self.pipeline(generator, base_url, model).ask_stream(question, history, k=int(k))

    def upload(self, name: str, data: bytes):
        with self._upload_lock:  # readers keep answering from the live version meanwhile
            if self._indexer is None:
                # The questions' model: its token counting has a tokenizer of its own, so chunking
                # an upload cannot disturb a question being embedded (see rag.embedders).
                self._indexer = Indexer(self.config, self.retriever.embedder)
            result = ingest(name, data, corpus_dir=self.config.corpus_dir, index_dir=self.config.index_dir,
                            indexer=self._indexer)
            self.retriever.refresh()
            return result

    def ask_api(self, question: str, k: int = 5) -> dict:
        """Question in; answer, short answer (or null), abstained flag, citations and timings out."""
        answer = self.pipeline(self.config.generator).ask(question, k=int(k))
        data = answer.to_dict()
        return {key: data[key] for key in ("question", "answer", "short_answer", "abstained", "citations", "timings")}
