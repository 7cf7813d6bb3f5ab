"""bench.peers: how it scores retrieval, and its pipelines on a tiny corpus (the peers' own
pipelines only where their packages are installed: bench/requirements-peers.txt)."""

from __future__ import annotations

import json
import os

import pytest

from bench import peers
from rag.core.records import Document
from rag.eval.datasets import EvalQuestion

P = peers.Passage

DOCS = [
    Document(id="rescue", title="Storm rescue", text="Mara Quill, keeper of the Northcliff lighthouse, pulled two "
             "sailors from the water during Monday's storm off the Fenwick coast.", metadata={"date": "2023-01-03"}),
    Document(id="bakery", title="Bread prize", text="The Old Mill bakery in Dunmore won the regional bread prize on "
             "Thursday for its dark rye loaf."),
    Document(id="ferry", title="Ferry timetable", text="From March the Fenwick ferry sails twice a day, and a "
             "third crossing is added on summer weekends."),
]
QA = [
    {"id": "q1", "question": "Which lighthouse does Mara Quill keep?", "answers": ["Northcliff"],
     "answerable": True, "doc_ids": ["rescue", "ferry"], "own_doc_ids": ["rescue"]},
    {"id": "q2", "question": "Which bakery won the regional bread prize this week?", "answers": ["Old Mill"],
     "answerable": True, "doc_ids": ["bakery"], "own_doc_ids": ["bakery"]},
    {"id": "q3", "question": "Who painted the ceiling of the Dunmore town hall?", "answers": [], "answerable": False},
]


def test_recall_and_mrr_count_a_document_once_and_only_answerable_questions():
    q1 = EvalQuestion("q1", "?", ("x",), True, doc_ids=("a", "b"))
    q2 = EvalQuestion("q2", "?", ("x",), True, doc_ids=("c",))
    q3 = EvalQuestion("q3", "?", (), False)
    ranked = {"q1": [P("z", ""), P("a", ""), P("a", ""), P("b", "")],  # first relevant at rank 2
              "q2": [P("y", "")] * 4 + [P("c", "")],  # at rank 5
              "q3": [P("a", "")]}
    m = peers.score([q1, q2, q3], ranked)
    assert (m["recall@1"], m["recall@3"], m["recall@5"], m["recall@10"]) == (0.0, 0.5, 1.0, 1.0)
    assert m["mrr@10"] == pytest.approx((1 / 2 + 1 / 5) / 2)
    assert m["docs@10"] == pytest.approx((3 + 2) / 2)  # distinct documents in each top 10


def test_a_passage_holding_an_evidence_string_is_relevant_whatever_its_document():
    q = EvalQuestion("q", "?", ("x",), True, evidence=("first   formed in\nthe late 1990s",))
    assert peers.relevant_units(q, P("article", "The IMU was first formed in the late 1990s.")) == {"evidence:0"}
    assert peers.relevant_units(q, P("article", "It was formed later.")) == set()


def test_each_relevance_field_a_set_has_is_reported(tmp_path):
    (tmp_path / "qa.jsonl").write_text("\n".join(json.dumps(q) for q in QA) + "\n")
    assert list(peers.relevance_fields(tmp_path / "qa.jsonl")) == ["doc_ids", "own_doc_ids"]
    lenient_only = [{k: v for k, v in q.items() if k != "own_doc_ids"} for q in QA]
    (tmp_path / "lenient.jsonl").write_text("\n".join(json.dumps(q) for q in lenient_only) + "\n")
    assert list(peers.relevance_fields(tmp_path / "lenient.jsonl")) == ["doc_ids"]
    evidence = [{"id": "e", "question": "When?", "answers": ["1990s"], "answerable": True, "evidence": ["1990s"]}]
    (tmp_path / "evidence.jsonl").write_text(json.dumps(evidence[0]) + "\n")
    assert list(peers.relevance_fields(tmp_path / "evidence.jsonl")) == ["evidence"]


def test_the_run_scores_ours_and_bm25_against_both_fields_and_saves_as_it_goes(tmp_path, shared_model):
    (tmp_path / "news").mkdir()
    (tmp_path / "news" / "qa.jsonl").write_text("\n".join(json.dumps(q) for q in QA) + "\n")
    (tmp_path / "news" / "corpus.jsonl").write_text(
        "\n".join(json.dumps({"id": d.id, "title": d.title, "text": d.text}) for d in DOCS) + "\n")
    saved = []
    result = peers.run_set(tmp_path / "news", None, ["ours", "ours-bm25", "bm25s"], peers.model_path(),
                           log=lambda m: None, progress=lambda r: saved.append(list(r.latency_ms)))
    assert saved == [["ours"], ["ours", "ours-bm25"], ["ours", "ours-bm25", "bm25s"]]
    assert set(result.build) == {"ours", "bm25s"}  # the bm25 mode searches the index ours built
    assert result.build["ours"]["passages"] == 3 and result.build["ours"]["seconds"] > 0
    # Every pipeline embeds on every core, as `rag index` does, whatever FAISS set OpenMP to.
    assert {b["torch_threads"] for b in result.build.values()} == {os.cpu_count()}
    for field in ("doc_ids", "own_doc_ids"):
        for name in ("ours", "ours-bm25", "bm25s"):
            assert result.relevance[field][name]["recall@1"] == 1.0, (field, name)
    table = peers.render(result)
    assert "relevance: own_doc_ids" in table and "(=ours)" in table


def test_the_peer_pipelines_retrieve_by_document_offline_and_without_an_llm():
    pytest.importorskip("llama_index.core")
    pytest.importorskip("llama_index.embeddings.huggingface")
    pytest.importorskip("langchain_text_splitters")
    from llama_index.core import Settings

    model = peers.model_path()
    for pipeline in (peers.LlamaIndexDefault(model), peers.LangChainStyle(model)):
        stats = pipeline.build(DOCS)
        assert stats.passages == 3 and stats.tokens > 30
        hits = pipeline.search("Which bakery won the regional bread prize this week?", 10)
        assert [h.doc_id for h in hits][:1] == ["bakery"] and len(hits) == 3
        assert "rye loaf" in hits[0].text
    assert type(Settings.llm).__name__ == "MockLLM"  # Settings.llm = None: nothing can call a model
