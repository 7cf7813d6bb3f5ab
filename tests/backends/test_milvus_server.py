"""The real Milvus standalone server (PyPI `milvus`, 2.3) on 127.0.0.1: the backend contract, and
dense search, document filters and updates through the milvus backend, keyword search in-process
(2.3 has no BM25)."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from ..conftest import ARTICLE
from ..support.backend_contract import BackendContract

PORT = 19530
START_SECONDS = 180  # about 26 s here, minutes on a loaded machine (the first start unpacks 246 MB)


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def milvus_server(tmp_path_factory):
    """A Milvus standalone server in its own process group, stopped by signalling the whole group:
    the standalone child ignores SIGTERM for seconds."""
    server = shutil.which("milvus-server") or str(Path(sys.executable).parent / "milvus-server")
    if listening(PORT):
        pytest.fail(f"something already listens on 127.0.0.1:{PORT}; stop it to run this test")
    data = tmp_path_factory.mktemp("milvus-server")
    with open(data / "server.log", "wb") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen([server, "--data", str(data / "data")], stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + START_SECONDS
        while not listening(PORT):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"milvus-server did not start; see {data / 'server.log'}")
            time.sleep(1)
        yield f"http://127.0.0.1:{PORT}"
    finally:
        stop_group(proc)


def stop_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM to the group, then SIGKILL to whatever is left of it after `grace` seconds: the
    wrapper exits at once, the standalone server under it may not."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            proc.poll()  # reaps the wrapper, so only live members keep the group
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)
    proc.wait(timeout=5)


@pytest.mark.slow
def test_milvus_standalone_answers_with_dense_search_a_document_filter_and_updates(
        milvus_server, tmp_path, config, embedder, caplog):
    from rag.app import factory
    from rag.app.service import ChatService

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ARTICLE, corpus / ARTICLE.name)
    (corpus / "other.txt").write_text("The Karakoram Highway links Pakistan and China over the Khunjerab Pass.")
    cfg = config.replace(backend="milvus", milvus_uri=milvus_server, milvus_collection="article",
                         corpus_dir=corpus)
    report = factory.indexer(cfg, embedder).index_paths([corpus])
    assert sorted(report.added) == ["imu-pakistan-2014.txt", "other.txt"] and report.n_chunks > 5

    with caplog.at_level(logging.INFO, logger="rag.milvus"):
        retriever = factory.retriever(cfg, embedder=embedder)
    assert [r.getMessage() for r in caplog.records if "no BM25 full-text search" in r.getMessage()]
    hits = retriever.search("When was the IMU first formed?", 3, mode="dense", doc_ids=["imu-pakistan-2014.txt"])
    assert any("late 1990s" in h.text for h in hits) and {h.doc_id for h in hits} == {"imu-pakistan-2014.txt"}
    assert retriever.search("IMU", 3, mode="dense", doc_ids=["nothing.txt"]) == []
    assert any("North Waziristan" in h.text
               for h in retriever.search("Which tribal agency is the group based in?", 3, mode="hybrid"))

    service = ChatService(cfg, embedder=embedder)
    answer = service.ask_api("When was the IMU first formed?")
    assert "1990s" in answer["answer"]

    (corpus / "other.txt").write_text("The Karakoram Highway was finished in 1979 after twenty years of work.")
    update = factory.indexer(cfg, embedder).index_paths([corpus])
    assert (update.updated, update.embedded_chunks) == (["other.txt"], 1)
    assert retriever.refresh()
    (top,) = retriever.search("When was the Karakoram Highway finished?", 1, doc_ids=["other.txt"])
    assert "1979" in top.text


@pytest.mark.slow
class TestMilvusServer(BackendContract):
    """Each test stores in a collection of its own on the one server."""

    @pytest.fixture
    def backend(self, milvus_server, config):
        return config.replace(backend="milvus", milvus_uri=milvus_server,
                              milvus_collection=f"contract_{uuid.uuid4().hex[:12]}")

    def another_store(self, backend, name):
        return backend.replace(milvus_collection=f"{backend.milvus_collection}_{name}")

    def test_a_process_reads_collections_an_operator_released(self, tmp_path, backend, embedder):
        from rag.app import factory

        from ..support.backend_contract import DOCS, READ_ELSEWHERE, elsewhere, where
        from ..support.files import write_docs

        factory.indexer(backend, embedder).index_paths([write_docs(tmp_path / "docs", DOCS)])
        store = factory.backend(backend)
        for name in (store.collection, store.docs):
            store.client.release_collection(name)  # to free the server's memory
        seen = elsewhere(READ_ELSEWHERE, where(backend), "driest desert", cwd=tmp_path)
        assert seen["documents"] == sorted(DOCS) and seen["found"] == [["deserts.txt", DOCS["deserts.txt"]]]
