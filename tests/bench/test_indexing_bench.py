"""`python -m bench indexing`: `rag index` and a plain sentence-transformers encode of the same
passages, each in its own process, with speed, memory and the quality of each one's vectors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench import indexing_speed as ib
from bench.cli import build_parser, main
from rag.embedders.precision import VARIANT_GROUPS
from tests.support.files import write_jsonl

ROOT = Path(__file__).resolve().parents[2]
LAST_LINE = re.compile(r"indexing: ours \d+\.\d passages/s, plain encode \d+\.\d passages/s, ratio \d+\.\d\d")

ARTICLES = [
    {"id": "d-rescue", "title": "Storm rescue", "text": "Mara Quill, keeper of the Northcliff lighthouse, pulled "
     "two sailors from the water during Monday's storm off the Fenwick coast. The sailors were taken to the "
     "harbour clinic and are recovering."},
    {"id": "d-bakery", "title": "Bread prize", "text": "The Old Mill bakery in Dunmore won the regional bread "
     "prize on Thursday for its dark rye loaf. The judges praised its crust."},
    {"id": "d-ferry", "title": "Ferry timetable", "text": "From March the Fenwick ferry sails twice a day, and a "
     "third crossing is added on summer weekends."},
    {"id": "d-museum", "title": "Museum reopens", "text": "The Dunmore museum reopened its clock gallery after a "
     "two-year restoration."},
]
QA = [  # the shared sets' format: `doc_ids` (lenient) and `own_doc_ids` (strict)
    {"id": "q1", "question": "Which lighthouse does Mara Quill keep?", "answers": ["Northcliff"],
     "answerable": True, "doc_ids": ["d-rescue", "d-museum"], "own_doc_ids": ["d-rescue"]},
    {"id": "q2", "question": "Which bakery won the regional bread prize?", "answers": ["Old Mill"],
     "answerable": True, "doc_ids": ["d-bakery"], "own_doc_ids": ["d-bakery"]},
    {"id": "q3", "question": "Which gallery did the museum reopen?", "answers": ["clock gallery"],
     "answerable": True, "doc_ids": ["d-museum"], "own_doc_ids": ["d-museum"]},  # not among the first 3
    {"id": "q4", "question": "Who painted the town hall ceiling?", "answers": [], "answerable": False},
]


def test_a_small_run_prints_both_pipelines_and_fails_under_the_ratio_asked(tmp_path):
    dataset = tmp_path / "news"
    dataset.mkdir()
    write_jsonl(dataset / "corpus.jsonl", ARTICLES)
    write_jsonl(dataset / "qa.jsonl", QA)
    out = tmp_path / "indexing.json"
    done = subprocess.run([sys.executable, "-m", "bench", "indexing", "--dataset", str(dataset), "--articles", "3",
                           "--fail-under-ratio", "1000", "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})

    assert done.returncode == 1, done.stderr
    assert "passages/s ratio" in done.stderr and "under --fail-under-ratio 1000" in done.stderr
    lines = done.stdout.strip().splitlines()
    assert LAST_LINE.fullmatch(lines[-1]), lines[-1]
    for column in ("passages/s", "tokens/s", "word pieces/s", "peak RSS MB", "variant", "recall@5", "MRR@10"):
        assert column in done.stdout, column
    assert "peak RSS ratio (ours / plain)" in done.stdout and "delta (ours - plain)" in done.stdout

    report = json.loads(out.read_text())
    assert report["last_line"] == lines[-1]
    assert (report["articles"], report["relevance"], report["questions"]) == (3, "own_doc_ids", 2)
    ours, plain = report["pipelines"]["ours"], report["pipelines"]["plain"]
    assert ours["passages"] == plain["passages"] >= 3  # the same passages, read back from our index
    assert ours["variant"] in VARIANT_GROUPS and plain["variant"] == "torch-fp32"
    for p in (ours, plain):
        assert p["seconds"] > 0 and p["cpu_seconds"] > 0 and p["peak_rss_mb"] > 100 and p["word_pieces"] > 0 and p["tokens"] > 0
        assert p["quality"]["recall@5"] == 1.0  # three short articles: each question finds its own
    assert report["retriever"]["recall@5"] == 1.0
    assert any("--fail-under-ratio" in f for f in report["failures"])


def _result(ours_quality: dict, plain_quality: dict, ours_seconds: float = 10.0) -> ib.Result:
    def pipeline(name: str, seconds: float, quality: dict) -> ib.Pipeline:
        return ib.Pipeline(name, 100, seconds, 5000, 6000, 800.0, 700.0, seconds * 2, "torch-fp32", quality)

    return ib.Result("news", 3, 2, "own_doc_ids", 2, pipeline("ours", ours_seconds, ours_quality),
                     pipeline("plain", 20.0, plain_quality), {}, {"before": [0, 0, 0], "after": [0, 0, 0]})


def test_a_quality_delta_over_half_a_point_fails_and_says_which():
    same = {"recall@5": 0.9, "mrr@10": 0.7}
    assert ib.failures(_result(same, same), 2.0) == []  # ratio 2.00: not under 2
    problems = ib.failures(_result({"recall@5": 0.9, "mrr@10": 0.69}, same), None)
    assert len(problems) == 1 and problems[0].startswith("mrr@10")
    assert ib.last_line(_result(same, same, ours_seconds=8.0)) == (
        "indexing: ours 12.5 passages/s, plain encode 5.0 passages/s, ratio 2.50")


def test_the_dataset_defaults_to_the_shared_sets_beside_the_repository(monkeypatch):
    monkeypatch.delenv("SHARED", raising=False)
    assert ib.default_dataset() == ROOT / "../shared/datasets/realtimeqa_2023"
    monkeypatch.setenv("SHARED", "/data/shared")
    assert ib.default_dataset() == Path("/data/shared/datasets/realtimeqa_2023")


def test_the_command_takes_its_flags_and_refuses_threads_it_cannot_have(capsys):
    args = build_parser().parse_args(["indexing", "--dataset", "d", "--articles", "200", "--threads", "1",
                                      "--fail-under-ratio", "1.5", "--out", "i.json"])
    assert (args.command, args.dataset, args.articles, args.threads, args.fail_under_ratio, args.out) == (
        "indexing", Path("d"), 200, 1, 1.5, Path("i.json"))
    for bad in (["--threads", "0"], ["--threads", str(len(os.sched_getaffinity(0)) + 1)], ["--articles", "0"]):
        with pytest.raises(SystemExit) as exc:
            main(["indexing", *bad])
        assert exc.value.code == 2, bad
        assert f"argument {bad[0]}" in capsys.readouterr().err
