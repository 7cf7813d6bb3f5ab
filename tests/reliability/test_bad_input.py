"""Bad input at every entry point: questions, documents, index directories and settings.

Each case ends in one message that says what to do, never a traceback, and never costs what is
already indexed.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rag.app import factory
from rag.core.config import Config
from rag.core.errors import (
    DocumentError,
    IndexCorruptError,
    IndexNotFoundError,
    ModelNotFoundError,
    QuestionError,
)
from rag.core.records import Document
from rag.index.store import IndexStore
from rag.ingest.chunking import Chunker
from rag.ingest.loaders import load_documents, load_text_document

from ..conftest import ROOT
from ..support.cli import assert_one_clear_error, rag, run
from ..support.files import make_pdf

LONG = "x" * 100_000


# --- questions ---

BAD_QUESTIONS = [
    pytest.param("", "empty", id="empty"),
    pytest.param("   \n\t ", "empty", id="whitespace"),
    pytest.param("\x00\x07\x1b", "empty", id="control-characters"),
    pytest.param("\u200b\u202e\u2066 \u200d\ufeff\u200f", "empty", id="zero-width-and-bidi-only"),
    pytest.param(LONG, "limit is 4,000", id="100k-characters"),
    pytest.param("caf\udcff", "not valid UTF-8", id="surrogate-escape"),
    pytest.param("When was the IMU formed \ud83d?", "not valid UTF-8", id="half-an-emoji"),
    pytest.param(b"When was the IMU formed?", "must be text", id="bytes"),
]


@pytest.mark.parametrize("question, message", BAD_QUESTIONS)
def test_the_library_refuses_an_unusable_question_with_the_reason(pipeline, retriever, question, message):
    with pytest.raises(QuestionError, match=message):
        retriever.search(question)
    with pytest.raises(QuestionError, match=message):
        pipeline.ask(question)
    with pytest.raises(QuestionError, match=message):
        next(pipeline.ask_stream(question))  # refused before a single word streams out


@pytest.mark.parametrize("command", ["search", "ask"])
@pytest.mark.parametrize("question, advice", [("", "type a question"), ("  \t ", "type a question"),
                                              (LONG, "Ask about one thing at a time")])
def test_the_cli_refuses_an_unusable_question_in_one_line(capsys, shared_model, article_index, command,
                                                          question, advice):
    code, out, err = run(capsys, command, question, "--index", str(article_index))
    assert_one_clear_error(code, err, advice)
    assert out == ""


@pytest.mark.parametrize("command", ["search", "ask"])
def test_a_question_that_is_not_utf8_on_the_command_line_is_refused_in_one_line(article_index, command):
    proc = rag(ROOT, command, b"\xff\xfe", "--index", os.fsencode(article_index), text=False)
    err = proc.stderr.decode("utf-8", "backslashreplace")
    assert_one_clear_error(proc.returncode, err, "not valid UTF-8", "re-type it")
    assert proc.stdout == b""


GOOD_QUESTION = {"id": "ok", "question": "When was the IMU first formed?", "answers": ["late 1990s"],
                 "answerable": True, "doc_ids": ["imu-pakistan-2014.txt"]}


@pytest.mark.parametrize("line, message", [
    pytest.param(json.dumps({**GOOD_QUESTION, "id": "q", "question": ""}), "'question' must be non-empty text",
                 id="empty"),
    pytest.param(json.dumps({**GOOD_QUESTION, "id": "q", "question": "\u0000\u0001"}), "question is empty",
                 id="control-characters"),
    pytest.param(json.dumps({**GOOD_QUESTION, "id": "q", "question": LONG}), "limit is 4,000", id="100k-characters"),
    pytest.param(json.dumps({**GOOD_QUESTION, "id": "q", "question": "caf\udcff"}), "not valid UTF-8",
                 id="surrogate-escape"),
    pytest.param('{"id": "q", "question": "When', "not valid JSON", id="broken-line"),
])
def test_eval_names_the_line_of_a_bad_question_before_building_anything(tmp_path, monkeypatch, capsys, shared_model,
                                                                         line, message):
    dataset = tmp_path / "qa.jsonl"
    dataset.write_text(json.dumps(GOOD_QUESTION) + "\n" + line + "\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "eval", str(dataset), "--corpus", str(ROOT / "corpus"), "--out", str(tmp_path / "r"))
    assert_one_clear_error(code, err, f"{dataset}:2: ", message)
    assert not (tmp_path / ".rag").exists(), "a bad dataset must fail before any index is built"
    assert not (tmp_path / "r").exists()


# --- documents ---

ARTICLE_P = "<p>Herons wade in shallow water and spear fish with their long sharp beaks.</p>"


def compressed_pdf(text: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(text))))
    for page in writer.pages:
        page.compress_content_streams()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def encrypted_pdf(text: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(text))))
    writer.encrypt(user_password="hunter2", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def huge_html() -> str:
    """3 MB of page, almost all of it scripts and navigation; one short article."""
    junk = "<script>var tracking = {id: 1, ok: true};</script>\n" * 30_000
    nav = "<nav>" + "<a href='/x'>Home</a> | " * 20_000 + "</nav>"
    return f"<html><head><title>Herons</title>{junk}</head><body>{nav}<article>{ARTICLE_P}</article></body></html>"


def write_bad_corpus(docs: Path) -> dict[str, str]:
    """Good and bad files side by side; returns each bad file's name and a word its reason must hold."""
    docs.mkdir()
    (docs / "good.txt").write_text("Cherries are small stone fruits that grow on trees.", encoding="utf-8")
    (docs / "herons.html").write_text(huge_html(), encoding="utf-8")
    (docs / "zero.txt").write_bytes(b"")
    (docs / "binary.md").write_bytes(b"\x00\x01PK\x03\x04" + bytes(range(256)) * 4)
    (docs / "truncated.pdf").write_bytes(make_pdf("Owls hunt at night.")[:-60])
    (docs / "locked.pdf").write_bytes(encrypted_pdf("Owls hunt at night."))
    (docs / "mangled.pdf").write_bytes(compressed_pdf("Owls hunt at night.").replace(b"/FlateDecode", b"/FlateDecoX"))
    (docs / "corpus.jsonl").write_text("\n".join([
        json.dumps({"id": "puffins", "title": "Puffins", "text": "Puffins nest in burrows on sea cliffs."}),
        '{"id": "broken", "text": ',
        "[1, 2, 3]",
        json.dumps({"id": "notext"}),
        '{"id": "surrogate", "text": "Gannets \\udcff dive."}',
    ]), encoding="utf-8")
    return {"zero.txt": "empty", "binary.md": "binary", "truncated.pdf": "PDF", "locked.pdf": "encrypted PDF",
            "mangled.pdf": "unreadable PDF",
            "corpus.jsonl:2": "bad JSON", "corpus.jsonl:3": "not a JSON object", "corpus.jsonl:4": "'text'",
            "corpus.jsonl:5": "surrogate"}


