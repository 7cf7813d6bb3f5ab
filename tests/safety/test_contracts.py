"""What the library promises callers: arguments it cannot use are refused with a `RagError` that
says why; what documents and models say is masked and neutralised before a terminal shows it."""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.app import factory
from rag.cli import main
from rag.core.errors import QueryError, RagError
from rag.safety.redact import StreamRedactor, install_log_redaction, redact, redact_data

QUESTION = "When was the IMU first formed?"


@pytest.mark.parametrize("k, reason", [(0, "at least 1"), (-3, "at least 1"), (2.5, "whole number"),
                                       ("3", "whole number"), (True, "whole number")])
def test_a_passage_count_that_is_not_a_positive_whole_number_is_refused(retriever, k, reason):
    with pytest.raises(QueryError, match=f"k must .*{reason}"):
        retriever.search(QUESTION, k)


@pytest.mark.parametrize("mode", ["BM25", "Dense", "keyword", ""])
def test_an_unknown_or_wrongly_cased_mode_is_refused_with_the_modes_named(retriever, mode):
    with pytest.raises(QueryError, match="mode must be one of hybrid, dense, bm25"):
        retriever.search(QUESTION, 3, mode=mode)


def test_a_single_string_as_doc_ids_is_refused_rather_than_read_as_characters(retriever):
    with pytest.raises(QueryError, match=r"doc_ids must be a list of document ids, such as \['imu-pakistan"):
        retriever.search(QUESTION, 3, doc_ids="imu-pakistan-2014.txt")
    with pytest.raises(QueryError, match="doc_ids"):
        retriever.search(QUESTION, 3, doc_ids=[1, 2])
    (hit,) = retriever.search(QUESTION, 1, doc_ids=["imu-pakistan-2014.txt"])
    assert hit.doc_id == "imu-pakistan-2014.txt"


def test_the_pipeline_refuses_k_zero_instead_of_silently_using_the_default(retriever, config, embedder):
    from rag.app.pipeline import Pipeline
    from rag.generators.extractive.generator import ExtractiveGenerator

    pipeline = Pipeline(retriever, ExtractiveGenerator(embedder=embedder))
    for k in (0, 2.5, "3"):
        with pytest.raises(QueryError, match="k must"):
            pipeline.ask(QUESTION, k=k)
    with pytest.raises(QueryError, match="mode must"):
        pipeline.ask(QUESTION, k=2, mode="BM25")
    with pytest.raises(QueryError, match="unknown search option.*doc_id"):
        pipeline.ask(QUESTION, k=2, doc_id=["imu-pakistan-2014.txt"])
    assert issubclass(QueryError, RagError)
    assert "late 1990s" in pipeline.ask(QUESTION, k=2).text


def test_support_and_scores_are_plain_numbers_in_the_answers_data(retriever, config, embedder):
    from rag.app.pipeline import Pipeline
    from rag.generators.extractive.generator import ExtractiveGenerator

    data = Pipeline(retriever, ExtractiveGenerator(embedder=embedder)).ask(QUESTION, k=3).to_dict()
    assert data["citations"] and all(type(c["support"]) is float for c in data["citations"])
    assert type(data["confidence"]) is float and all(type(h["score"]) is float for h in data["hits"])
    json.dumps(data)  # without a default= hook: nothing numpy-typed is left


# --- terminal escape sequences in ids, titles and text ---

ESCAPES = {"id": "evil\x1b[2J\x1b[H.txt", "title": "\x1b]0;owned\x07Harbour \u202eslaets",
           "text": "The Kilwa harbour master is Amina Said.\x9b31m She has kept the harbour since 2009."}


@pytest.fixture(scope="module")
def hostile_index(tmp_path_factory, config, embedder):

    root = tmp_path_factory.mktemp("escapes")
    (root / "docs.jsonl").write_text(json.dumps(ESCAPES) + "\n", encoding="utf-8")
    factory.indexer(config, embedder).index_paths([root / "docs.jsonl"], root / "index")
    return root / "index"


@pytest.mark.parametrize("command", [["search", "Who is the Kilwa harbour master?"],
                                     ["ask", "Who is the Kilwa harbour master?"]])
def test_escape_sequences_in_ids_titles_and_text_are_shown_not_obeyed(hostile_index, shared_model, capsys, command):
    code = main([*command, "--index", str(hostile_index)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Amina Said" in out
    for raw in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert raw not in out and raw not in err
    assert "evil\\x1b[2J\\x1b[H.txt" in out, "the id is still readable"
    assert "\\x1b]0;owned\\x07Harbour \\u202eslaets" in out


def test_json_output_escapes_what_json_would_leave_raw(hostile_index, shared_model, capsys):
    assert main(["search", "Who is the Kilwa harbour master?", "--index", str(hostile_index), "--json"]) == 0
    out = capsys.readouterr().out
    assert "\x9b" not in out and "\u202e" not in out and "\x1b" not in out
    (hit,) = [h for h in json.loads(out) if h["doc_id"] == ESCAPES["id"]]
    assert hit["title"] == ESCAPES["title"], "the data itself is unchanged, only its encoding"


# --- the redaction rule itself ---

KEY = "sk-live-" + "Zq8TxW3pLm" * 5


def test_the_configured_key_and_token_shaped_strings_are_masked(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "plainkeywithoutprefix123")
    text = ("header Authorization: Bearer abcDEF123456789xyz, env plainkeywithoutprefix123, "
            f"{KEY} in passing; risk-management and task-force-members stay")
    masked = redact(text)
    assert masked == ("header Authorization: Bearer ***, env ***, *** in passing; "
                      "risk-management and task-force-members stay")
    assert redact_data({"a": [text, 3, ("x", KEY)]}) == {"a": [masked, 3, ("x", "***")]}
    monkeypatch.setenv("OPENAI_API_KEY", "short")  # too short to be a key: words are not masked
    assert redact("a short note") == "a short note"


words = st.sampled_from(["The", "IMU", "Bearer", KEY, f"({KEY})", "was", "formed", "key:", "sk-", "[1].", "\n"])


@settings(max_examples=150, deadline=None)
@given(st.lists(words, min_size=1, max_size=25), st.lists(st.integers(0, 400), max_size=12))
def test_a_key_split_anywhere_across_stream_pieces_is_masked_like_the_whole_text(parts, cuts):
    text = " ".join(parts)
    bounds = sorted({0, len(text), *(c for c in cuts if c < len(text))})
    stream = StreamRedactor()
    shown = [stream.feed(text[a:b]) for a, b in zip(bounds, bounds[1:])] + [stream.flush()]
    assert "".join(shown) == redact(text)
    assert all("Zq8TxW3pLm" not in piece for piece in shown)


def test_log_records_of_any_logger_are_masked_when_made(caplog):
    install_log_redaction()
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("some.library").warning("sent headers %s", {"Authorization": f"Bearer {KEY}"})
        try:
            raise ValueError(f"server said: {KEY}")
        except ValueError:
            logging.getLogger("rag.ui").exception("answering failed")
    assert "Zq8TxW3pLm" not in caplog.text and "Bearer ***" in caplog.text and "server said: ***" in caplog.text
