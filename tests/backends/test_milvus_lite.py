"""The backend contract on Milvus through milvus-lite (a local file), and what only the Milvus
backend does: its filter expressions, keyword search in this process for a server without BM25,
the same figures as the local backend, its settings and its token."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from rag.app import factory
from rag.backends import Filters
from rag.core.config import Config
from rag.core.errors import ConfigError

from ..conftest import ROOT, backend_config
from ..support.backend_contract import DOCS, BackendContract
from ..support.files import write_docs


class TestMilvusLite(BackendContract):
    shared_with_other_processes = False  # milvus-lite opens a file in one process at a time

    @pytest.fixture
    def backend(self, config, tmp_path):
        return backend_config(config, "milvus", tmp_path)

    def another_store(self, backend, name):
        return backend.replace(milvus_uri=str(Path(backend.milvus_uri).parent / name / "m.db"))


def test_milvus_filter_expressions_quote_every_value():
    from rag.backends.milvus import expression

    assert expression(Filters()) == ""
    assert expression(Filters(frozenset({'x"y', "a\\b"}), "2014-01-01", "2014-12-31")) == (
        'doc_id in ["a\\\\b", "x\\"y"] and date != "" and date >= "2014-01-01" and date <= "2014-12-31"')


@pytest.mark.slow
def test_both_backends_give_the_same_retrieval_figures_on_the_article_set(tmp_path, config, embedder):
    from rag.eval.datasets import load_eval_set
    from rag.eval.run import evaluate

    eval_set = load_eval_set(ROOT / "eval" / "article.jsonl")
    figures = {}
    for backend in ("local", "milvus"):
        cfg = backend_config(config, backend, tmp_path / backend)
        report = evaluate(eval_set, cfg, index_dir=None, progress=False, log=lambda _: None, embedder=embedder,
                          corpus=ROOT / "corpus")
        figures[backend] = {m: {k: v for k, v in metrics.items() if k.startswith("retrieval.")}
                            for m, metrics in [("hybrid", report["metrics"]), *report["baselines"].items()]}
    for method, local in figures["local"].items():
        for name, value in local.items():
            assert figures["milvus"][method][name] == pytest.approx(value, abs=0.01), (method, name)


def test_a_server_without_full_text_search_ranks_keywords_here_and_says_so_once(
        tmp_path, config, embedder, monkeypatch, caplog):
    import rag.backends.milvus as milvus

    monkeypatch.setattr(milvus, "has_full_text", lambda version: False)  # as on Milvus 2.3
    docs = write_docs(tmp_path / "docs", DOCS)
    local = backend_config(config, "local", tmp_path)
    plain = backend_config(config, "milvus", tmp_path).replace(milvus_collection="no_bm25")
    for cfg in (local, plain):
        factory.indexer(cfg, embedder).index_paths([docs])
    with caplog.at_level(logging.INFO, logger="rag.milvus"):
        retriever = factory.retriever(plain, embedder=embedder)
        retriever.refresh()
        hits = retriever.search("driest desert Chile", 3, mode="bm25")
    said = [r for r in caplog.records if "no BM25 full-text search" in r.getMessage()]
    assert len(said) == 1
    expected = factory.retriever(local, embedder=embedder).search("driest desert Chile", 3, mode="bm25")
    assert [(h.chunk.id, round(h.score, 4)) for h in hits] == [(h.chunk.id, round(h.score, 4)) for h in expected]
    assert retriever.search("Chile", 3, mode="bm25", doc_ids=["rivers.txt"]) == []


def test_milvus_settings_are_checked_when_loaded(monkeypatch):
    assert Config(backend="milvus", milvus_uri="http://milvus.example:19530").milvus_collection == "rag_chunks"
    for bad in ({"backend": "qdrant"}, {"milvus_collection": "no-dashes"}, {"milvus_collection": ""},
                {"milvus_uri": "ftp://host:1"}, {"milvus_uri": "http://host:notaport"},
                {"milvus_uri": "data/milvus"}, {"milvus_uri": " "}, {"milvus_token_env": "NOT A NAME"}):
        with pytest.raises(ConfigError):
            Config(**bad)
    with pytest.raises(ConfigError, match="RAG_MILVUS_TOKEN") as err:
        Config(milvus_uri="https://user:s3cret-password@cloud.example:443")
    assert "s3cret" not in str(err.value)
    monkeypatch.setenv("RAG_BACKEND", "milvus")
    monkeypatch.setenv("RAG_MILVUS_URI", "http://localhost:19530")
    assert Config.load().backend == "milvus"


def test_the_milvus_token_never_reaches_the_log_or_an_error(tmp_path, config, monkeypatch, caplog):
    from rag.backends.milvus import MilvusBackend, MilvusError
    from rag.safety.redact import install_log_redaction

    token = "root:Milvus-s3cret-token-123"
    monkeypatch.setenv("RAG_MILVUS_TOKEN", token)
    install_log_redaction()
    cfg = config.replace(backend="milvus", milvus_uri="http://127.0.0.1:9/")  # nothing listens on port 9
    with caplog.at_level(logging.DEBUG), pytest.raises(MilvusError) as err:
        MilvusBackend(factory.milvus_settings(cfg)).read_manifest()
    assert token not in str(err.value)
    assert all(token not in r.getMessage() for r in caplog.records)


def test_collections_released_while_a_retriever_is_open_are_loaded_again(tmp_path, config, embedder):
    cfg = backend_config(config, "milvus", tmp_path)
    factory.indexer(cfg, embedder).index_paths([write_docs(tmp_path / "docs", DOCS)])
    retriever = factory.retriever(cfg, embedder=embedder)
    backend = factory.backend(cfg)
    for name in (backend.collection, backend.docs):
        backend.client.release_collection(name)  # as an operator freeing the server's memory does
    assert [h.doc_id for h in retriever.search("driest desert", 1)] == ["deserts.txt"]
    assert set(factory.backend(cfg).read_manifest().documents) == set(DOCS)


def test_what_pymilvus_logs_about_a_failed_call_stays_off_the_terminal(tmp_path, config, capfd, monkeypatch):
    from rag.backends.milvus import MilvusError

    seen: list[logging.LogRecord] = []  # what reaches the application's handlers (the root logger's)
    handler = logging.Handler()
    handler.emit = seen.append
    root, own = logging.getLogger(), logging.getLogger("rag.milvus")
    monkeypatch.setattr(root, "handlers", [handler])
    levels = root.level, own.level
    backend = factory.backend(backend_config(config, "milvus", tmp_path))
    try:
        root.setLevel(logging.INFO)
        with pytest.raises(MilvusError, match="no_such_collection"):
            backend.call("query", "no_such_collection", ids=["x"])
        assert capfd.readouterr().err == ""
        assert not [r for r in seen if r.name.startswith(("pymilvus", "milvus_lite"))]
        own.setLevel(logging.DEBUG)  # as a debug log is configured
        with pytest.raises(MilvusError):
            backend.call("query", "no_such_collection", ids=["x"])
        assert any(r.name.startswith("pymilvus") and r.levelno == logging.DEBUG and "Traceback" in r.getMessage()
                   for r in seen)
    finally:
        root.setLevel(levels[0])
        own.setLevel(levels[1])
