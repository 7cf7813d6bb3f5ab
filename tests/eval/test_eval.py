"""`rag eval`: dataset loading errors and the command end to end on a tiny set."""

from __future__ import annotations

import json

import pytest

from rag.cli import main
from rag.core.errors import DatasetError
from rag.eval.datasets import check_doc_ids, load_eval_set

from ..support.files import write_jsonl

GOOD = {"id": "q1", "question": "When was the IMU first formed?", "answers": ["late 1990s"], "answerable": True,
        "evidence": ["The IMU was first formed in the late 1990s"]}
UNANSWERABLE = {"id": "q2", "question": "Who founded the IMU?", "answers": [], "answerable": False, "evidence": []}


def test_a_bad_json_line_is_reported_with_its_line_number(tmp_path):
    path = write_jsonl(tmp_path / "qa.jsonl", [GOOD, '{"id": "q2", "question": ', UNANSWERABLE])
    with pytest.raises(DatasetError, match=r"qa\.jsonl:2: not valid JSON"):
        load_eval_set(path)


@pytest.mark.parametrize("row, message", [
    ({"id": "q", "answers": ["x"], "answerable": True}, "missing field(s) question"),
    ({"id": "q", "question": "?", "answers": ["x"], "answerable": "yes"}, "'answerable' must be true or false"),
    ({"id": "q", "question": "?", "answers": [], "answerable": True, "evidence": ["e"]}, "needs 'answers'"),
    ({"id": "q", "question": "?", "answers": ["x"], "answerable": True}, "needs 'doc_ids' or 'evidence'"),
    ({"id": "q", "question": "?", "answers": "x", "answerable": True}, "'answers' must be a list"),
])
def test_missing_or_malformed_fields_are_named(tmp_path, row, message):
    with pytest.raises(DatasetError, match=":1: ") as err:
        load_eval_set(write_jsonl(tmp_path / "qa.jsonl", [row]))
    assert message in str(err.value)


@pytest.mark.parametrize("field, value, said", [
    ("id", 7, "'id' must be non-empty text, not the number 7"),
    ("id", ["q1"], "'id' must be non-empty text, not a list"),
    ("id", " ", "'id' must be non-empty text, not empty text"),
    ("question", {"text": "?"}, "'question' must be non-empty text, not a JSON object"),
    ("answerable", 1, "'answerable' must be true or false, not the number 1"),
    ("evidence", ["a", 2], "'evidence' must be a list of strings, not a list holding the number 2"),
])
def test_a_field_of_the_wrong_type_is_refused_naming_file_line_and_field(tmp_path, field, value, said):
    with pytest.raises(DatasetError) as err:
        load_eval_set(write_jsonl(tmp_path / "qa.jsonl", [GOOD, {**GOOD, "id": "q2", field: value}]))
    assert str(err.value) == f"{tmp_path / 'qa.jsonl'}:2: {said}"


@pytest.mark.parametrize("line", ["[" * 100_000 + "]" * 100_000, '{"id": "q", "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
                                  '{"id": ' + "9" * 5000 + "}"])
def test_a_line_too_deep_or_too_large_for_json_is_a_dataset_error_naming_its_line(tmp_path, line):
    with pytest.raises(DatasetError, match=r"qa\.jsonl:2: (JSON nested too deeply|not valid JSON)"):
        load_eval_set(write_jsonl(tmp_path / "qa.jsonl", [GOOD, line]))


def test_duplicate_ids_and_empty_files_are_rejected(tmp_path):
    with pytest.raises(DatasetError, match="duplicate id 'q1'"):
        load_eval_set(write_jsonl(tmp_path / "d.jsonl", [GOOD, GOOD]))
    (tmp_path / "e.jsonl").write_text("\n")
    with pytest.raises(DatasetError, match="holds no questions"):
        load_eval_set(tmp_path / "e.jsonl")


def test_unknown_doc_ids_are_listed():
    q = load_eval_set.__globals__["EvalQuestion"]("q", "?", ("a",), True, doc_ids=("d1", "ghost"))
    with pytest.raises(DatasetError, match="1 doc id.*ghost"):
        check_doc_ids([q], {"d1"})


def test_a_dataset_directory_brings_its_corpus(tmp_path):
    write_jsonl(tmp_path / "qa.jsonl", [GOOD])
    write_jsonl(tmp_path / "corpus.jsonl", [{"id": "d", "title": "", "text": "x"}])
    s = load_eval_set(tmp_path)
    assert s.corpus == tmp_path / "corpus.jsonl" and len(s.questions) == 1


