"""The library entry point: `Retriever.load(dir).search(question, k)`."""

from __future__ import annotations

import numpy as np
import pytest

from rag.app import factory
from rag.core.errors import QuestionError
from rag.core.records import Hit
from rag.retrieval.retriever import _scaled_sum

from ..conftest import ARTICLE


@pytest.fixture
def retriever(article_retriever):
    """Every test taking `retriever` runs on both backends (local and milvus-lite)."""
    return article_retriever


def test_top_hit_for_when_the_imu_was_formed_contains_late_1990s(retriever):
    hits = retriever.search("When was the IMU first formed?", k=5)
    assert "late 1990s" in hits[0].text


def test_hits_are_typed_ranked_and_point_into_the_document(retriever):
    text = ARTICLE.read_text(encoding="utf-8")
    hits = retriever.search("Where is the IMU based now?", k=3)
    assert [h.rank for h in hits] == [1, 2, 3]
    assert all(isinstance(h, Hit) for h in hits)
    assert hits[0].score >= hits[1].score >= hits[2].score
    for h in hits:
        assert h.doc_id == "imu-pakistan-2014.txt"
        assert h.title == "With Recent Attacks, the IMU Seeks to Raise Its Profile in Pakistan"
        assert h.start < h.end
        assert h.text.replace("go to top", "") in text


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_every_retrieval_mode_finds_north_waziristan(retriever, mode):
    hits = retriever.search("Which tribal agency is the group based in?", k=3, mode=mode)
    assert any("North Waziristan" in h.text for h in hits)


def test_hybrid_hits_carry_both_retriever_scores(retriever):
    (hit,) = retriever.search("Karachi airport attack", k=1)
    assert set(hit.scores_by_retriever) == {"dense", "bm25"}


def test_score_fusion_keeps_a_passage_the_embedder_is_sure_of_ahead_of_one_both_merely_list():
    # Cosines 0.9 / 0.5 / 0.4: "sure" leads the dense list by far but BM25 did not return it;
    # "listed" is second in both lists. Rank fusion puts "listed" first (two good ranks); the
    # scaled scores keep the embedder's clear winner.
    dense = {"sure": 0.9, "listed": 0.5, "other": 0.4}
    bm25 = {"listed": 10.0, "other": 9.0}
    fused = _scaled_sum(list(dense), [(0.65, dense), (0.35, bm25)])
    assert max(fused, key=fused.get) == "sure"
    assert fused == pytest.approx({"sure": 0.65, "listed": 0.65 * 0.2 + 0.35, "other": 0.35 * 0.9})
    rrf = {p: 0.65 / (61 + sorted(dense, key=dense.get, reverse=True).index(p))
           + (0.35 / (61 + sorted(bm25, key=bm25.get, reverse=True).index(p)) if p in bm25 else 0) for p in dense}
    assert max(rrf, key=rrf.get) == "listed"


def test_a_method_whose_scores_are_all_equal_or_weighted_zero_does_not_move_the_order():
    dense = {"a": 0.3, "b": 0.7}
    assert _scaled_sum(["a", "b"], [(1.0, dense), (1.0, {"a": 2.0, "b": 2.0})]) == {"a": 0.0, "b": 1.0}
    assert _scaled_sum(["a", "b"], [(1.0, dense), (0.0, {"a": 5.0})]) == {"a": 0.0, "b": 1.0}


@pytest.mark.parametrize("fusion", ["scores", "rrf"])
def test_either_fusion_finds_the_karachi_attack_passage_first(article_index, config, embedder, fusion):
    retriever = factory.retriever(config.replace(fusion=fusion), article_index, embedder=embedder)
    (hit,) = retriever.search("When did the IMU attack Karachi airport?", k=1)
    assert "Karachi" in hit.text


def test_k_larger_than_the_index_returns_every_chunk_once(retriever):
    hits = retriever.search("IMU", k=1000)
    assert len(hits) == len(retriever) == len({h.chunk.id for h in hits})


def test_filters_restrict_hits_to_documents_and_dates(retriever):
    assert retriever.search("IMU", k=3, doc_ids=["other.txt"]) == []
    assert len(retriever.search("IMU", k=3, doc_ids=["imu-pakistan-2014.txt"])) == 3
    assert len(retriever.search("IMU", k=3, date_from="2014-01-01", date_to="2014-12-31")) == 3
    assert retriever.search("IMU", k=3, date_from="2015-01-01") == []


@pytest.mark.parametrize("question", ["", "   \n\t", "x" * 100_000, "caf\udce9"])
def test_unusable_questions_raise_a_clear_error(retriever, question):
    with pytest.raises(QuestionError) as err:
        retriever.search(question)
    assert str(err.value)