def indexed_docs(index_dir: Path) -> set[str]:
    return set(IndexStore(index_dir).read_manifest().documents)


def test_index_skips_each_bad_file_once_by_name_and_indexes_the_rest(tmp_path, capsys, shared_model):
    docs = tmp_path / "docs"
    bad = write_bad_corpus(docs)
    code, out, err = run(capsys, "index", str(docs), "--index", str(tmp_path / "idx"))
    assert code == 0, err
    assert "3 added" in out and f"{len(bad)} skipped" in out
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == len(bad), "one line per bad file, not one per file per logger"
    for name, reason in bad.items():
        (line,) = [ln for ln in lines if f"/{name}: " in ln]
        assert line.startswith("skipped ") and reason in line
    assert indexed_docs(tmp_path / "idx") == {"good.txt", "herons.html", "puffins"}
    hit = factory.retriever(Config(), tmp_path / "idx").search("How do herons catch fish?", 1)[0]
    assert hit.doc_id == "herons.html" and "tracking" not in hit.text and "Home |" not in hit.text


def test_a_file_name_that_is_not_utf8_is_skipped_by_name(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / os.fsdecode(b"caf\xe9.txt")).write_text("A file whose name is Latin-1.", encoding="utf-8")
    proc = rag(ROOT, "index", os.fsencode(docs), "--index", os.fsencode(tmp_path / "idx"), text=False)
    err = proc.stderr.decode("utf-8", "backslashreplace")
    assert proc.returncode == 1 and "Traceback" not in err
    skipped, last = err.strip().splitlines()
    assert skipped.endswith("caf\\udce9.txt: the file name is not valid UTF-8; rename the file")
    assert last.startswith("rag: error: no readable documents")


