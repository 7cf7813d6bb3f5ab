"""Shared fixtures: the embedding model is loaded once per session, indexes are tiny."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a test that reaches for the hub is a bug

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = ROOT / "corpus" / "imu-pakistan-2014.txt"


@pytest.fixture(scope="session")
def config():
    from rag.core.config import Config

    return Config()


@pytest.fixture(scope="session")
def embedder(config):
    from rag.embedders import create_embedder

    return create_embedder(config.embedding_model)


@pytest.fixture(scope="session")
def fp32_embedder(embedder):
    """The session's model with passages embedded by PyTorch in fp32, for tests that compare two
    indexes exactly: in bf16 a passage's vector changes in the fifth decimal with the batch it is
    embedded in, and a near tie between two passages can turn (rag.embedders.precision)."""
    from rag.embedders import create_embedder

    fp32 = create_embedder(embedder.name, passage_precision="fp32", passage_backend="torch")
    fp32.__dict__["model"] = embedder.model
    return fp32


@pytest.fixture
def shared_model(monkeypatch, embedder):
    """Commands run in-process reuse the session's model instead of loading their own."""
    import rag.app.factory
    import rag.embedders
    import rag.generators.extractive.generator
    import rag.indexing.indexer
    import rag.retrieval.retriever

    for module in (rag.embedders, rag.app.factory, rag.indexing.indexer, rag.retrieval.retriever,
                   rag.generators.extractive.generator):
        for name in ("create_embedder", "load_embedder"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, lambda *a, **k: embedder)


@pytest.fixture(scope="session")
def article_corpus(tmp_path_factory) -> Path:
    corpus = tmp_path_factory.mktemp("corpus")
    shutil.copy(ARTICLE, corpus / ARTICLE.name)
    return corpus


@pytest.fixture(scope="session")
def article_index(tmp_path_factory, article_corpus, config, embedder) -> Path:
    """An index of the article, built once; tests must not modify it."""
    from rag.app import factory

    index_dir = tmp_path_factory.mktemp("index") / "article"
    factory.indexer(config, embedder).index_paths([article_corpus], index_dir)
    return index_dir


@pytest.fixture(scope="session")
def retriever(article_index, config, embedder):
    from rag.app import factory

    return factory.retriever(config, article_index, embedder=embedder)


@pytest.fixture(scope="module")
def pipeline(retriever, config):
    """The extractive pipeline over the article, as `rag ask` builds it."""
    from rag.app import factory
    from rag.app.pipeline import Pipeline

    return Pipeline(retriever, factory.generator(config, "extractive", retriever=retriever))


@pytest.fixture
def indexer(config, embedder):
    from rag.app import factory

    return factory.indexer(config, embedder)


def copy_as_built_by(index_dir: Path, copy: Path, model: str) -> Path:
    """A copy of an index whose manifest names another embedding model."""
    import json

    from rag.index.store import IndexStore

    shutil.copytree(index_dir, copy)
    manifest_path = IndexStore(copy).current_path() / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["embedder"]["name"] = model
    manifest_path.write_text(json.dumps(manifest))
    return copy


BACKENDS = ("local", "milvus")


def backend_config(config, backend: str, where: Path):
    """`config` storing under `where`: an index directory, or a milvus-lite file there."""
    if backend == "local":
        return config.replace(index_dir=where / "index")
    return config.replace(backend="milvus", milvus_uri=str(where / "m.db"), milvus_collection="rag_chunks")


@pytest.fixture(params=BACKENDS)
def any_backend(request, config, tmp_path):
    """The settings of each backend in turn, storing in this test's tmp_path (Milvus: milvus-lite)."""
    return backend_config(config, request.param, tmp_path)


@pytest.fixture(scope="session", params=BACKENDS)
def article_retriever(request, article_index, article_corpus, config, embedder, tmp_path_factory):
    """A retriever over the article on each backend in turn; tests must not modify it."""
    from rag.app import factory

    if request.param == "local":
        return factory.retriever(config, article_index, embedder=embedder)
    milvus = backend_config(config, "milvus", tmp_path_factory.mktemp("milvus"))
    factory.indexer(milvus, embedder).index_paths([article_corpus])
    return factory.retriever(milvus, embedder=embedder)
