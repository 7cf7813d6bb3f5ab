"""`rag index/search/ask/docs --collection NAME` and `rag collections`."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import assert_one_clear_error, run
from tests.support.files import write_docs

BIRDS = {"birds.txt": "The Arctic tern migrates from the Arctic to the Antarctic every year. Terns nest in colonies "
                      "on rocky coasts."}
TRAINS = {"trains.txt": "The Shinkansen high-speed railway opened in Japan in 1964, between Tokyo and Osaka."}


@pytest.fixture
def two(tmp_path, capsys, shared_model, monkeypatch):
    """A default index of the birds and a `trains` collection, made by `rag index --collection`."""
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "index", str(write_docs(tmp_path / "birds", BIRDS)))[0] == 0
    code, out, err = run(capsys, "index", str(write_docs(tmp_path / "trains", TRAINS)), "--collection", "trains")
    assert code == 0, err
    return out


def test_index_with_a_collection_creates_it_beside_the_default_index(two, tmp_path):
    assert "created collection trains" in two
    assert "1 added" in two and "segments" not in two  # its first version is this index, not an empty one
    assert (tmp_path / ".rag" / "collections" / "trains" / "index" / "CURRENT").is_file()
    assert (tmp_path / ".rag" / "index" / "CURRENT").is_file()


def test_ask_with_a_collection_answers_from_it_only(two, capsys):
    code, out, _ = run(capsys, "ask", "When did the Shinkansen open?", "--collection", "trains", "--json")
    answer = json.loads(out)
    assert code == 0 and not answer["abstained"] and "1964" in answer["answer"]
    assert {c["doc_id"] for c in answer["citations"]} == {"trains.txt"}
    _, out, _ = run(capsys, "ask", "When did the Shinkansen open?", "--json")
    assert json.loads(out)["abstained"]  # the default collection holds the birds only


def test_search_and_docs_with_a_collection(two, capsys):
    _, out, _ = run(capsys, "search", "Shinkansen", "--collection", "trains", "--json")
    assert {h["doc_id"] for h in json.loads(out)} == {"trains.txt"}
    _, out, _ = run(capsys, "docs", "--collection", "trains", "--json")
    assert [d["id"] for d in json.loads(out)] == ["trains.txt"]
    _, out, _ = run(capsys, "docs", "--json")
    assert [d["id"] for d in json.loads(out)] == ["birds.txt"]


def test_reindexing_a_collection_keeps_what_was_uploaded_to_it(two, capsys, tmp_path, embedder):
    from rag.app.collections import Collections
    from rag.core.config import Config

    collections = Collections(Config(), embedder=embedder)
    collections.service("trains").upload("tgv.txt", b"The TGV first ran between Paris and Lyon in 1981.")
    code, out, err = run(capsys, "index", str(tmp_path / "trains"), "--collection", "trains")
    assert code == 0, err
    _, out, _ = run(capsys, "docs", "--collection", "trains", "--json")
    assert sorted(d["id"] for d in json.loads(out)) == ["trains.txt", "uploads/tgv.txt"]


def test_web_pages_indexed_into_a_collection_leave_its_folders_alone(two, capsys, tmp_path, embedder, monkeypatch):
    from bench.samples import html_page, local_site
    from rag.app.collections import Collections
    from rag.core.config import Config

    monkeypatch.setenv("RAG_WEB_HOST_DELAY", "0")
    Collections(Config(), embedder=embedder).service("trains").upload("tgv.txt", b"The TGV first ran in 1981.")
    with local_site() as site:
        url = site.put("/maglev", html_page("Maglev", ["The Shanghai maglev reaches 431 km/h on its daily runs."]))
        code, out, err = run(capsys, "index", url, "--collection", "trains")
    assert code == 0 and "1 added" in out and "removed" in out and "0 removed" in out, err
    _, out, _ = run(capsys, "docs", "--collection", "trains", "--json")
    assert sorted(d["id"] for d in json.loads(out)) == sorted(["trains.txt", "uploads/tgv.txt", url])


def test_collections_lists_each_with_its_documents_and_chunks(two, capsys):
    code, out, _ = run(capsys, "collections")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["COLLECTION", "DOCUMENTS", "CHUNKS", "WHERE"]
    assert lines[1].split()[:3] == ["default", "1", "1"] and lines[2].split()[:3] == ["trains", "1", "1"]
    _, out, _ = run(capsys, "collections", "--json")
    assert [(c["name"], c["documents"]) for c in json.loads(out)] == [("default", 1), ("trains", 1)]


def test_collections_remove_needs_yes(two, capsys, tmp_path):
    code, _, err = run(capsys, "collections", "remove", "trains")
    assert_one_clear_error(code, err, "trains (1 document)", "--yes")
    assert (tmp_path / ".rag" / "collections" / "trains" / "index").is_dir()
    code, out, _ = run(capsys, "collections", "remove", "trains", "--yes")
    assert code == 0 and "removed collection trains" in out
    assert not (tmp_path / ".rag" / "collections" / "trains").exists()
    code, _, err = run(capsys, "ask", "When did the Shinkansen open?", "--collection", "trains")
    assert_one_clear_error(code, err, "no collection named 'trains'")


def test_collections_create_then_an_empty_collection_abstains(tmp_path, capsys, shared_model, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "collections", "create", "empty")
    assert code == 0 and "created collection empty" in out, err
    code, out, _ = run(capsys, "ask", "Where do terns nest?", "--collection", "empty", "--json")
    assert code == 0 and json.loads(out)["abstained"]


@pytest.mark.parametrize(("args", "message"), [
    (("ask", "q", "--collection", "nope"), "no collection named 'nope'"),
    (("search", "q", "--collection", "Bad Name"), "is not a collection name"),
    (("collections", "remove", "default", "--yes"), "default collection cannot be removed"),
    (("collections", "create", "a", "../b"), "is not a collection name"),
])
def test_collection_mistakes_are_one_clear_line(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *args)
    assert_one_clear_error(code, err, message)
    assert not (tmp_path / ".rag" / "collections" / "a").exists()  # no name is made when one is bad


def test_docs_remove_in_a_collection_deletes_its_uploaded_file(two, capsys, tmp_path, embedder):
    from rag.app.collections import Collections
    from rag.core.config import Config

    Collections(Config(), embedder=embedder).service("trains").upload("tgv.txt", b"The TGV first ran in 1981.")
    stored = tmp_path / ".rag" / "collections" / "trains" / "uploads" / "tgv.txt"
    assert stored.is_file()
    code, out, err = run(capsys, "docs", "remove", "uploads/tgv.txt", "--collection", "trains")
    assert code == 0 and "removed uploads/tgv.txt" in out, err
    assert not stored.exists()


def test_a_new_collection_whose_first_index_fails_is_not_made(tmp_path, capsys, shared_model, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.pdf").write_bytes(b"not a pdf")
    code, _, err = run(capsys, "index", str(tmp_path / "bad"), "--collection", "new")
    assert code == 1 and "no readable documents" in err
    assert not (tmp_path / ".rag" / "collections" / "new").exists()
    code, out, _ = run(capsys, "collections", "--json")
    assert [c["name"] for c in json.loads(out)] == ["default"]
