"""What every storage backend must do, written once and run against each backend.

A test class per backend subclasses `BackendContract` (tests/backends/test_local.py, test_milvus_lite.py
and the standalone Milvus server in test_milvus_server.py) and provides the `backend` fixture: settings
(a `Config`) for an empty store of that backend, owned by the test. `another_store` gives settings for
a second empty store beside it. The contract goes through the indexer, the retriever and the chat
service, as `rag index`, `rag ask` and the web chat do; what only one backend does is tested beside
its subclass.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from rag.app import factory
from rag.backends import Filters
from rag.core.config import Config
from rag.core.records import Document

from ..conftest import ROOT
from .files import write_docs

DOCS = {
    "rivers.txt": "The Danube flows through ten countries before it reaches the Black Sea.",
    "mountains.txt": "Mount Elbrus in the Caucasus is the highest mountain in Europe.",
    "deserts.txt": "The Atacama desert in Chile is one of the driest places on Earth.",
}

# What another process reads from a store: its documents, its size, and a keyword search (which
# loads no embedding model, so the process starts in a second).
READ_ELSEWHERE = """
import json, sys
from rag.app import factory
from rag.backends import Filters
from rag.core.config import Config

view = factory.backend(Config.load(**json.loads(sys.argv[1]))).open()
keys = [key for key, _ in view.lexical(sys.argv[2], 3, Filters())]
print(json.dumps({"documents": sorted(view.manifest.documents), "chunks": len(view),
                  "found": [(c.doc_id, c.text) for c in view.chunks(keys)]}))
"""

# What another process writes: DOCS, embedded by hashing their words (no model to load either).
WRITE_ELSEWHERE = """
import json, sys, zlib
from pathlib import Path
import numpy as np
from rag.app import factory
from rag.core.config import Config

class HashedWords:
    name, dim, max_tokens = "hashed-words", 32, 256

    def encode_queries(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in zip(out, texts):
            for word in text.lower().split():
                row[zlib.crc32(word.encode()) % self.dim] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)

    def encode_passages(self, texts, *, show_progress=False):
        return self.encode_queries(texts)

    def count_tokens(self, text):
        return len(text.split())

    def fits(self, text):
        return self.count_tokens(text) <= self.max_tokens

report = factory.indexer(Config.load(**json.loads(sys.argv[1])), HashedWords()).index_paths([Path(sys.argv[2])])
print(json.dumps({"added": sorted(report.added)}))
"""


def elsewhere(script: str, *args: str, cwd) -> dict:
    """Run `script` with `args` in a new Python process; what it printed last, as JSON."""
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def where(backend: Config) -> str:
    """The settings that name `backend`'s store, for another process."""
    return json.dumps({"backend": backend.backend, "index_dir": str(backend.index_dir),
                       "milvus_uri": backend.milvus_uri, "milvus_collection": backend.milvus_collection})