def test_a_folder_of_only_bad_files_is_refused_and_the_index_is_left_as_it_was(tmp_path, capsys, shared_model):
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir()
    (good / "a.txt").write_text("Lighthouses guide ships along rocky coasts.", encoding="utf-8")
    index = tmp_path / "idx"
    assert run(capsys, "index", str(good), "--index", str(index))[0] == 0
    before = IndexStore(index).current_path()
    bad.mkdir()
    (bad / "zero.txt").write_bytes(b"")
    (bad / "locked.pdf").write_bytes(encrypted_pdf("Owls hunt at night."))
    code, _, err = run(capsys, "index", str(bad), "--index", str(index))
    assert code == 1 and "Traceback" not in err
    *skipped, last = err.strip().splitlines()
    assert sorted(Path(s.split()[1].rstrip(":")).name for s in skipped) == ["locked.pdf", "zero.txt"]
    assert last.startswith("rag: error: no readable documents") and "left unchanged" in last
    assert IndexStore(index).current_path() == before and indexed_docs(index) == {"a.txt"}


def test_a_document_that_turns_unreadable_keeps_its_indexed_version(tmp_path, capsys, shared_model):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Lighthouses guide ships along rocky coasts.", encoding="utf-8")
    (docs / "b.pdf").write_bytes(make_pdf("Barn owls live on every continent."))
    index = tmp_path / "idx"
    run(capsys, "index", str(docs), "--index", str(index))
    (docs / "b.pdf").write_bytes(make_pdf("Barn owls live on every continent.")[:-60])  # a copy cut short
    code, out, err = run(capsys, "index", str(docs), "--index", str(index))
    assert code == 0 and "b.pdf" in err and "0 removed" in out
    assert indexed_docs(index) == {"a.txt", "b.pdf"}


def test_a_huge_html_page_loads_whole_and_quickly():
    html = "<html><body><article>" + ARTICLE_P * 40_000 + "</article></body></html>"  # 3 MB of text
    t0 = time.perf_counter()
    doc = load_text_document("herons.html", html.encode())
    assert time.perf_counter() - t0 < 5
    assert doc.text.count("Herons wade") == 40_000 and "<p>" not in doc.text


# --- index directories ---

def damage(index_dir: Path, how: str) -> None:
    version = IndexStore(index_dir).current_path()
    segment = version / "segments" / json.loads((version / "manifest.json").read_text())["segments"][0]["name"]
    name = how.split(":", 1)[-1]
    where = version if name == "manifest.json" else segment
    if how.startswith("missing:"):
        target = where / name
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    elif how.startswith("truncated:"):
        target = where / name
        target.write_bytes(target.read_bytes()[:200])
    elif how == "no-current":
        (index_dir / "CURRENT").unlink()
    elif how == "other-format":
        manifest = json.loads((version / "manifest.json").read_text())
        manifest["format_version"] = 99
        (version / "manifest.json").write_text(json.dumps(manifest))


DAMAGE = [
    "missing:manifest.json", "missing:chunks.jsonl", "missing:vectors.npy", "missing:vectors.faiss",
    "missing:terms", "missing:documents.json", "truncated:vectors.npy", "truncated:chunks.jsonl", "no-current",
    "truncated:vectors.faiss", "truncated:documents.json", "other-format",
]


@pytest.fixture
def damaged(tmp_path, article_index, request) -> Path:
    index_dir = tmp_path / "damaged-index"
    shutil.copytree(article_index, index_dir)
    damage(index_dir, request.param)
    return index_dir


@pytest.mark.parametrize("damaged", DAMAGE, indirect=True)
def test_a_damaged_index_is_named_with_the_command_that_fixes_it(damaged, capsys, shared_model, config, embedder):
    with pytest.raises((IndexCorruptError, IndexNotFoundError)) as err:
        factory.retriever(config, damaged, embedder=embedder)
    assert str(damaged) in str(err.value) and "rag index" in str(err.value)
    for command in ("search", "ask"):
        code, out, err_text = run(capsys, command, "When was the IMU first formed?", "--index", str(damaged))
        assert_one_clear_error(code, err_text, str(damaged), "rag index")
        assert out == ""


def test_updating_a_damaged_index_is_refused_and_leaves_it_for_inspection(tmp_path, article_index, capsys,
                                                                          shared_model, article_corpus):
    index_dir = tmp_path / "damaged-index"
    shutil.copytree(article_index, index_dir)
    damage(index_dir, "truncated:vectors.npy")

    def files() -> list[tuple[str, int]]:
        return sorted((str(p.relative_to(index_dir)), p.stat().st_size) for p in index_dir.rglob("*")
                      if p.is_file() and p.name != ".lock")

    before = files()
    code, _, err = run(capsys, "index", str(article_corpus), "--index", str(index_dir))
    assert_one_clear_error(code, err, "--rebuild")
    assert files() == before


