"""What a chat front end needs from the library: one retriever (and embedding model) shared by
every session, generators made on demand, and uploads indexed while others keep asking."""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Config
from .embedders import Embedder
from .errors import ReadOnlyError
from .indexer import Indexer
from .library import DocumentInfo, Removal
from .pipeline import Pipeline, make_generator
from .records import Answer, Document
from .retriever import Retriever
from .uploads import ingest


@dataclass(frozen=True)
class Uploaded:
    document: Document
    path: Path
    chunks: int
    replaced: bool  # a document of the same name was indexed before and is now replaced


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

    @property
    def read_only(self) -> bool:
        return bool(self.config.read_only)

    def _writable(self, action: str) -> None:
        if self.read_only:
            raise ReadOnlyError(f"this deployment is read-only: it does not {action} "
                                "(start it without --read-only / read_only = true to allow it)")

    def _get_indexer(self) -> Indexer:
        if self._indexer is None:
            # The questions' model: its token counting has a tokenizer of its own, so chunking
            # an upload cannot disturb a question being embedded (see rag.embedders).
            self._indexer = Indexer(self.config, self.retriever.embedder)
        return self._indexer

    def upload(self, name: str, data: bytes) -> Uploaded:
        self._writable("take uploads")
        with self._upload_lock:  # readers keep answering from the live version meanwhile
            self.retriever.refresh()
            before = set(self.retriever.documents)
            result = ingest(name, data, corpus_dir=self.config.corpus_dir, index_dir=self.config.index_dir,
                            indexer=self._get_indexer())
            self.retriever.refresh()
            return Uploaded(result.document, result.path, result.chunks, result.document.id in before)

    def list_documents(self) -> list[DocumentInfo]:
        self.retriever.refresh()  # another process may have changed the index
        return self.retriever.list_documents()

    def remove_documents(self, doc_ids: Collection[str]) -> Removal:
        self._writable("remove documents")
        with self._upload_lock:
            removal = self._get_indexer().remove_documents(doc_ids, self.config.index_dir)
            self.retriever.refresh()
            return removal

    def ask_api(self, question: str, k: int = 5) -> dict:
        """Question in; answer, abstained flag, citations and timings out."""
        answer = self.pipeline(self.config.generator).ask(question, k=int(k))
        data = answer.to_dict()
        return {key: data[key] for key in ("question", "answer", "abstained", "citations", "timings")}
