"""A server watching its corpus: a file dropped into the folder is answered from, and listed,
without a restart; a read-only server watches too when its operator asks."""

from __future__ import annotations

import shutil

import pytest

from rag.app import factory
from rag.app.service import ChatService
from rag.core.config import Config
from tests.support.files import write

from ..conftest import ARTICLE
from ..support.waiting import until


@pytest.fixture(params=[False, True], ids=["writable", "read-only"])
def served(request, tmp_path, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ARTICLE, corpus / ARTICLE.name)
    config = Config(corpus_dir=corpus, index_dir=tmp_path / "index", read_only=request.param,
                    watch_debounce_ms=300, watch_quiet_ms=100)
    factory.indexer(config, embedder).index_paths([corpus], config.index_dir)
    service = ChatService(config, embedder=embedder)
    lines: list[str] = []
    stop = service.watch_folders([corpus], lambda batch: lines.extend(batch.lines()))
    until(lambda: lines, 30, "first sync")
    yield corpus, service, lines
    stop(30)


def test_a_file_dropped_into_the_watched_corpus_is_answered_and_listed(served):
    corpus, service, lines = served
    version = service.index_version()
    write(corpus / "lighthouse.txt", "The Zanzibar lighthouse keeper is named Omari Juma. He has kept the light "
                                     "since 1998.")
    until(lambda: service.index_version() != version, 5, "new index version")
    assert "lighthouse.txt" in {d.id for d in service.list_documents()}
    answer = service.ask_api("Who is the Zanzibar lighthouse keeper?")
    assert "Omari Juma" in answer["answer"]
    assert {c["doc_id"] for c in answer["citations"]} == {"lighthouse.txt"}
    assert any("added lighthouse.txt" in line for line in lines), lines

    (corpus / "lighthouse.txt").unlink()
    until(lambda: "lighthouse.txt" not in {d.id for d in service.list_documents()}, 5, "removal")
    assert service.ask_api("Who is the Zanzibar lighthouse keeper?")["abstained"]