def test_an_empty_directory_is_not_an_index(tmp_path, capsys, shared_model):
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "search", "anything", "--index", str(tmp_path / "empty"))
    assert_one_clear_error(code, err, str(tmp_path / "empty"), "rag index")


# --- settings naming a model that does not exist ---

def test_an_env_var_naming_a_missing_model_fails_indexing_with_the_model_named(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAG_EMBEDDING_MODEL", "acme/no-such-model")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Lighthouses guide ships.", encoding="utf-8")
    code, _, err = run(capsys, "index", str(docs), "--index", str(tmp_path / "idx"))
    assert_one_clear_error(code, err, "cannot load embedding model 'acme/no-such-model'", "Set embedding_model")
    assert not IndexStore(tmp_path / "idx").exists()


@pytest.mark.parametrize("command", ["search", "ask"])
def test_a_rag_toml_naming_a_missing_model_is_reported_as_such_not_as_a_stale_index(tmp_path, monkeypatch, capsys,
                                                                                      article_index, command):
    (tmp_path / "rag.toml").write_text('[rag]\nembedding_model = "/nonexistent/model-dir"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, command, "When was the IMU first formed?", "--index", str(article_index))
    assert_one_clear_error(code, err, "cannot load embedding model '/nonexistent/model-dir'")
    with pytest.raises(ModelNotFoundError):
        factory.retriever(Config.load(), article_index)


def test_updating_an_index_with_a_missing_model_names_the_model(tmp_path, monkeypatch, capsys, article_index,
                                                                 article_corpus):
    index_dir = tmp_path / "idx"
    shutil.copytree(article_index, index_dir)
    monkeypatch.setenv("RAG_EMBEDDING_MODEL", "acme/no-such-model")
    code, _, err = run(capsys, "index", str(article_corpus), "--index", str(index_dir))
    assert_one_clear_error(code, err, "cannot load embedding model 'acme/no-such-model'")


# --- properties: any text, any bytes ---

@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=400), size=st.integers(8, 48), overlap_share=st.floats(0, 0.9))
@example(text="0\x81\x81\x81\x81\x810ÒØ", size=8, overlap_share=0.0)  # re-encodes to more tokens than it was cut at
def test_any_text_chunks_into_exact_spans_within_the_token_budget(text, size, overlap_share):
    chunker = Chunker(size, int(size * overlap_share))
    for chunk in chunker.chunk(Document("d", "", text)):
        assert text[chunk.start:chunk.end] == chunk.text
        assert chunk.n_tokens == chunker.count(chunk.text) <= size


PDF = compressed_pdf("Barn owls live on every continent.")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(suffix=st.sampled_from([".txt", ".md", ".html", ".pdf"]), data=st.binary(max_size=300))
def test_any_bytes_either_load_or_raise_document_error(suffix, data):
    try:
        doc = load_text_document("file" + suffix, data)
    except DocumentError as exc:
        assert str(exc)
    else:
        assert doc.text.strip()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.integers(0, len(PDF) - 1), st.binary(min_size=1, max_size=4)), min_size=1,
                      max_size=6), cut=st.integers(0, len(PDF)))
@example(edits=[(PDF.index(b"/FlateDecode") + 11, b"X")], cut=len(PDF))  # an unknown filter name
def test_a_damaged_pdf_either_loads_or_raises_document_error(edits, cut):
    data = bytearray(PDF)
    for at, replacement in edits:
        data[at:at + len(replacement)] = replacement
    try:
        load_text_document("owls.pdf", bytes(data[:cut]))
    except DocumentError as exc:
        assert str(exc)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.one_of(st.binary(max_size=40), st.text(max_size=40).map(str.encode),
                                st.builds(lambda i, t: json.dumps({"id": i, "text": t}).encode(),
                                          st.one_of(st.text(max_size=5), st.integers()), st.text(max_size=30))),
                      max_size=6))
def test_a_jsonl_corpus_of_any_bytes_loads_what_it_can_and_names_the_rest(tmp_path, lines):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b"\n".join(lines))
    result = load_documents([path])
    for doc in result.documents:
        for field in (doc.id, doc.title, doc.text):
            field.encode("utf-8")  # storable: the index is written as UTF-8
    assert all(s.path.startswith(str(path)) and s.reason for s in result.skipped)