class BackendContract:
    """Write per document, delete by document id, list and count, search in every mode with exact
    spans, filter by document and date, and be seen by other instances and processes."""

    # Whether another process may open the store while this one has it open.
    shared_with_other_processes = True

    @pytest.fixture
    def backend(self) -> Config:
        raise NotImplementedError("a backend's test class provides settings for an empty store")

    def another_store(self, backend: Config, name: str) -> Config:
        """Settings for a second empty store of the same backend, beside `backend`'s."""
        raise NotImplementedError

    # --- writing, one document at a time ---

    def test_indexing_again_embeds_only_added_or_changed_documents_and_drops_removed_ones(
            self, tmp_path, backend, embedder):
        docs = write_docs(tmp_path / "docs", DOCS)
        indexer = factory.indexer(backend, embedder)
        first = indexer.index_paths([docs])
        assert sorted(first.added) == sorted(DOCS) and first.embedded_chunks == 3

        again = indexer.index_paths([docs])
        assert not again.changed and again.embedded_chunks == 0

        (docs / "rivers.txt").write_text("The Rhine rises in the Swiss Alps and flows into the North Sea.")
        (docs / "deserts.txt").unlink()
        (docs / "lakes.txt").write_text("Lake Baikal in Siberia is the deepest lake in the world.")
        update = indexer.index_paths([docs])
        assert (update.added, update.updated, update.removed) == (["lakes.txt"], ["rivers.txt"], ["deserts.txt"])
        assert update.embedded_chunks == 2 and update.n_chunks == 3

        retriever = factory.retriever(backend, embedder=embedder)
        assert sorted(retriever.documents) == ["lakes.txt", "mountains.txt", "rivers.txt"]
        assert len(retriever) == 3
        assert retriever.search("Which river flows into the North Sea?", 1)[0].doc_id == "rivers.txt"
        assert all("Danube" not in h.text and h.doc_id != "deserts.txt" for h in retriever.search("Danube desert", 10))

    def test_documents_removed_by_id_leave_the_store_and_the_others_stay(self, tmp_path, backend, embedder):
        indexer = factory.indexer(backend, embedder)
        indexer.index_paths([write_docs(tmp_path / "docs", DOCS)])
        removal = indexer.remove_documents(["rivers.txt", "deserts.txt"])
        assert sorted(removal.removed) == ["deserts.txt", "rivers.txt"] and removal.n_chunks == 1
        assert [d.id for d in indexer.list_documents()] == ["mountains.txt"]
        retriever = factory.retriever(backend, embedder=embedder)
        assert len(retriever) == 1
        for mode in ("dense", "bm25", "hybrid"):
            assert {h.doc_id for h in retriever.search("Danube desert mountain", 10, mode=mode)} <= {"mountains.txt"}

    # --- reading ---

    def test_every_search_mode_returns_ranked_hits_whose_text_is_their_documents_span(
            self, tmp_path, backend, embedder):
        factory.indexer(backend, embedder).index_paths([write_docs(tmp_path / "docs", DOCS)])
        retriever = factory.retriever(backend, embedder=embedder)
        for mode in ("dense", "bm25", "hybrid"):
            hits = retriever.search("Which is the highest mountain in Europe?", 3, mode=mode)
            assert hits[0].doc_id == "mountains.txt", mode
            assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
            assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))
            for h in hits:
                assert DOCS[h.doc_id][h.start:h.end] == h.text and h.text

    def test_filters_by_document_and_date_are_applied_by_the_store(self, tmp_path, backend, embedder):
        docs = tmp_path / "docs"
        docs.mkdir()
        (docs / "news.jsonl").write_text(
            '{"id": "a", "title": "A", "text": "Floods hit the valley in spring.", "date": "2014-04-02"}\n'
            '{"id": "b", "title": "B", "text": "Floods hit the valley again in autumn.", "date": "2015-10-09"}\n'
            '{"id": "c", "title": "C", "text": "Floods were feared in the valley.", "date": ""}\n', encoding="utf-8")
        factory.indexer(backend, embedder).index_paths([docs])
        retriever = factory.retriever(backend, embedder=embedder)
        assert {h.doc_id for h in retriever.search("floods in the valley", 5)} == {"a", "b", "c"}
        for mode in ("dense", "bm25", "hybrid"):
            assert [h.doc_id for h in retriever.search("floods", 5, mode=mode, doc_ids=["b"])] == ["b"]
            assert [h.doc_id for h in retriever.search("floods", 5, mode=mode, date_to="2014-12-31")] == ["a"]
            assert [h.doc_id for h in retriever.search("floods", 5, mode=mode, date_from="2015-01-01")] == ["b"]
        # A document id holding quotes is a value, not part of the expression.
        assert retriever.search("floods", 5, doc_ids=['a" or doc_id != "']) == []

    def test_with_chunk_context_a_passage_is_found_by_its_documents_title_and_date(self, backend, embedder):
        """The passage never names its subject; only the title does. With `chunk_context` the header
        reaches the keyword side and the embedder, and comes back with the chunk, on every backend."""
        passage = "The firing lasts ten days and the kiln burns forty tonnes of red pine."
        docs = [Document("bizen", "Bizen pottery", passage, metadata={"date": "2023-05-01"}),
                Document("other", "Shigaraki ware", "The clay is coarse and full of feldspar.", metadata={})]
        plain = backend.replace(chunk_context=False)
        factory.indexer(plain, embedder).sync(docs, plain.index_dir)
        assert factory.retriever(plain, embedder=embedder).search("Bizen", 2, mode="bm25") == []

        config = self.another_store(plain, "context").replace(chunk_context=True)
        factory.indexer(config, embedder).sync(docs, config.index_dir)
        retriever = factory.retriever(config, embedder=embedder)
        (hit,) = retriever.search("Bizen", 1, mode="bm25")
        assert hit.doc_id == "bizen" and hit.text == passage  # the span is the passage alone
        assert hit.chunk.header == "Bizen pottery · 2023-05-01"
        assert retriever.search("Bizen 2023-05-01", 1, mode="dense")[0].doc_id == "bizen"
        expected = embedder.encode_passages([hit.chunk.header + "\n" + passage])[0]
        (key,) = retriever.view.dense(expected, 1, Filters())  # the stored vector is what the embedder read
        assert retriever.view.chunks([key])[0].id == hit.chunk.id
        assert np.allclose(retriever.view.vectors([key])[0], expected, atol=1e-5)

    # --- other instances and processes ---

    def test_an_open_retriever_finds_an_update_once_it_refreshes(self, tmp_path, backend, embedder):
        docs = write_docs(tmp_path / "docs", DOCS)
        factory.indexer(backend, embedder).index_paths([docs])
        retriever = factory.retriever(backend, embedder=embedder)
        assert retriever.refresh() is False  # nothing changed
        (docs / "rivers.txt").write_text("The Karakoram Highway was finished in 1979 after twenty years of work.")
        update = factory.indexer(backend, embedder).index_paths([docs])  # another writer, as it were
        assert (update.updated, update.embedded_chunks) == (["rivers.txt"], 1)
        assert retriever.refresh()
        (top,) = retriever.search("When was the Karakoram Highway finished?", 1, doc_ids=["rivers.txt"])
        assert "1979" in top.text

    def test_two_services_on_one_store_see_each_others_uploads_and_removals(self, tmp_path, backend, embedder):
        from rag.app.service import ChatService

        cfg = backend.replace(corpus_dir=tmp_path / "corpus")
        factory.indexer(cfg, embedder).index_paths([write_docs(tmp_path / "corpus", {"rivers.txt": DOCS["rivers.txt"]})])
        first, second = ChatService(cfg, embedder=embedder), ChatService(cfg, embedder=embedder)
        first.upload("glaciers.txt", b"The Aletsch glacier is the largest glacier in the Alps.")
        assert {d.id for d in second.list_documents()} == {"rivers.txt", "uploads/glaciers.txt"}
        answer = second.ask_api("Which is the largest glacier in the Alps?")
        assert "Aletsch" in answer["answer"]
        assert any(c["doc_id"] == "uploads/glaciers.txt" for c in answer["citations"])
        second.remove_documents(["uploads/glaciers.txt"])
        assert {d.id for d in first.list_documents()} == {"rivers.txt"}
        assert not (tmp_path / "corpus" / "uploads" / "glaciers.txt").exists()

    def test_another_process_reads_what_this_one_wrote(self, tmp_path, backend, embedder):
        if not self.shared_with_other_processes:
            pytest.skip("this store is opened by one process at a time")
        factory.indexer(backend, embedder).index_paths([write_docs(tmp_path / "docs", DOCS)])
        seen = elsewhere(READ_ELSEWHERE, where(backend), "driest desert", cwd=tmp_path)
        assert seen["documents"] == sorted(DOCS) and seen["chunks"] == 3
        assert seen["found"] == [["deserts.txt", DOCS["deserts.txt"]]]

    def test_a_process_started_after_the_writer_ended_reads_what_it_wrote(self, tmp_path, backend):
        # As `rag index` and then `rag search`: milvus-lite 3 opens a file with every collection released.
        wrote = elsewhere(WRITE_ELSEWHERE, where(backend), str(write_docs(tmp_path / "docs", DOCS)), cwd=tmp_path)
        assert wrote["added"] == sorted(DOCS)
        seen = elsewhere(READ_ELSEWHERE, where(backend), "driest desert", cwd=tmp_path)
        assert seen["documents"] == sorted(DOCS) and seen["chunks"] == 3
        assert seen["found"] == [["deserts.txt", DOCS["deserts.txt"]]]