def test_a_near_duplicate_of_a_better_passage_is_skipped(tmp_path, any_backend, embedder):

    config = any_backend
    docs = tmp_path / "docs"
    docs.mkdir()
    snippet = "Lionel Messi won the 2022 World Cup with Argentina after a penalty shoot-out against France."
    (docs / "site-a.txt").write_text(snippet)
    (docs / "site-b.txt").write_text(snippet)  # the same story syndicated on a second site
    (docs / "other.txt").write_text("Kylian Mbappé scored a hat-trick for France in the 2022 World Cup final.")
    factory.indexer(config, embedder).index_paths([docs])
    hits = factory.retriever(config, embedder=embedder).search("Who won the 2022 World Cup?", 3)
    assert len({h.doc_id for h in hits} & {"site-a.txt", "site-b.txt"}) == 1
    assert "other.txt" in {h.doc_id for h in hits}
    everything = factory.retriever(config.replace(dedup_similarity=1.0), embedder=embedder)
    assert len(everything.search("Who won the 2022 World Cup?", 3)) == 3


TOWN_NEWS = ("The city council met on Tuesday to discuss the budget for the coming year. Bread prices rose again "
             "at the market, and bakers blamed the cost of flour. Heavy rain is expected over the weekend, with "
             "flooding possible near the river. The school board approved a new timetable for the autumn term. "
             "The IMU was founded in 1998 by Tahir Yuldashev and Juma Namangani. A local football club won its "
             "third match in a row, and tickets for the final sold out within hours. The new bridge over the "
             "river will open in spring, two years late and well over budget.")
MILITANTS = ("The IMU fighters are based in North Waziristan. The IMU claimed the Karachi airport attack. "
             "The IMU has pledged allegiance to the Islamic State.")


def test_small_to_big_ranks_a_passage_by_the_sentence_that_answers_and_hands_over_the_whole_passage(
        tmp_path, any_backend, embedder):
    from rag.core.records import Document

    factory.indexer(any_backend, embedder).sync([Document("town", "Town news", TOWN_NEWS),
                                         Document("militants", "Militants", MILITANTS)])
    question = "Who founded the IMU?"
    by_passage = factory.retriever(any_backend, embedder=embedder).search(question, 2, mode="dense")
    # One vector per passage: the answer is one sentence in seven about other things, and a passage
    # about the group without the answer ranks first.
    assert [h.doc_id for h in by_passage] == ["militants", "town"]
    assert all("sentence" not in h.scores_by_retriever for h in by_passage)

    small_to_big = factory.retriever(any_backend.replace(small_to_big=True), embedder=embedder)
    hits = small_to_big.search(question, 2, mode="dense")
    if any_backend.backend == "milvus":  # no sentence vectors there: ranked by the passages' own
        assert [h.doc_id for h in hits] == ["militants", "town"]
        return
    assert [h.doc_id for h in hits] == ["town", "militants"]
    town = hits[0]
    assert town.scores_by_retriever["sentence"] > town.scores_by_retriever["dense"]
    assert town.chunk.text == TOWN_NEWS  # the generator reads and cites the passage, not the sentence
    assert small_to_big.search(question, 2)[0].doc_id == "town"  # hybrid too


@pytest.fixture(scope="module")
def small_cross_encoder(tmp_path_factory):
    """No reranker ships offline; a cross-encoder made from the shipped MiniLM weights (its
    scoring head freshly initialised, seeded) exercises the same loading and ranking path."""
    import torch
    from sentence_transformers import CrossEncoder

    from rag.embedders.models import resolve_model

    torch.manual_seed(0)
    model = CrossEncoder(resolve_model("sentence-transformers/all-MiniLM-L6-v2"), num_labels=1)
    path = tmp_path_factory.mktemp("cross-encoder")
    model.save(str(path))
    return path


def test_a_configured_cross_encoder_reorders_the_best_candidates_by_its_own_scores(
        article_index, config, embedder, small_cross_encoder):
    from sentence_transformers import CrossEncoder

    question = "Who claimed responsibility for the Karachi airport attack?"
    plain = factory.retriever(config.replace(dedup_similarity=1.0), article_index, embedder=embedder)
    reranking = factory.retriever(config.replace(
        reranker=str(small_cross_encoder), rerank_depth=6, dedup_similarity=1.0), article_index, embedder=embedder)
    candidates = plain.search(question, 6)
    expected = CrossEncoder(str(small_cross_encoder)).predict([(question, h.text) for h in candidates])
    retrieval = reranking.retrieve(question, 6)
    assert [h.chunk.id for h in retrieval.hits] == [candidates[i].chunk.id for i in np.argsort(-expected, kind="stable")]
    assert [h.scores_by_retriever["rerank"] for h in retrieval.hits] == pytest.approx(sorted(expected, reverse=True),
                                                                                       rel=1e-4)
    assert retrieval.timings["rerank_ms"] > 0


