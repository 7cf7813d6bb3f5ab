"""Named document collections: each its own index, the default one the configured index."""

from __future__ import annotations

import pytest

from rag.app import factory
from rag.app.collections import DEFAULT_COLLECTION, Collections, milvus_name
from rag.core.config import Config
from rag.core.errors import (
    CollectionError,
    CollectionExistsError,
    CollectionNameError,
    CollectionNotFoundError,
    NotOwnedError,
    RagError,
)
from rag.core.records import Answer
from tests.support.files import write, write_docs

BIRDS = {"birds.txt": "The Arctic tern migrates from the Arctic to the Antarctic every year, the longest migration "
                      "of any animal. Terns nest in colonies on rocky coasts."}
TRAINS = {"trains.txt": "The Shinkansen high-speed railway opened in Japan in 1964, between Tokyo and Osaka. Its "
                        "trains run at up to 320 kilometres per hour."}


@pytest.fixture
def setup(tmp_path, embedder):
    config = Config(index_dir=tmp_path / ".rag" / "index", corpus_dir=tmp_path / "corpus")
    factory.indexer(config, embedder).index_paths([write_docs(tmp_path / "corpus", BIRDS)], config.index_dir)
    return config, Collections(config, embedder=embedder)


def _answer(collections: Collections, name: str, question: str) -> Answer:
    events = collections.service(name).ask_stream(question, [], "extractive", 3)
    return [e for e in events if isinstance(e, Answer)][-1]


def test_the_default_collection_is_the_configured_index(setup):
    config, collections = setup
    assert collections.names() == [DEFAULT_COLLECTION]
    assert collections.exists(DEFAULT_COLLECTION)
    assert collections.index_dir(DEFAULT_COLLECTION) == config.index_dir
    assert collections.service(DEFAULT_COLLECTION).config.index_dir == config.index_dir
    assert [d.id for d in collections.service(DEFAULT_COLLECTION).list_documents()] == ["birds.txt"]


def test_named_collections_live_beside_the_index(setup, tmp_path):
    _, collections = setup
    collections.create("team-a")
    assert collections.index_dir("team-a") == tmp_path / ".rag" / "collections" / "team-a" / "index"
    assert collections.names() == ["default", "team-a"]
    # A second deployment object over the same folders sees it too (another process, say).
    assert Collections(collections.config, embedder=collections.embedder).names() == ["default", "team-a"]


def test_collections_dir_setting_moves_them(tmp_path, embedder):
    config = Config(index_dir=tmp_path / "index", collections_dir=str(tmp_path / "elsewhere"))
    collections = Collections(config, embedder=embedder)
    collections.create("x")
    assert collections.index_dir("x") == tmp_path / "elsewhere" / "x" / "index"
    assert (tmp_path / "elsewhere" / "x" / "index").is_dir()


def test_a_new_collection_is_empty_and_says_the_documents_dont_say(setup):
    _, collections = setup
    service = collections.create("empty")
    assert service.list_documents() == []
    assert _answer(collections, "empty", "How far does the Arctic tern migrate?").abstained


def test_two_collections_answer_from_their_own_documents_only(setup, tmp_path):
    _, collections = setup
    trains = collections.create("trains")
    trains.upload("trains.txt", TRAINS["trains.txt"].encode())
    assert [d.id for d in trains.list_documents()] == ["uploads/trains.txt"]
    assert [d.id for d in collections.service("default").list_documents()] == ["birds.txt"]

    answer = _answer(collections, "trains", "When did the Shinkansen open?")
    assert not answer.abstained and "1964" in answer.text
    assert {c.doc_id for c in answer.citations} == {"uploads/trains.txt"}
    assert _answer(collections, "trains", "How far does the Arctic tern migrate?").abstained
    assert _answer(collections, "default", "When did the Shinkansen open?").abstained
    # Its upload is stored in the collection's own folder, not in the default corpus.
    assert (tmp_path / ".rag" / "collections" / "trains" / "uploads" / "trains.txt").is_file()
    assert not (tmp_path / "corpus" / "uploads").exists()


def test_service_is_cached_per_name(setup):
    _, collections = setup
    collections.create("a")
    assert collections.service("a") is collections.service("a")
    assert collections.service("a") is not collections.service("default")


@pytest.mark.parametrize("name", ["", "Team", "a b", "../x", ".", "..", "a/b", "é", "x" * 65, "a.b"])
def test_names_are_checked(setup, name):
    _, collections = setup
    with pytest.raises(CollectionNameError, match="lowercase letters, digits"):
        collections.create(name)
    assert not collections.exists(name)


def test_creating_an_existing_collection_is_refused(setup):
    _, collections = setup
    collections.create("a")
    with pytest.raises(CollectionExistsError, match="already exists"):
        collections.create("a")
    with pytest.raises(CollectionExistsError):
        collections.create(DEFAULT_COLLECTION)


def test_an_unknown_collection_is_not_found(setup):
    _, collections = setup
    assert not collections.exists("nope")
    with pytest.raises(CollectionNotFoundError, match="no collection named 'nope'"):
        collections.service("nope")
    with pytest.raises(CollectionNotFoundError):
        collections.delete("nope")
    assert issubclass(CollectionNotFoundError, RagError)


def test_delete_removes_the_index_and_uploads_and_forgets_the_name(setup, tmp_path):
    _, collections = setup
    service = collections.create("gone")
    service.upload("trains.txt", TRAINS["trains.txt"].encode())
    collections.delete("gone")
    assert collections.names() == ["default"]
    assert not (tmp_path / ".rag" / "collections" / "gone").exists()
    with pytest.raises(CollectionNotFoundError):
        collections.service("gone")
    collections.create("gone")  # the name is free again, and the new collection starts empty
    assert collections.service("gone").list_documents() == []


