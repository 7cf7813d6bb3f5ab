"""The library entry point: `Retriever.load(dir).search(question, k)`."""

from __future__ import annotations

import pytest

from rag import Retriever
from rag.errors import QuestionError
from rag.records import Hit

from .conftest import ARTICLE


def test_top_hit_for_when_the_imu_was_formed_contains_late_1990s(article_index):
    hits = Retriever.load(article_index).search("When was the IMU first formed?", k=5)
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


def test_a_near_duplicate_of_a_better_passage_is_skipped(tmp_path, config, embedder):
    from rag.indexer import Indexer

    docs = tmp_path / "docs"
    docs.mkdir()
    snippet = "Lionel Messi won the 2022 World Cup with Argentina after a penalty shoot-out against France."
    (docs / "site-a.txt").write_text(snippet)
    (docs / "site-b.txt").write_text(snippet)  # the same story syndicated on a second site
    (docs / "other.txt").write_text("Kylian Mbappé scored a hat-trick for France in the 2022 World Cup final.")
    Indexer(config, embedder).index_paths([docs], tmp_path / "idx")
    hits = Retriever.load(tmp_path / "idx", config=config, embedder=embedder).search("Who won the 2022 World Cup?", 3)
    assert len({h.doc_id for h in hits} & {"site-a.txt", "site-b.txt"}) == 1
    assert "other.txt" in {h.doc_id for h in hits}
    everything = Retriever.load(tmp_path / "idx", config=config.replace(dedup_similarity=1.0), embedder=embedder)
    assert len(everything.search("Who won the 2022 World Cup?", 3)) == 3
