"""What a chat front end needs from the library: one retriever (and embedding model) shared by
every session, generators made on demand, and uploads indexed while others keep asking."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from rag.app import factory
from rag.app.originals import Highlights, OriginalFile, Originals, SourceView
from rag.app.pipeline import Pipeline
from rag.app.slots import AnswerSlots
from rag.core.config import Config
from rag.core.errors import ReadOnlyError
from rag.core.records import Answer
from rag.embedders import Embedder
from rag.generators.citations import left_out
from rag.index.library import DocumentInfo, Removal
from rag.indexing.indexer import Indexer, IndexReport
from rag.indexing.uploads import Ingested, UploadFolder, ingest
from rag.indexing.watch import Batch, FolderWatch
from rag.safety.endpoints import check_endpoint
from rag.safety.redact import install_log_redaction, redact_data, watch_env

# Generators (each hosted one holds an HTTP client and its connections) kept for reuse. Visitors
# choose the model freely, so without a bound every new name would cost memory until restart.
MAX_GENERATORS = 8

log = logging.getLogger(__name__)


class GeneratorCache:
    """At most `size` generators, least recently used evicted first. An evicted generator is
    closed once no answer is streaming from it any more, never under a running answer."""

    def __init__(self, size: int = MAX_GENERATORS):
        self.size = size
        self._items: OrderedDict[tuple, Any] = OrderedDict()
        self._in_use: dict[int, int] = {}  # id(generator) -> answers streaming from it
        self._retired: dict[int, Any] = {}  # evicted while in use: closed when the last answer ends
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def acquire(self, key: tuple, make) -> Any:
        with self._lock:
            generator = self._items.get(key)
            if generator is None:
                generator = make()
                self._items[key] = generator
                while len(self._items) > self.size:
                    _, old = self._items.popitem(last=False)
                    if self._in_use.get(id(old)):
                        self._retired[id(old)] = old
                    else:
                        _close(old)
            self._items.move_to_end(key)
            self._in_use[id(generator)] = self._in_use.get(id(generator), 0) + 1
            return generator

    def release(self, generator: Any) -> None:
        with self._lock:
            left = self._in_use.get(id(generator), 1) - 1
            if left > 0:
                self._in_use[id(generator)] = left
                return
            self._in_use.pop(id(generator), None)
            retired = self._retired.pop(id(generator), None)
        if retired is not None:
            _close(retired)

    def close(self) -> None:
        with self._lock:
            items, self._items = list(self._items.values()), OrderedDict()
        for generator in items:
            _close(generator)


def _close(generator: Any) -> None:
    close = getattr(generator, "close", None)
    if callable(close):
        close()


class ChatService:
    """Thread-safe: sessions share it. Readers always see one whole index version."""

    def __init__(self, config: Config, *, embedder: Embedder | None = None):
        """`embedder`: an already loaded model, shared by questions and uploads."""
        install_log_redaction()  # the server log never holds the key, whoever logs it
        watch_env(config.openai_api_key_env)
        self.config = config
        self.retriever = factory.retriever(config, config.index_dir, embedder=embedder)
        self.generators = GeneratorCache()
        self._upload_lock = threading.Lock()  # one indexing at a time; never blocks questions
        self._indexer: Indexer | None = None
        self.originals = Originals(self.retriever, config.corpus_dir, ocr=factory.ocr_settings(config))
        self.watching: tuple[Path, ...] = ()  # the folders a watch keeps the index in step with
        # Shared by every service of a server (the page's and the API's answers, every collection).
        self.slots: AnswerSlots | None = None
        if not config.read_only:
            swept = UploadFolder(config.corpus_dir).sweep_at_start()
            if swept:
                log.info("removed what an interrupted upload left in the upload folder: %s", ", ".join(swept))

    def close(self) -> None:
        """Close the generators' clients (a collection deleted, a server stopping)."""
        self.generators.close()

    def warm_up(self) -> None:
        """Load the embedding model now, so the first question does not wait for it."""
        self.retriever.search("warm up")

    @property
    def index_problem(self) -> str | None:
        """Why the index on disk is not the one answering, if it is not (for the page)."""
        return self.retriever.refresh_problem

    def _key(self, generator: str, base_url: str, model: str) -> tuple[tuple, dict]:
        if generator != "openai":
            return (generator,), {}
        # The operator decides where the key may go: refused before any client (and key) is made.
        base_url = check_endpoint(self.config, base_url)
        model = model or self.config.openai_model
        return (generator, base_url.rstrip("/"), model), {"base_url": base_url, "model": model}

    def pipeline(self, generator: str, base_url: str = "", model: str = "") -> Pipeline:
        """A pipeline for one answer (the generator stays cached; prefer `ask_stream`)."""
        key, options = self._key(generator, base_url, model)
        gen = self.generators.acquire(key, lambda: factory.generator(self.config, generator, retriever=self.retriever, **options))
        self.generators.release(gen)
        return Pipeline(self.retriever, gen)

    def ask_stream(self, question: str, history: list, generator: str, k: int, base_url: str = "",
                   model: str = "") -> Iterator[str | Answer]:
        """Text deltas, then the verified `Answer`. Runs on the live index version, and holds its
        generator until the answer is done (or abandoned), so eviction never closes it midway."""
        self.retriever.refresh()  # another process may have re-indexed
        key, options = self._key(generator, base_url, model)
        gen = self.generators.acquire(key, lambda: factory.generator(self.config, generator, retriever=self.retriever, **options))
        try:
            with self.slots.hold() if self.slots is not None else nullcontext():
                yield from Pipeline(self.retriever, gen).ask_stream(question, history, k=k)
        finally:
            self.generators.release(gen)

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
            self._indexer = factory.indexer(self.config, self.retriever.embedder)
        return self._indexer

    def upload(self, name: str, data: bytes) -> Ingested:
        self._writable("take uploads")
        with self._upload_lock:  # readers keep answering from the live version meanwhile
            result = ingest(name, data, corpus_dir=self.config.corpus_dir, index_dir=self.config.index_dir,
                            indexer=self._get_indexer())
            self.retriever.refresh()
            return result

    def list_documents(self) -> list[DocumentInfo]:
        self.retriever.refresh()  # another process may have changed the index
        return self.retriever.list_documents()

    def remove_documents(self, doc_ids: Collection[str]) -> Removal:
        self._writable("remove documents")
        with self._upload_lock:
            removal = self._get_indexer().remove_documents(doc_ids, self.config.index_dir)
            self.retriever.refresh()
            return removal

    def original(self, doc_id: str) -> OriginalFile:
        """The file document `doc_id` was read from, verified to be the one indexed (its size
        and hash). DocumentNotFoundError for an id not indexed, OriginalNotFoundError (its
        subclass) when no file can be served: a web page, a record of a .jsonl corpus, a file
        gone or changed since it was indexed."""
        return self.originals.original(doc_id)

    def source_view(self, doc_id: str) -> SourceView:
        """What a viewer shows of a document: its text as indexed, its pages and sections."""
        return self.originals.source_view(doc_id)

    def highlights(self, doc_id: str, start: int, end: int) -> Highlights:
        """Where the span [start, end) of a document is: its pages and, on a PDF or an image,
        its boxes. SpanError when the span is not inside the document."""
        return self.originals.highlights(doc_id, start, end)

    def page_image(self, doc_id: str, page: int) -> bytes:
        """A PNG of page `page` (1-based) of an image document, as OCR saw it."""
        return self.originals.page_image(doc_id, page)

    def index_version(self) -> str:
        """Which index version answers now (after picking up any newer one): it changes exactly
        when the documents may have, so a page can redraw its list only then."""
        self.retriever.refresh()
        return str(self.retriever.view.version)

    def sync_folders(self, paths: Sequence[Path]) -> IndexReport:
        """Make the index hold exactly the documents under `paths`, as `rag index` does, and
        answer from the new version at once. One indexing at a time, as for uploads."""
        with self._upload_lock:
            report = self._get_indexer().index_paths(list(paths), self.config.index_dir)
            self.retriever.refresh()
            return report

    def watch_folders(self, paths: Sequence[Path], on_batch: Callable[[Batch], None]) -> Callable[[float], None]:
        """Keep the index in step with `paths` from a background thread (rag.indexing.watch).
        The operator asked for it, so a read-only server watches too: read-only is about what
        visitors may change. Returns `stop(timeout)`, which lets the batch under way finish."""
        paths = [Path(p) for p in paths]
        watch = FolderWatch(paths, lambda: self.sync_folders(paths), on_batch,
                            settings=factory.watch_settings(self.config), ignore=[self.config.index_dir])
        stop = threading.Event()

        def run() -> None:
            try:
                watch.run(stop)
            except Exception:  # the server goes on answering from the last version it has
                log.exception("watching %s stopped", ", ".join(map(str, paths)))

        thread = threading.Thread(target=run, name="rag-watch", daemon=True)
        thread.start()
        self.watching = tuple(paths)

        def end(timeout: float = 60.0) -> None:
            stop.set()
            thread.join(timeout)

        return end

    def ask_api(self, question: str, k: int = 5) -> dict:
        """Question in; answer, short answer (or null), abstained flag, citations and timings out, with
        how many of the model's sentences were left out as unsupported (`dropped`, `left_out`)."""
        answer = None
        for event in self.ask_stream(question, [], self.config.generator, k):  # refreshes like the chat
            if isinstance(event, Answer):
                answer = event
        assert answer is not None
        data = answer.to_dict()
        out = {key: data[key] for key in ("question", "answer", "kind", "reason", "short_answer", "abstained",
                                          "citations", "timings", "dropped")}
        out["left_out"] = left_out(answer.dropped) or None
        if self.index_problem:
            out["notice"] = self.index_problem
        return redact_data(out)