@pytest.mark.slow
def test_eval_cli_writes_reports_and_the_gate_fails_when_a_bar_is_above_the_measured_value(
        tmp_path, capsys, monkeypatch, embedder, article_corpus):
    monkeypatch.setattr("rag.app.factory.load_embedder", lambda *a, **k: embedder)
    dataset = write_jsonl(tmp_path / "tiny.jsonl", [GOOD, UNANSWERABLE, {
        "id": "q3", "question": "Where is the group believed to be based now?", "answers": ["North Waziristan"],
        "answerable": True, "evidence": ["tribal agency of North Waziristan"]}])
    out = tmp_path / "report"
    args = ["eval", str(dataset), "--corpus", str(article_corpus), "--out", str(out)]
    monkeypatch.chdir(tmp_path)  # the index cache goes under ./.rag
    assert main(args + ["--fail-under", "retrieval.recall@5=0.5"]) == 0
    printed = capsys.readouterr().out
    assert "retrieval.recall@5" in printed and "dense only" in printed and "bm25 only" in printed

    report = json.loads((out / "report.json").read_text())
    for key in ("retrieval.recall@5", "retrieval.mrr@10", "answer.f1", "answer.contains", "citation.precision",
                "abstention.accuracy", "abstention.false_refusal", "latency.total_ms.p95"):
        assert key in report["metrics"]
    assert set(report["baselines"]) == {"dense", "bm25"}
    assert report["metrics"]["retrieval.recall@5"] == 1.0
    assert (out / "report.md").read_text().startswith("# Evaluation: tiny")
    assert (out / "recall_at_k.png").read_bytes()[:4] == b"\x89PNG"
    rows = [json.loads(line) for line in (out / "questions.jsonl").read_text().splitlines()]
    assert len(rows) == 9 and {r["method"] for r in rows} == {"hybrid", "dense", "bm25"}

    # The gate: a bar just above the measured value fails and names the metric.
    measured = report["metrics"]["answer.contains"]
    code = main(args + ["--out", str(tmp_path / "r2"), "--compare", str(out / "report.json"),
                        "--fail-under", f"answer.contains={measured + 0.01}"])
    captured = capsys.readouterr()
    assert code == 1
    assert "quality gate failed: answer.contains" in captured.err
    assert "change vs previous" in captured.out


def test_the_gate_can_require_the_configured_retrieval_to_beat_every_baseline():
    from rag.eval.report import check_best

    metrics = {"retrieval.recall@5": 0.8}
    assert check_best(metrics, {"dense": {"retrieval.recall@5": 0.7}, "bm25": {"retrieval.recall@5": 0.79}},
                      ["retrieval.recall@5"]) == []
    failures = check_best(metrics, {"dense": {"retrieval.recall@5": 0.8}, "bm25": {"retrieval.recall@5": 0.6}},
                          ["retrieval.recall@5"])
    assert len(failures) == 1 and "does not beat dense" in failures[0]  # a tie is not a win


def test_em_and_f1_judge_the_short_answer_when_there_is_one_and_its_rate_is_reported():
    from rag.core.records import Answer, Chunk, Citation, Hit, ShortAnswer
    from rag.eval.datasets import EvalQuestion
    from rag.eval.run import aggregate, run_question
    from rag.retrieval.retriever import Retrieval

    text = "The IMU was first formed in the late 1990s by Uzbeks."
    hit = Hit(Chunk("d#0", "d", text, 0, len(text), 12), 1.0, 1)
    cite = Citation(1, "d#0", "d", 0, len(text), text)

    class Retriever:
        def retrieve(self, question, k, mode=None):
            return Retrieval(question, [hit])

    class Generator:
        def __init__(self, short):
            self.short = short

        def generate(self, question, hits):
            return Answer(question, f"{text} [1]", (cite,), tuple(hits), short_answer=self.short)

    q = EvalQuestion("q1", "When was the IMU first formed?", ("late 1990s",), True, ("d",))
    with_short = run_question(q, "hybrid", Retriever(), Generator(ShortAnswer("the late 1990s", 1, "d", 28, 42)), 5)
    without = run_question(q, "hybrid", Retriever(), Generator(None), 5)
    assert (with_short.em, with_short.f1) == (1.0, 1.0)
    assert without.em == 0.0 and 0 < without.f1 < 0.5  # the whole sentence, as before
    assert with_short.contains == without.contains == 1.0
    metrics = aggregate([with_short, without], {"q1": q})
    assert metrics["answer.short_rate"] == 0.5 and metrics["answer.em"] == 0.5


