"""The `rag` command end to end: real arguments, real index, output as a user sees it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.cli import main

from ..conftest import ARTICLE, ROOT
from ..support.cli import run

# In-process commands reuse the session's model instead of loading their own.
pytestmark = pytest.mark.usefixtures("shared_model")


def test_index_then_search_prints_a_table_with_the_right_passage(tmp_path, capsys, article_corpus):
    index = str(tmp_path / "idx")
    code, out, _ = run(capsys, "index", str(article_corpus), "--index", index)
    assert code == 0 and "1 added" in out and "chunks" in out
    code, out, _ = run(capsys, "search", "When was the IMU first formed?", "-k", "2", "--index", index)
    assert code == 0
    first = " ".join(out.split("[2]")[0].split())  # the table wraps long lines
    assert first.startswith("[1]") and "late 1990s" in first and "imu-pakistan-2014.txt" in first


def test_search_json_lists_text_doc_id_score_and_span(capsys, article_index):
    code, out, _ = run(capsys, "search", "Where is the IMU based?", "--json", "-k", "3", "--index", str(article_index))
    hits = json.loads(out)
    assert code == 0 and len(hits) == 3
    text = ARTICLE.read_text(encoding="utf-8")
    for h in hits:
        assert {"text", "doc_id", "score", "start", "end", "rank"} <= set(h)
        assert h["text"] in text


def test_reindexing_reports_what_changed(tmp_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Apples grow on trees in orchards.")
    index = str(tmp_path / "idx")
    run(capsys, "index", str(docs), "--index", index)
    (docs / "b.txt").write_text("Bananas grow in bunches on large plants.")
    code, out, _ = run(capsys, "index", str(docs), "--index", index)
    assert "1 added, 0 updated, 0 removed, 1 unchanged" in out


def test_bad_files_are_named_and_skipped_while_the_rest_is_indexed(tmp_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.txt").write_text("Cherries are small stone fruits.")
    (docs / "blob.bin").write_bytes(os.urandom(64))
    (docs / "empty.txt").write_text("")
    code, out, err = run(capsys, "index", str(docs), "--index", str(tmp_path / "idx"))
    assert code == 0 and "1 added" in out
    assert "blob.bin" in err and "empty.txt" in err


@pytest.mark.parametrize("args, message", [
    (["search", "anything", "--index", "{tmp}/missing"], "no index at"),
    (["search", "   ", "--index", "{index}"], "question is empty"),
    (["index", "{tmp}/does-not-exist", "--index", "{tmp}/i"], "does not exist"),
    (["search", "x", "-k", "0", "--index", "{index}"], "setting k must be between 1 and"),
])
def test_errors_print_one_clear_line_and_exit_non_zero(tmp_path, capsys, article_index, args, message):
    args = [a.format(tmp=tmp_path, index=article_index) for a in args]
    code, out, err = run(capsys, *args)
    assert code != 0
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_bad_flags_exit_2_with_a_pointer_to_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["search"])
    assert exc.value.code == 2
    assert "rag search --help" in capsys.readouterr().err


def test_installed_console_script_runs_offline(tmp_path, article_index):
    """The real executable, in a fresh process, with the hub unreachable."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    rag = Path(sys.executable).with_name("rag")
    cmd = [str(rag)] if rag.exists() else [sys.executable, "-m", "rag.cli"]
    proc = subprocess.run(cmd + ["search", "When was the IMU first formed?", "--json", "-k", "1", "--index", str(article_index)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "late 1990s" in json.loads(proc.stdout)[0]["text"]


def test_ask_prints_a_cited_answer_and_its_source(capsys, article_index):
    code, out, _ = run(capsys, "ask", "When was the IMU first formed?", "--index", str(article_index))
    assert code == 0
    short, answer, why, sources = out.split("\n\n", 3)
    assert short in ("late 1990s [1]", "the late 1990s [1]")  # the words asked for lead, with their marker
    assert "late 1990s" in answer and "[1]" in answer
    assert why.startswith("Short answer: ") and "confidence" in why  # which kind of answer, and why
    assert sources.startswith("[1] imu-pakistan-2014.txt") and "late 1990s" in " ".join(sources.split())


def test_ask_json_has_answer_citations_hits_and_timings(capsys, article_index):
    code, out, _ = run(capsys, "ask", "What is the capital of Uzbekistan?", "--json", "--index", str(article_index))
    data = json.loads(out)
    assert code == 0 and data["abstained"] is True and data["answer"] == "The documents don't say."
    assert {"answer", "abstained", "citations", "hits", "timings", "kind", "reason"} <= set(data)
    assert data["kind"] == "none" and data["reason"]
    code, out, _ = run(capsys, "ask", "When was the IMU first formed?", "--json", "--index", str(article_index))
    data = json.loads(out)
    (citation,) = data["citations"]
    assert {"marker", "doc_id", "quote", "start", "end"} <= set(citation)
    assert data["short_answer"]["marker"] == 1 and "late 1990s" in data["short_answer"]["text"]
    assert data["kind"] == "short" and 0 < data["short_answer"]["confidence"] <= 1
    assert citation["start"] <= data["short_answer"]["start"] < data["short_answer"]["end"] <= citation["end"]


def test_ask_with_an_unreachable_endpoint_fails_with_one_line(capsys, article_index):
    code, _, err = run(capsys, "ask", "When was the IMU formed?", "--generator", "openai",
                       "--base-url", "http://127.0.0.1:9/v1", "--index", str(article_index))
    assert code == 1 and "is unreachable" in err and len(err.strip().splitlines()) == 1


def test_ask_shows_a_quote_as_what_the_documents_say_when_no_short_answer_is_certain(capsys, article_index):
    code, out, _ = run(capsys, "ask", "Why did the IMU move to Pakistan?", "--index", str(article_index))
    assert code == 0
    answer, why, _ = out.split("\n\n", 2)
    assert answer.startswith("The documents say: ") and "[1]" in answer
    assert why.startswith("Quote: ")


def test_a_long_title_is_cut_short_in_search_and_ask(tmp_path, capsys):
    title = "The Kilwa harbour ledger " + "and more " * 13_000  # ~120,000 characters
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "ledger.jsonl").write_text(json.dumps(
        {"id": "ledger", "title": title, "text": "The Kilwa harbour master is Amina Said. She has kept the harbour "
                                                  "since 2009."}) + "\n")
    index = tmp_path / "index"
    assert run(capsys, "index", str(corpus), "--index", str(index))[0] == 0
    for command in ("search", "ask"):
        code, out, _ = run(capsys, command, "Who is the Kilwa harbour master?", "--index", str(index))
        assert code == 0 and "Amina Said" in out
        assert "(The Kilwa harbour ledger and more" in out and "…)" in out
        assert max(len(line) for line in out.splitlines()) < 200, command
