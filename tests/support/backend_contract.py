"""The same behaviour on every storage backend: local index directory and Milvus (milvus-lite)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from rag.backends import Filters
from rag.core.config import Config
from rag.core.errors import ConfigError
from rag.indexing.indexer import Indexer
from rag.retrieval.retriever import Retriever

from .conftest import ROOT, backend_config


def write_docs(folder: Path, docs: dict[str, str]) -> Path:
    folder.mkdir(exist_ok=True)
    for name, text in docs.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


DOCS = {
    "rivers.txt": "The Danube flows through ten countries before it reaches the Black Sea.",
    "mountains.txt": "Mount Elbrus in the Caucasus is the highest mountain in Europe.",
    "deserts.txt": "The Atacama desert in Chile is one of the driest places on Earth.",
}


def test_indexing_again_embeds_only_added_or_changed_documents_and_drops_removed_ones(
        tmp_path, any_backend, embedder):
    docs = write_docs(tmp_path / "docs", DOCS)
    indexer = Indexer(any_backend, embedder)
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

    retriever = Retriever.load(config=any_backend, embedder=embedder)
    assert sorted(retriever.documents) == ["lakes.txt", "mountains.txt", "rivers.txt"]
    assert len(retriever) == 3
    assert retriever.search("Which river flows into the North Sea?", 1)[0].doc_id == "rivers.txt"
    assert all("Danube" not in h.text and h.doc_id != "deserts.txt" for h in retriever.search("Danube desert", 10))


def test_filters_by_document_and_date_are_applied_by_the_store(tmp_path, any_backend, embedder):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "news.jsonl").write_text(
        '{"id": "a", "title": "A", "text": "Floods hit the valley in spring.", "date": "2014-04-02"}\n'
        '{"id": "b", "title": "B", "text": "Floods hit the valley again in autumn.", "date": "2015-10-09"}\n'
        '{"id": "c", "title": "C", "text": "Floods were feared in the valley.", "date": ""}\n', encoding="utf-8")
    Indexer(any_backend, embedder).index_paths([docs])
    retriever = Retriever.load(config=any_backend, embedder=embedder)
    assert {h.doc_id for h in retriever.search("floods in the valley", 5)} == {"a", "b", "c"}
    for mode in ("dense", "bm25", "hybrid"):
        assert [h.doc_id for h in retriever.search("floods", 5, mode=mode, doc_ids=["b"])] == ["b"]
        assert [h.doc_id for h in retriever.search("floods", 5, mode=mode, date_to="2014-12-31")] == ["a"]
        assert [h.doc_id for h in retriever.search("floods", 5, mode=mode, date_from="2015-01-01")] == ["b"]
    # A document id holding quotes is a value, not part of the expression.
    assert retriever.search("floods", 5, doc_ids=['a" or doc_id != "']) == []


def test_with_chunk_context_a_passage_is_found_by_its_documents_title_and_date(tmp_path, any_backend, embedder):
    """The passage never names its subject; only the title does. With `chunk_context` the header
    reaches the keyword side and the embedder, and comes back with the chunk, on both backends."""
    import numpy as np

    from rag.core.records import Document

    passage = "The firing lasts ten days and the kiln burns forty tonnes of red pine."
    docs = [Document("bizen", "Bizen pottery", passage, metadata={"date": "2023-05-01"}),
            Document("other", "Shigaraki ware", "The clay is coarse and full of feldspar.", metadata={})]
    plain = any_backend.replace(chunk_context=False)
    Indexer(plain, embedder).sync(docs, plain.index_dir)
    assert Retriever.load(config=plain, embedder=embedder).search("Bizen", 2, mode="bm25") == []

    store = tmp_path / "context"
    store.mkdir()
    config = backend_config(plain.replace(chunk_context=True), plain.backend, store)
    Indexer(config, embedder).sync(docs, config.index_dir)
    retriever = Retriever.load(config=config, embedder=embedder)
    (hit,) = retriever.search("Bizen", 1, mode="bm25")
    assert hit.doc_id == "bizen" and hit.text == passage  # the span is the passage alone
    assert hit.chunk.header == "Bizen pottery · 2023-05-01"
    assert retriever.search("Bizen 2023-05-01", 1, mode="dense")[0].doc_id == "bizen"
    expected = embedder.encode_passages([hit.chunk.header + "\n" + passage])[0]
    (key,) = retriever.view.dense(expected, 1, Filters())  # the stored vector is what the embedder read
    assert retriever.view.chunks([key])[0].id == hit.chunk.id
    assert np.allclose(retriever.view.vectors([key])[0], expected, atol=1e-5)


def test_milvus_filter_expressions_quote_every_value():
    from rag.backends.milvus import expression

    assert expression(Filters()) == ""
    assert expression(Filters(frozenset({'x"y', "a\\b"}), "2014-01-01", "2014-12-31")) == (
        'doc_id in ["a\\\\b", "x\\"y"] and date != "" and date >= "2014-01-01" and date <= "2014-12-31"')


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
        Indexer(cfg, embedder).index_paths([docs])
    with caplog.at_level(logging.INFO, logger="rag.milvus"):
        retriever = Retriever.load(config=plain, embedder=embedder)
        retriever.refresh()
        hits = retriever.search("driest desert Chile", 3, mode="bm25")
    said = [r for r in caplog.records if "no BM25 full-text search" in r.getMessage()]
    assert len(said) == 1
    expected = Retriever.load(config=local, embedder=embedder).search("driest desert Chile", 3, mode="bm25")
    assert [(h.chunk.id, round(h.score, 4)) for h in hits] == [(h.chunk.id, round(h.score, 4)) for h in expected]
    assert retriever.search("Chile", 3, mode="bm25", doc_ids=["rivers.txt"]) == []


def test_two_services_on_one_milvus_see_each_others_uploads_and_removals(tmp_path, config, embedder):
    from rag.app.service import ChatService

    cfg = backend_config(config, "milvus", tmp_path).replace(corpus_dir=tmp_path / "corpus")
    Indexer(cfg, embedder).index_paths([write_docs(tmp_path / "corpus", {"rivers.txt": DOCS["rivers.txt"]})])
    first, second = ChatService(cfg, embedder=embedder), ChatService(cfg, embedder=embedder)
    first.upload("glaciers.txt", b"The Aletsch glacier is the largest glacier in the Alps.")
    assert {d.id for d in second.list_documents()} == {"rivers.txt", "uploads/glaciers.txt"}
    answer = second.ask_api("Which is the largest glacier in the Alps?")
    assert "Aletsch" in answer["answer"]
    assert any(c["doc_id"] == "uploads/glaciers.txt" for c in answer["citations"])
    second.remove_documents(["uploads/glaciers.txt"])
    assert {d.id for d in first.list_documents()} == {"rivers.txt"}
    assert not (tmp_path / "corpus" / "uploads" / "glaciers.txt").exists()


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
        MilvusBackend(cfg).read_manifest()
    assert token not in str(err.value)
    assert all(token not in r.getMessage() for r in caplog.records)


def test_the_backends_bench_measures_each_backend_alike_and_stops_a_slow_one_at_its_budget(tmp_path, any_backend):
    from bench.backends import run_backend
    from bench.scale import _chunks, synthetic_texts, synthetic_vectors

    vectors, topic_of = synthetic_vectors(400)
    chunks = _chunks(synthetic_texts(topic_of))
    full = run_backend(any_backend, chunks, vectors, n_queries=5)
    assert full["queries"] == 5 == len(full["dense_ms"]) == len(full["hybrid_ms"]) == len(full["filtered_ms"])
    assert full["recall@10"] == 1.0  # exact search on both sides, so nothing is lost
    store = tmp_path / "again"
    store.mkdir()
    again = any_backend.replace(index_dir=store / "index", milvus_uri=str(store / "m.db"))
    cut = run_backend(again, chunks, vectors, n_queries=5, budget_s=0.0)
    assert cut["queries"] == 1  # out of time at once, yet one query is measured
