"""`Retriever.load(index_dir, collection=NAME)`: a named collection, found beside the index."""

from __future__ import annotations

import pytest

from rag.core.config import Config
from rag.core.errors import CollectionNotFoundError, ConfigError
from rag.retrieval.retriever import Retriever
from tests.support.files import write_docs


def test_retriever_load_searches_the_named_collection(tmp_path, embedder):
    from rag.app import factory
    from rag.app.collections import Collections

    config = Config(index_dir=tmp_path / ".rag" / "index")
    factory.indexer(config, embedder).index_paths([write_docs(tmp_path / "a", {"terns.txt": "Terns nest on rocky "
                                                                                            "coasts."})],
                                                  config.index_dir)
    Collections(config, embedder=embedder).create("trains").upload(
        "trains.txt", b"The Shinkansen opened in 1964 between Tokyo and Osaka.")

    hits = Retriever.load(config.index_dir, collection="trains", embedder=embedder).search("Shinkansen", k=3)
    assert {h.doc_id for h in hits} == {"uploads/trains.txt"}
    hits = Retriever.load(config.index_dir, embedder=embedder).search("Shinkansen", k=3)
    assert {h.doc_id for h in hits} == {"terns.txt"}
    with pytest.raises(CollectionNotFoundError, match="no collection named 'nope'"):
        Retriever.load(config.index_dir, collection="nope", embedder=embedder)
    with pytest.raises(ConfigError):
        Retriever.load(config.index_dir, collection="trains", backend=factory.backend(config), embedder=embedder)