def test_delete_keeps_what_rag_did_not_create(setup, tmp_path):
    _, collections = setup
    collections.create("mine")
    note = write(tmp_path / ".rag" / "collections" / "mine" / "notes.md", "my own notes")
    collections.delete("mine")
    assert note.read_text() == "my own notes"
    assert not (tmp_path / ".rag" / "collections" / "mine" / "index").exists()
    assert collections.names() == ["default"]


def test_the_default_collection_cannot_be_deleted(setup):
    config, collections = setup
    with pytest.raises(CollectionError, match="default collection cannot be removed"):
        collections.delete(DEFAULT_COLLECTION)
    assert (config.index_dir / "CURRENT").is_file()


def test_a_collections_folder_rag_did_not_make_is_refused(setup, tmp_path):
    _, collections = setup
    write(tmp_path / ".rag" / "collections" / "thesis.tex", "a person's file")
    with pytest.raises(NotOwnedError):
        collections.create("a")
    assert (tmp_path / ".rag" / "collections" / "thesis.tex").read_text() == "a person's file"


def test_a_collection_removed_elsewhere_is_not_served(setup):
    _, collections = setup
    collections.create("a")
    collections.service("a")
    Collections(collections.config, embedder=collections.embedder).delete("a")
    with pytest.raises(CollectionNotFoundError):
        collections.service("a")


def test_milvus_names_never_collide():
    names = ["a", "a_docs", "a-docs", "a_b", "a-b", "a__b", "ab", "docs"]
    mapped = {milvus_name("rag_chunks", n) for n in names}
    catalogues = {m + "_docs" for m in mapped}
    assert len(mapped) == len(names)
    assert not mapped & catalogues
    assert "rag_chunks_docs" not in mapped | catalogues  # the default collection's catalogue


# --- the library: collection= ---

def test_pipeline_load_takes_a_collection(setup, shared_model):
    from rag.app.pipeline import Pipeline

    config, collections = setup
    collections.create("trains").upload("trains.txt", TRAINS["trains.txt"].encode())
    answer = Pipeline.load(config=config, collection="trains").ask("When did the Shinkansen open?")
    assert "1964" in answer.text and {c.doc_id for c in answer.citations} == {"uploads/trains.txt"}
    assert Pipeline.load(config=config).ask("When did the Shinkansen open?").abstained  # the default one
    with pytest.raises(CollectionNotFoundError):
        Pipeline.load(config=config, collection="nope")
    with pytest.raises(CollectionNameError):
        Pipeline.load(config=config, collection="../etc")


def test_indexing_a_folder_holding_the_collections_reads_none_of_them(tmp_path, embedder):
    # The collections kept inside the corpus: their indexes and uploads are not the corpus's documents.
    corpus = write_docs(tmp_path / "corpus", BIRDS)
    config = Config(index_dir=tmp_path / "index", collections_dir=str(corpus / "collections"))
    Collections(config, embedder=embedder).create("trains").upload("trains.txt", TRAINS["trains.txt"].encode())
    report = factory.indexer(config, embedder).index_paths([corpus], config.index_dir)
    assert report.added == ["birds.txt"] and not report.skipped


def test_a_collection_whose_index_cannot_be_made_is_not_listed(setup, monkeypatch):
    _, collections = setup

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("rag.indexing.indexer.Indexer.sync", full_disk)
    with pytest.raises(OSError):
        collections.create("half")
    assert collections.names() == ["default"]
    assert not (collections.root / "half").exists()


def test_concurrent_first_lookups_share_one_service(setup):
    from concurrent.futures import ThreadPoolExecutor

    _, collections = setup
    collections.create("a")
    fresh = Collections(collections.config, embedder=collections.embedder)
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda _: fresh.service("a"), range(8)))
    assert len({id(s) for s in got}) == 1


@pytest.mark.parametrize("where", ["index", "index/collections", "."])
def test_collections_dir_may_not_overlap_the_index(tmp_path, embedder, where):
    from rag.core.errors import ConfigError

    config = Config(index_dir=tmp_path / "index", collections_dir=str(tmp_path / where))
    with pytest.raises(ConfigError, match="overlap"):
        Collections(config, embedder=embedder)


def test_on_milvus_each_collection_is_its_own_milvus_collection(tmp_path, embedder):
    from tests.conftest import backend_config

    config = backend_config(Config(index_dir=tmp_path / ".rag" / "index"), "milvus", tmp_path)
    factory.indexer(config, embedder).index_paths([write_docs(tmp_path / "corpus", BIRDS)])
    collections = Collections(config, embedder=embedder)
    collections.create("team-a").upload("trains.txt", TRAINS["trains.txt"].encode())

    answer = _answer(collections, "team-a", "When did the Shinkansen open?")
    assert "1964" in answer.text and {c.doc_id for c in answer.citations} == {"uploads/trains.txt"}
    assert _answer(collections, "default", "When did the Shinkansen open?").abstained
    assert collections.info("team-a").where.endswith("collection rag_chunks__team_ha")
    client = factory.backend(config).client
    assert client.has_collection("rag_chunks__team_ha") and client.has_collection("rag_chunks__team_ha_docs")

    collections.delete("team-a")
    assert not client.has_collection("rag_chunks__team_ha") and not client.has_collection("rag_chunks__team_ha_docs")
    assert client.has_collection("rag_chunks") and collections.names() == ["default"]