NEWS = [
    {"id": "rescue", "title": "Storm rescue", "text": "Mara Quill, keeper of the Northcliff lighthouse, pulled "
     "two sailors from the water during Monday's storm off the Fenwick coast."},
    {"id": "guide", "title": "Visiting Fenwick", "text": "The Northcliff lighthouse stands on the Fenwick coast; "
     "its gallery is open to visitors from May to September."},
    {"id": "bakery", "title": "Bread prize", "text": "The Old Mill bakery in Dunmore won the regional bread prize "
     "on Thursday for its dark rye loaf."},
]
# Lenient relevance counts every document naming the answer; the strict field only the one the
# question's own search found (here deliberately the weaker match, so the two figures differ).
NEWS_QA = [
    {"id": "n1", "question": "Mara Quill rescued two sailors this week. Which lighthouse does she keep?",
     "answers": ["Northcliff"], "answerable": True, "doc_ids": ["rescue", "guide"], "own_doc_ids": ["guide"]},
    {"id": "n2", "question": "Which bakery won the regional bread prize this week?", "answers": ["Old Mill"],
     "answerable": True, "doc_ids": ["bakery"], "own_doc_ids": ["bakery"]},
    {"id": "n3", "question": "Who painted the ceiling of the Dunmore town hall?", "answers": [], "answerable": False,
     "doc_ids": []},  # an unanswerable question needs no strict list
]


def test_rag_eval_judges_relevance_by_the_chosen_field_and_says_which(tmp_path, capsys, monkeypatch, shared_model):
    (tmp_path / "news").mkdir()
    write_jsonl(tmp_path / "news" / "qa.jsonl", NEWS_QA)
    write_jsonl(tmp_path / "news" / "corpus.jsonl", NEWS)
    monkeypatch.chdir(tmp_path)
    reports = {}
    for field in ("doc_ids", "own_doc_ids"):
        assert main(["eval", "news", "--relevance", field, "--out", f"r-{field}"]) == 0
        assert f"relevance={field}" in capsys.readouterr().out
        reports[field] = json.loads((tmp_path / f"r-{field}" / "report.json").read_text())
        assert reports[field]["relevance"] == reports[field]["settings"]["relevance"] == field
        assert f"`{field}`" in (tmp_path / f"r-{field}" / "report.md").read_text()
    lenient, strict = reports["doc_ids"]["metrics"], reports["own_doc_ids"]["metrics"]
    assert lenient["retrieval.recall@1"] == 1.0  # the rescue report is found first
    assert strict["retrieval.recall@1"] == 0.5  # ...but only the guide counts for n1 when strict
    assert strict["retrieval.recall@3"] == 1.0

    # Comparing a strict run with a lenient one is allowed, and said.
    assert main(["eval", "news", "--relevance", "own_doc_ids", "--out", "r-again",
                 "--compare", "r-doc_ids/report.json"]) == 0
    assert "judged relevance by doc_ids, this one by own_doc_ids" in capsys.readouterr().out


def test_an_unknown_relevance_field_or_a_question_without_it_is_an_error(tmp_path, capsys):
    path = write_jsonl(tmp_path / "qa.jsonl", NEWS_QA)
    with pytest.raises(DatasetError, match="unknown relevance field 'gold'; choose one of doc_ids, own_doc_ids"):
        load_eval_set(path, relevance="gold")
    with pytest.raises(SystemExit) as exit_:
        main(["eval", str(path), "--relevance", "gold"])
    assert exit_.value.code == 2 and "invalid choice: 'gold'" in capsys.readouterr().err

    lacking = dict(NEWS_QA[1])
    del lacking["own_doc_ids"]
    path = write_jsonl(tmp_path / "lacking.jsonl", [NEWS_QA[0], lacking, NEWS_QA[2]])
    assert [q.doc_ids for q in load_eval_set(path).questions][:2] == [("rescue", "guide"), ("bakery",)]
    with pytest.raises(DatasetError, match=r"lacking\.jsonl:2: relevance is judged by 'own_doc_ids', but this "
                                           r"answerable question has no 'own_doc_ids'"):
        load_eval_set(path, relevance="own_doc_ids")
    # Evidence strings do not stand in for a strict list that was asked for by name.
    with pytest.raises(DatasetError, match=":1: .*has no 'own_doc_ids'"):
        load_eval_set(write_jsonl(tmp_path / "evidence.jsonl", [GOOD]), relevance="own_doc_ids")
    assert main(["eval", str(path), "--relevance", "own_doc_ids"]) == 1
    assert "has no 'own_doc_ids'; add it, or use --relevance doc_ids" in capsys.readouterr().err
