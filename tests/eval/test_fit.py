"""Fitting the short-answer scorer: tuning rows only, and a threshold judged on rows it was not fitted on."""

from __future__ import annotations

import json
import random

import pytest

from rag.eval.fit import main
from rag.generators.extractive.span_scorer import LogisticModel, LogisticSpanScorer

from ..support.files import write_jsonl


def rows(n: int, split: str = "tune", seed: int = 7) -> list[dict]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        right = i % 2 == 0
        # "margin" tells right from wrong spans most of the time; "noise" never does.
        margin = rnd.gauss(1.0 if right else 0.0, 0.4)
        out.append({"id": f"q{i}", "method": "hybrid", "split": split, "answerable": True,
                    "candidate_f1": 1.0 if right else 0.0,
                    "candidate_evidence": {"margin": margin, "noise": rnd.random()}})
    out.append({"id": "base", "method": "dense", "split": split, "answerable": True, "candidate_f1": 1.0,
                "candidate_evidence": {"margin": -5.0}})  # a baseline's row is not fitted on
    return out


def test_the_fitted_scorer_separates_right_from_wrong_and_reaches_the_target(tmp_path, capsys):
    questions = write_jsonl(tmp_path / "questions.jsonl", rows(200))
    out = tmp_path / "model.json"
    assert main([str(questions), "--target", "0.9", "--out", str(out)]) == 0
    model = json.loads(out.read_text())
    assert model["weights"]["margin"] > 5 * abs(model["weights"]["noise"])
    figures = model["cross_validated"][tmp_path.name]
    assert figures["spans"] == 200 and figures["precision"] >= 0.9 and figures["shown"] >= 40
    scorer = LogisticSpanScorer(LogisticModel(**{k: model[k] for k in ("bias", "weights", "means", "scales")}))
    assert scorer.confidence({"margin": 1.5, "noise": 0.5}) > model["threshold"] > scorer.confidence(
        {"margin": -0.5, "noise": 0.5})
    assert "threshold" in capsys.readouterr().out


def test_held_out_rows_are_refused(tmp_path, capsys):
    questions = write_jsonl(tmp_path / "questions.jsonl", rows(40, split="held-out"))
    assert main([str(questions)]) == 1
    assert "fit on tuning halves only" in capsys.readouterr().err


def test_too_few_rows_say_what_to_run(tmp_path, capsys):
    questions = write_jsonl(tmp_path / "questions.jsonl", rows(5))
    assert main([str(questions)]) == 1
    assert "rag eval --split tune" in capsys.readouterr().err


@pytest.mark.parametrize("missing", ["bias", "weights"])
def test_the_packaged_model_file_names_what_is_wrong(tmp_path, missing, monkeypatch):
    from rag.core.errors import ConfigError
    from rag.generators.extractive import span_scorer

    data = {"bias": 0.0, "weights": {}, "means": {}, "scales": {}}
    del data[missing]
    (tmp_path / span_scorer.MODEL_FILE).write_text(json.dumps(data))
    monkeypatch.setattr(span_scorer.resources, "files", lambda _: tmp_path)
    span_scorer.packaged_model.cache_clear()
    try:
        with pytest.raises(ConfigError, match="missing or damaged"):
            span_scorer.packaged_model()
    finally:
        span_scorer.packaged_model.cache_clear()
