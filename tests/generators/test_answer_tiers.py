"""What the reader is shown first: a short answer only when its span fills the question's slot and
the scorer is sure of it, the supporting quote when it is not, and "the documents don't say" when
no passage holds what is asked for."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag.core.records import Chunk, Hit
from rag.generators.extractive.generator import ExtractiveGenerator
from rag.generators.extractive.settings import ExtractiveSettings
from rag.generators.extractive.span_scorer import LogisticModel, LogisticSpanScorer, packaged_model
from rag.generators.prompts import NOT_IN_DOCUMENTS
from rag.text.analysis import word_family

# --- the seed article: questions a new reader asked ---

def test_a_publication_the_article_names_is_found_through_the_related_word_editor(pipeline):
    answer = pipeline.ask("Which publication does Noah Tucker edit?")
    assert answer.kind in ("short", "quote")
    assert any("Registan" in c.quote for c in answer.citations)
    assert answer.short_candidate is not None and answer.short_candidate.text == "Registan"


@pytest.mark.parametrize("question", [
    "How many people were injured in the Karachi airport attacks?",
    "How long did the Pakistani ground offensive last?",
])
def test_a_count_or_duration_the_article_does_not_give_is_declined(pipeline, question):
    answer = pipeline.ask(question)
    assert answer.kind == "none"
    assert answer.text == NOT_IN_DOCUMENTS
    assert answer.short_answer is None and not answer.citations
    assert "hold no" in answer.reason


@pytest.mark.parametrize("question, wrong", [
    ("What is the TTP also known as?", "known"),
    ("Which university's Central Asia program is Noah Tucker associated with?", "South"),
    ("Who took the photo accompanying the article?", "Swat Valley"),
    ("What is the IMU losing potential recruits to?", "recruits"),
])
def test_the_words_that_misled_readers_are_no_longer_offered_as_the_answer(pipeline, question, wrong):
    answer = pipeline.ask(question)
    assert answer.short_candidate is None or answer.short_candidate.text != wrong


def test_every_answer_says_which_tier_it_is_and_why(pipeline):
    for question in ("When was the IMU first formed?", "Why did the IMU move to Pakistan?",
                     "What is the capital of Uzbekistan?"):
        answer = pipeline.ask(question)
        data = answer.to_dict()
        assert data["kind"] == answer.kind in ("short", "quote", "none")
        assert data["reason"] == answer.reason and answer.reason


def test_a_quote_is_introduced_as_what_the_documents_say_not_as_the_answer(pipeline):
    answer = pipeline.ask("Why did the IMU move to Pakistan?")
    assert answer.kind == "quote"
    assert answer.text.startswith(ExtractiveSettings().quote_intro)
    assert answer.citations


# --- other documents, written for these tests ---

FERRY = ("Storm Imogen reached the coast on Monday night. Three ferries were cancelled and the harbour at "
         "Port Avel stayed closed until Wednesday. The strike by harbour pilots began on 3 May. "
         "Photo: volunteers clear debris in the Ribble Valley (Ann Lowe). "
         "Mara Ostrova, managing editor of the newspaper Lantern Gazette, called the closure avoidable. "
         "The pilots' union, also known as the Avel Pilots Guild, had warned of delays. "
         "The review was published by the journal Coastal Transport in June. "
         "About 140 passengers were stranded on the quay overnight.")


@pytest.fixture(scope="module")
def generator(embedder):
    # Every span found is kept as the candidate; the tiers are judged with the default threshold.
    return ExtractiveGenerator(embedder=embedder)


def hits_of(text: str) -> list[Hit]:
    chunk = Chunk(id="ferry:0", doc_id="ferry.txt", text=text, start=0, end=len(text), n_tokens=200,
                  title="Storm Imogen")
    return [Hit(chunk=chunk, score=1.0, rank=1)]


@pytest.mark.parametrize("question, expected", [
    ("How many passengers were stranded?", "About 140"),
    ("Which journal published the review?", "Coastal Transport"),
    ("Which newspaper does Mara Ostrova edit?", "Lantern Gazette"),
    ("What is the pilots' union also known as?", "Avel Pilots Guild"),
    ("Who took the photo of the volunteers?", "Ann Lowe"),
])
def test_the_candidate_span_fills_the_slot_the_question_asks_about(generator, question, expected):
    answer = generator.generate(question, hits_of(FERRY))
    assert not answer.abstained
    assert answer.short_candidate is not None
    assert expected in answer.short_candidate.text


@pytest.mark.parametrize("question", [
    "How many pilots were injured in the storm?",
    "How many buses were cancelled?",
    "How long did the strike by harbour pilots last?",
])
def test_a_count_of_something_else_or_a_date_is_not_a_count_or_duration(generator, question):
    answer = generator.generate(question, hits_of(FERRY))
    assert answer.kind == "none"
    assert answer.short_answer is None


def test_a_place_is_never_the_person_who_took_a_photo(generator):
    answer = generator.generate("Who took the photo?", hits_of(FERRY))
    assert answer.short_candidate is None or "Valley" not in answer.short_candidate.text


def test_a_short_answer_is_shown_only_at_or_above_the_threshold(embedder):
    hits = hits_of(FERRY)
    question = "Which journal published the review?"
    candidate = ExtractiveGenerator(embedder=embedder).generate(question, hits).short_candidate
    assert candidate is not None
    sure = ExtractiveGenerator(ExtractiveSettings(short_answer_threshold=candidate.confidence), embedder=embedder)
    unsure = ExtractiveGenerator(ExtractiveSettings(short_answer_threshold=min(1.0, candidate.confidence + 1e-6)),
                                 embedder=embedder)
    shown, quoted = sure.generate(question, hits), unsure.generate(question, hits)
    assert shown.kind == "short" and shown.short_answer.text == candidate.text
    assert quoted.kind == "quote" and quoted.short_answer is None
    assert "certain enough" in quoted.reason and candidate.text in quoted.reason
    assert quoted.citations == shown.citations


def test_the_scorer_can_be_replaced_in_one_place(embedder):
    class AlwaysSure:
        def confidence(self, evidence):
            return 1.0

    answer = ExtractiveGenerator(embedder=embedder, scorer=AlwaysSure()).generate(
        "Which journal published the review?", hits_of(FERRY))
    assert answer.kind == "short"


def test_the_packaged_model_weighs_the_evidence_it_was_fitted_on():
    model = packaged_model()
    assert model.weights and set(model.weights) <= set(model.means)
    scorer = LogisticSpanScorer(replace(LogisticModel(), bias=0.0, weights={"support": 2.0}, means={"support": 0.5},
                                        scales={"support": 0.1}))
    assert scorer.confidence({"support": 0.7}) > 0.95 > 0.05 > scorer.confidence({"support": 0.3})
    assert scorer.confidence({}) < 0.01  # missing evidence counts as 0, far below the mean


@pytest.mark.parametrize("a, b", [("editor", "edit"), ("injuri", "injur"), ("govern", "govern"),
                                  ("founder", "found")])
def test_related_word_forms_share_a_family(a, b):
    assert word_family(a) == word_family(b)


def test_short_words_keep_their_own_family():
    assert word_family("water") == "water"
    assert word_family("order") == "order"


def test_a_count_of_the_right_thing_under_another_word_is_quoted_not_shown_in_bold(generator):
    # The passage counts stranded passengers; whether "stranded" answers "delayed" is the reader's call.
    answer = generator.generate("How many passengers were delayed?", hits_of(FERRY))
    assert answer.kind == "quote" and answer.short_candidate is None
    assert "count passengers but do not say they were delayed" in answer.reason
    assert any("About 140 passengers" in c.quote for c in answer.citations)