def test_a_reranker_that_does_not_exist_is_named_with_the_way_out(article_index, config, embedder, tmp_path):
    from rag.core.errors import ModelNotFoundError

    retriever = factory.retriever(config.replace(reranker=str(tmp_path / "no-such-model")), article_index, embedder=embedder)
    with pytest.raises(ModelNotFoundError, match="reranker"):
        retriever.search("When was the IMU first formed?")


@pytest.mark.parametrize("question, acronym", [
    ("What does IMU stand for?", "IMU"), ("what is the full name of the TTP?", "TTP"),
    ("Meaning of NATO", "NATO"), ("Who leads the IMU?", None), ("What do IMU fighters want?", None)])
def test_questions_asking_for_an_acronym_are_recognised(question, acronym):
    from rag.text.acronyms import asked_acronym

    assert asked_acronym(question) == acronym


def test_the_passage_spelling_an_acronym_out_ranks_first_for_what_it_stands_for(retriever):
    from rag.text.acronyms import defines

    assert defines("the North Atlantic Treaty Organization (NATO) said", "NATO")
    assert not defines("the group (IMU) said", "IMU")
    top = retriever.search("What does IMU stand for?", 1)[0]
    assert "Islamic Movement of Uzbekistan (IMU)" in top.text


@pytest.fixture(scope="module")
def long_and_short(tmp_path_factory, config, embedder):
    """One long article about the final, and two short reports that also mention it."""

    root = tmp_path_factory.mktemp("diverse")
    (root / "docs").mkdir()
    paragraphs = [f"The 2022 World Cup final in Lusail: part {i}. Argentina beat France on penalties after a "
                  f"3-3 draw, and Lionel Messi lifted the trophy in the Lusail stadium, report {i}. " * 3
                  for i in range(8)]
    (root / "docs" / "long.txt").write_text("\n\n".join(paragraphs))
    (root / "docs" / "brief-a.txt").write_text("Argentina won the World Cup final against France in Lusail.")
    (root / "docs" / "brief-b.txt").write_text("Messi's Argentina are world champions after the Lusail final.")
    factory.indexer(config.replace(chunk_tokens=64, chunk_overlap=8), embedder).index_paths([root / "docs"], root / "idx")
    return root / "idx"


def test_at_most_two_chunks_of_one_document_unless_nothing_else_scores(long_and_short, config, embedder):
    small = config.replace(chunk_tokens=64, chunk_overlap=8)
    question = "Who won the World Cup final in Lusail?"
    unlimited = small.replace(max_chunks_per_document=0)
    plain = factory.retriever(unlimited, long_and_short, embedder=embedder).search(question, 5)
    assert sum(h.doc_id == "long.txt" for h in plain) > 2  # the long article crowds the others out
    capped = factory.retriever(small.replace(max_chunks_per_document=2), long_and_short, embedder=embedder)
    hits = capped.search(question, 5)
    assert [h.doc_id for h in hits].count("long.txt") == 2 + (5 - 2 - 2)  # the rest only once others are in
    assert {"brief-a.txt", "brief-b.txt"} <= {h.doc_id for h in hits[:4]}


def test_document_weight_lifts_a_document_that_matches_in_several_places_and_keeps_its_order(
        long_and_short, config, embedder):
    small = config.replace(chunk_tokens=64, chunk_overlap=8, max_chunks_per_document=0)
    question = "Argentina France Lusail"
    plain = factory.retriever(small, long_and_short, embedder=embedder).search(question, 10)
    fused = factory.retriever(small.replace(document_weight=1.0), long_and_short, embedder=embedder)
    hits = fused.search(question, 10)
    long_rank = [h.rank for h in hits if h.doc_id == "long.txt"]
    assert hits[0].doc_id == "long.txt"
    assert [h.chunk.id for h in hits if h.doc_id == "long.txt"] == [h.chunk.id for h in plain if h.doc_id == "long.txt"]
    assert long_rank == list(range(1, len(long_rank) + 1))


def test_a_question_embedded_twice_in_a_row_costs_one_model_call():
    import numpy as np

    from rag.embedders.recent import RecentQuestions

    calls = []

    def model(texts):
        calls.append(list(texts))
        return np.arange(len(texts) * 3, dtype=np.float32).reshape(len(texts), 3) + len(calls)

    recent = RecentQuestions(size=2)
    first = recent.encode(["Who founded the IMU?"], model)
    again = recent.encode(["Who founded the IMU?"], model)  # the generator, right after the retriever
    assert np.array_equal(first, again) and len(calls) == 1
    again[0, 0] = 99.0  # a caller's change stays its own
    assert recent.encode(["Who founded the IMU?"], model)[0, 0] != 99.0
    recent.encode(["a", "b"], model)  # batches are never remembered
    recent.encode(["a", "b"], model)
    assert len(calls) == 3
    for q in ("q1", "q2", "Who founded the IMU?"):  # two newer questions push it out
        recent.encode([q], model)
    assert calls[-1] == ["Who founded the IMU?"]
