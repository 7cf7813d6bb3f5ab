"""Tuning and held-out halves, and the figures that judge what the reader is shown first."""

from __future__ import annotations

import json

import pytest

from rag.cli import main
from rag.core.errors import DatasetError
from rag.eval import metrics as M
from rag.eval.datasets import load_eval_set
from rag.eval.run import QuestionResult, short_calibration, tier_metrics
from rag.eval.splits import split_of

from ..support.files import write_jsonl


def question(i: int, **extra) -> dict:
    return {"id": f"q{i:03d}", "question": f"When was thing {i} built?", "answers": [str(1900 + i)],
            "answerable": True, "evidence": [f"Thing {i} was built in {1900 + i}."], **extra}


def test_every_question_falls_in_one_half_by_its_id_alone_and_the_halves_are_near_equal():
    ids = [f"q{i}" for i in range(400)]
    halves = [split_of(i) for i in ids]
    assert halves == [split_of(i) for i in ids]  # the same every time
    assert 160 < halves.count("tune") < 240
    assert split_of("q1", "held-out") == "held-out"


def test_load_eval_set_keeps_one_half_and_a_question_may_name_its_own(tmp_path):
    path = write_jsonl(tmp_path / "qa.jsonl", [question(i) for i in range(40)] + [question(99, split="held-out")])
    tune = load_eval_set(path, split="tune")
    held = load_eval_set(path, split="held-out")
    assert {q.id for q in tune.questions}.isdisjoint({q.id for q in held.questions})
    assert len(tune.questions) + len(held.questions) == 41
    assert "q099" in {q.id for q in held.questions} and tune.split == "tune"


def test_a_set_written_only_to_be_held_out_has_no_tuning_half(tmp_path):
    path = write_jsonl(tmp_path / "qa.jsonl", [question(i, split="held-out") for i in range(3)])
    with pytest.raises(DatasetError, match="no questions in the tune half"):
        load_eval_set(path, split="tune")
    bad = write_jsonl(tmp_path / "bad.jsonl", [question(1, split="train")])
    with pytest.raises(DatasetError, match="'split' must be one of tune, held-out"):
        load_eval_set(bad)


def result(kind: str, *, answerable: bool = True, f1: float = 0.0, contains: float = 0.0,
           confidence: float | None = None, candidate_f1: float = 0.0) -> QuestionResult:
    return QuestionResult(
        id="q", method="hybrid", question="?", answerable=answerable, answers=["x"], hits=[], gains=[],
        answer="", abstained=kind == "none", confidence=0.5, citations=[], citation_relevant=[],
        short_answer="x" if kind == "short" else None, em=0.0, f1=f1, contains=contains, kind=kind,
        candidate="x" if confidence is not None else None, candidate_confidence=confidence,
        candidate_f1=candidate_f1)


def test_tier_metrics_by_hand():
    results = [
        result("short", f1=1.0),                    # right
        result("short", f1=0.2, contains=1.0),      # wrong: the bold words are not the answer
        result("quote", contains=1.0),              # the quote holds the answer
        result("quote", contains=0.0),              # it does not: misleading
        result("none"),                             # a false refusal, not misleading
        result("short", answerable=False),          # a bold answer where none exists
        result("quote", answerable=False),          # a quote where none exists
        result("none", answerable=False),           # declined, as it should be
    ]
    m = tier_metrics(results)
    assert m["short.precision"] == pytest.approx(1 / 3)
    assert m["short.coverage"] == pytest.approx(2 / 5)
    assert m["short.on_unanswerable"] == pytest.approx(1 / 3)
    assert m["quote.on_unanswerable"] == pytest.approx(1 / 3)
    assert m["answer.misleading"] == pytest.approx(4 / 8)
    assert (m["tier.short"], m["tier.quote"], m["tier.none"]) == (3 / 8, 3 / 8, 2 / 8)


def test_the_short_threshold_is_the_lowest_that_reaches_the_target_precision():
    scored = [(0.9, 1.0), (0.8, 1.0), (0.7, 0.0), (0.6, 1.0), (0.5, 1.0), (0.4, 0.0), (0.3, 0.0)]
    assert M.threshold_for_precision(scored, 1.0) == 0.8
    assert M.threshold_for_precision(scored, 0.8) == 0.5  # 4 right of 5 shown
    assert M.threshold_for_precision([(0.5, 0.0)], 0.9) is None
    # Ties are shown together or not at all.
    assert M.threshold_for_precision([(0.5, 1.0), (0.5, 0.0), (0.4, 1.0)], 0.9) is None

    results = [result("quote", confidence=c, candidate_f1=r) for c, r in scored]
    cal = short_calibration(results, target=0.8)
    assert cal["short_threshold_for_target"] == 0.5
    assert cal["short_coverage_at_target"] == pytest.approx(4 / 7, abs=1e-4)


def test_rag_eval_runs_one_half_and_reports_the_tiers(tmp_path, capsys, monkeypatch, shared_model):
    article = (tmp_path / "docs")
    article.mkdir()
    (article / "a.txt").write_text(" ".join(f"Thing {i} was built in {1900 + i}." for i in range(12)))
    write_jsonl(tmp_path / "qa.jsonl", [question(i) for i in range(12)])
    monkeypatch.chdir(tmp_path)
    assert main(["eval", "qa.jsonl", "--corpus", "docs", "--split", "held-out", "--out", "r"]) == 0
    out = capsys.readouterr().out
    assert "split=held-out" in out and "short.precision" in out and "short-answer threshold" in out
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    held = [q.id for q in load_eval_set(tmp_path / "qa.jsonl", split="held-out").questions]
    assert report["split"] == "held-out" and report["questions"] == len(held)
    rows = [json.loads(line) for line in (tmp_path / "r" / "questions.jsonl").read_text().splitlines()]
    assert {r["id"] for r in rows} == set(held)
    assert all(r["kind"] in ("short", "quote", "none") and r["split"] == "held-out" for r in rows)
    assert {"short.precision", "short.coverage", "short.on_unanswerable", "answer.misleading",
            "tier.short"} <= set(report["metrics"])
