"""The extractive generator's rules as data: one question classifier, the tuned weights as a frozen
dataclass the generator reads, and the weights written into `rag eval`'s report."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError, asdict, replace

import pytest

from rag.app import factory
from rag.cli import main
from rag.core.records import Chunk, Hit
from rag.eval.run import extractive_weights
from rag.generators.extractive.generator import ExtractiveGenerator
from rag.generators.extractive.question_types import question_type
from rag.generators.extractive.short_answer import extract
from rag.generators.extractive.weights import ExtractiveWeights

from ..support.files import write_jsonl


@pytest.mark.parametrize("question, kind, sentence_kind", [
    ("Who founded the IMU?", "person", "person"),
    ("When was the IMU first formed?", "time", "time"),
    ("How many fighters does the group have?", "number", "number"),
    ("Where is the group based now?", "place", "place"),
    ("In which valley did they want a caliphate?", "place", None),  # a typed head noun: the span's type only
    ("What is another name for the Pakistani Taliban?", "name", None),
    ("What is the Pakistani Taliban also known as?", "entity", None),
    ("What is the population of Pakistan?", "number", None),
    ("Super Bowl 2021 location", "place", None),  # a keyword query: its last word is the head
    ("Did the IMU's early concerns extend to South Asia?", None, None),  # yes/no: the sentence answers
    ("How does the group appear now?", None, None),
    # The two readings differ, and each step keeps the one it was tuned with.
    ("How long is the border?", "number", None),
    ("Why did they leave when they did?", None, "time"),
    ("Who was born in which city?", "place", "person"),
])
def test_one_classification_gives_the_span_type_and_the_sentence_kind(question, kind, sentence_kind):
    qtype = question_type(question)
    assert (qtype.kind, qtype.sentence_kind) == (kind, sentence_kind)


def test_the_question_type_carries_what_the_span_needs():
    assert question_type("How long is the border?").with_unit
    assert question_type("How much did it cost?").money
    assert question_type("Which countries does the valley extend to?").plural
    assert question_type("In which valley did they want a caliphate?").head == "valley"
    assert question_type("Which group is stronger, the IMU or the TTP?").options == ("IMU", "TTP")


@pytest.mark.parametrize("question, reason", [
    ("Why did the IMU move to Pakistan?", True),
    ("For what reason did they leave?", True),
    ("What caused the split?", True),  # a reason for the sentence choice, though a span may still answer
    ("When was the IMU first formed?", False),
])
def test_a_question_asks_for_a_reason(question, reason):
    assert question_type(question).asks_reason is reason


def test_the_weights_are_frozen_and_the_generator_reads_the_defaults(config):
    weights = ExtractiveWeights()
    with pytest.raises(FrozenInstanceError):
        weights.cosine_weight = 0.5  # type: ignore[misc]
    assert ExtractiveGenerator(factory.extractive_settings(config)).weights == weights
    assert hash(weights) == hash(ExtractiveWeights())  # usable as a key, though the type-fit table is a mapping
    sentence = "OpenAI was founded in December 2015 by a group of researchers."
    found = extract("When was OpenAI founded?", [sentence], set())
    assert found is not None and found == extract("When was OpenAI founded?", [sentence], set(), weights=weights)
    # A short answer below the bar is none.
    assert extract("When was OpenAI founded?", [sentence], set(), weights=replace(weights, min_score=5.0)) is None


def _hit(text: str) -> Hit:
    return Hit(Chunk("w#0", "w", text, 0, len(text), len(text.split())), 1.0, 1)


def test_a_weight_given_to_the_generator_changes_its_decisions(embedder, config):
    hits = [_hit("Angelique Kerber won the 2018 Wimbledon women's singles title, beating Serena Williams in the "
                 "final.")]
    question = "Who won the women's singles at Wimbledon in 2019?"
    assert ExtractiveGenerator(factory.extractive_settings(config), embedder=embedder).generate(question, hits).abstained
    # Without the penalty for a number the sentence lacks, the 2018 final answers the 2019 question.
    lenient = ExtractiveGenerator(factory.extractive_settings(config), embedder=embedder,
                                  weights=replace(ExtractiveWeights(), missing_number_penalty=0.0))
    assert not lenient.generate(question, hits).abstained

    hits = [_hit("Omari Juma keeps the Zanzibar lighthouse and has kept the light since 1998.")]
    question = "Who is the Zanzibar lighthouse keeper?"
    answer = ExtractiveGenerator(factory.extractive_settings(config), embedder=embedder).generate(question, hits)
    assert answer.short_answer is not None and answer.short_answer.text == "Omari Juma"
    strict = ExtractiveGenerator(factory.extractive_settings(config), embedder=embedder, weights=replace(ExtractiveWeights(), min_score=5.0))
    answer = strict.generate(question, hits)
    assert not answer.abstained and answer.short_answer is None


NEWS = [{"id": "bakery", "title": "Bread prize", "text": "The Old Mill bakery in Dunmore won the regional bread "
         "prize on Thursday for its dark rye loaf."}]
NEWS_QA = [{"id": "n1", "question": "Which bakery won the regional bread prize?", "answers": ["Old Mill"],
            "answerable": True, "doc_ids": ["bakery"]}]


def test_the_eval_report_carries_the_extractive_weights(tmp_path, monkeypatch, shared_model, capsys):
    (tmp_path / "news").mkdir()
    write_jsonl(tmp_path / "news" / "qa.jsonl", NEWS_QA)
    write_jsonl(tmp_path / "news" / "corpus.jsonl", NEWS)
    monkeypatch.chdir(tmp_path)  # the index cache goes under ./.rag
    assert main(["eval", "news", "--generator", "extractive", "--out", "report"]) == 0
    capsys.readouterr()
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["extractive_weights"] == json.loads(json.dumps(asdict(ExtractiveWeights())))
    assert report["extractive_weights"]["type_fit"]["time"]["date"] == 1.0


def test_only_the_extractive_generator_has_weights_in_the_report():
    class Other:
        name = "openai"
        weights = ExtractiveWeights()  # a look-alike attribute is not the extractive generator's

    assert extractive_weights(Other()) == {}
    assert extractive_weights(object()) == {}
