"""One plug-in pattern, typed settings per component, one factory, and rag.toml's sections."""

from __future__ import annotations

import dataclasses
import io
import logging
import re
import tokenize
from pathlib import Path

import pytest

from rag.app import factory
from rag.backends import BACKENDS
from rag.backends.milvus import MilvusSettings
from rag.core.config import SECTIONS, Config
from rag.core.errors import ConfigError
from rag.core.records import Answer
from rag.core.registry import Registry
from rag.embedders import EMBEDDERS, EmbedderSettings
from rag.generators import GENERATORS
from rag.generators.extractive.settings import ExtractiveSettings
from rag.generators.llama_cpp import LlamaCppSettings
from rag.generators.llm import LLMSettings
from rag.generators.openai_compatible import OpenAISettings
from rag.index.vectors import VECTOR_INDEXES
from rag.indexing.indexer import IndexerSettings
from rag.ingest.chunking import ChunkerSettings
from rag.ingest.loaders import FileLimits
from rag.retrieval.rerankers import RERANKERS, RerankerSettings
from rag.retrieval.settings import RetrievalSettings

from ..conftest import ROOT

COMPONENT_PACKAGES = ("generators", "embedders", "index", "backends", "retrieval")


class EchoGenerator:
    """A generator outside the registry, chosen by its dotted path."""

    name = "echo"

    def __init__(self, prefix: str = "echo"):
        self.prefix = prefix

    def generate(self, question, hits):
        return Answer(question=question, text=f"{self.prefix}: {question}")

    def stream(self, question, hits):
        yield self.generate(question, hits)


def test_no_component_package_names_the_whole_config():
    """Components take their own settings; only rag.app.factory turns a Config into them."""
    offenders = []
    for package in COMPONENT_PACKAGES:
        for path in sorted((ROOT / "rag" / package).rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            for token in tokenize.generate_tokens(io.StringIO(source).readline):
                if token.type == tokenize.NAME and token.string == "Config":
                    offenders.append(f"{path.relative_to(ROOT)}:{token.start[0]}")
    assert offenders == []


def test_a_dotted_path_chooses_a_class_outside_the_registry(config):
    for path in (f"{__name__}:EchoGenerator", f"{__name__}.EchoGenerator"):
        assert GENERATORS.resolve(path) is EchoGenerator
    generator = factory.generator(config, f"{__name__}:EchoGenerator", prefix="hi")
    assert isinstance(generator, EchoGenerator) and generator.generate("q", []).text == "hi: q"
    local = Registry("widget", {"echo": f"{__name__}:EchoGenerator"})
    assert local.resolve("echo") is EchoGenerator and local.names() == ["echo"]


@pytest.mark.parametrize("registry", [GENERATORS, EMBEDDERS, VECTOR_INDEXES, BACKENDS, RERANKERS],
                         ids=lambda r: r.kind)
def test_an_unknown_name_is_a_config_error_listing_the_known_ones(registry):
    with pytest.raises(ConfigError) as error:
        registry.resolve("nonesuch")
    assert all(name in str(error.value) for name in registry.names())
    with pytest.raises(ConfigError, match="no module"):
        registry.resolve("no_such_package.module:Thing")
    with pytest.raises(ConfigError, match="has no"):
        registry.resolve(f"{__name__}:NoSuchClass")


def test_every_registered_name_resolves():
    for registry in (GENERATORS, VECTOR_INDEXES, BACKENDS, RERANKERS, EMBEDDERS):
        for name in registry.names():
            if name == "onnx-int8":
                pytest.importorskip("onnxruntime")
            assert callable(registry.resolve(name))


def test_the_settings_defaults_are_the_config_defaults():
    config = Config()
    assert factory.embedder_settings(config) == EmbedderSettings()
    assert factory.chunker_settings(config) == ChunkerSettings()
    assert factory.file_limits(config) == FileLimits()
    assert factory.indexer_settings(config) == IndexerSettings()
    assert factory.retrieval_settings(config) == RetrievalSettings()
    assert factory.reranker_settings(config) == RerankerSettings()
    assert factory.milvus_settings(config) == MilvusSettings()
    assert factory.extractive_settings(config) == ExtractiveSettings()
    assert factory.llm_settings(config) == LLMSettings()
    assert factory.openai_settings(config) == OpenAISettings()
    assert factory.llama_cpp_settings(config) == LlamaCppSettings()


def test_every_setting_is_in_exactly_one_section():
    placed = [field for keys in SECTIONS.values() for field in keys.values()]
    assert sorted(placed) == sorted(f.name for f in dataclasses.fields(Config) if f.name != "extra")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


SECTIONED = """
[paths]
index_dir = "idx"
[retrieval]
k = 7
mode = "bm25"
[chunking]
tokens = 200
[openai]
base_url = "http://localhost:8000/v1"
allowed_base_urls = ["http://localhost:9000/v1"]
[milvus]
collection = "docs"
[extractive]
abstain_threshold = 0.4
"""

FLAT = """
index_dir = "idx"
k = 7
retrieval = "bm25"
chunk_tokens = 200
openai_base_url = "http://localhost:8000/v1"
openai_allowed_base_urls = ["http://localhost:9000/v1"]
milvus_collection = "docs"
abstain_threshold = 0.4
"""


def test_sections_give_the_same_config_as_flat_keys(tmp_path, monkeypatch):
    monkeypatch.delenv("RAG_CONFIG", raising=False)
    sectioned = Config.load(write(tmp_path / "new.toml", SECTIONED))
    assert sectioned == Config.load(write(tmp_path / "old.toml", FLAT))
    assert sectioned == Config.load(write(tmp_path / "rag.toml", "[rag]\n" + FLAT))
    assert (sectioned.k, sectioned.retrieval, sectioned.chunk_tokens, sectioned.milvus_collection) == \
        (7, "bm25", 200, "docs")


def test_a_flat_key_gives_one_deprecation_note_naming_its_section(tmp_path, caplog):
    file = write(tmp_path / "rag.toml", 'fusion = "scores"\n[retrieval]\nk = 3\n')
    with caplog.at_level(logging.WARNING, logger="rag.config"):
        for _ in range(3):
            config = Config.load(file)
    notes = [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()]
    assert len(notes) == 1 and "`fusion`" in notes[0] and "[retrieval]" in notes[0]
    assert (config.fusion, config.k) == ("scores", 3)
    assert Config.load(write(tmp_path / "old.toml", 'retrieval = "dense"\n')).retrieval == "dense"


def test_a_flat_key_with_a_bad_value_is_refused_without_a_deprecation_note_before_the_error(tmp_path, caplog):
    file = write(tmp_path / "rag.toml", "[rag]\nrrf_k = -1\n")
    with caplog.at_level(logging.WARNING, logger="rag.config"), pytest.raises(ConfigError, match="rrf_k must be"):
        Config.load(file)
    assert [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()] == []


def test_unknown_keys_and_sections_name_what_is_known(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown setting 'kk' in \[retrieval\].*takes k, mode"):
        Config.load(write(tmp_path / "a.toml", "[retrieval]\nkk = 3\n"))
    with pytest.raises(ConfigError, match=r"unknown section \[retrival\].*did you mean 'retrieval'"):
        Config.load(write(tmp_path / "b.toml", "[retrival]\nk = 3\n"))
    with pytest.raises(ConfigError, match="set twice"):
        Config.load(write(tmp_path / "c.toml", "k = 4\n[retrieval]\nk = 3\n"))
    with pytest.raises(ConfigError, match="setting k must be between"):  # validation as strict as before
        Config.load(write(tmp_path / "d.toml", "[retrieval]\nk = 0\n"))


def test_a_misspelt_rag_variable_is_named_with_the_closest_setting(monkeypatch, caplog):
    monkeypatch.setenv("RAG_ABSTAIN_THRESHOD", "0.3")
    monkeypatch.setenv("RAG_MILVUS_TOKEN", "secret")  # the token's variable is no setting, and fine
    monkeypatch.setenv("RAG_CONFIG_TOKEN_HOLDER", "x")
    monkeypatch.setenv("RAG_MILVUS_TOKEN_ENV", "RAG_CONFIG_TOKEN_HOLDER")
    with caplog.at_level(logging.WARNING, logger="rag.config"):
        Config.load()
        Config.load()
    lines = [r.getMessage() for r in caplog.records if r.name == "rag.config"]
    assert lines == ["unknown setting RAG_ABSTAIN_THRESHOD; did you mean RAG_ABSTAIN_THRESHOLD?"]


def test_a_variable_read_outside_the_settings_or_in_the_wrong_case_is_named_with_its_closest(monkeypatch, caplog):
    for name in ("RAG_DEBGU", "rag_backend", "Rag_K", "RAG_DEBUG", "RAG_AUTH"):
        monkeypatch.setenv(name, "1")
    with caplog.at_level(logging.WARNING, logger="rag.config"):
        Config.load()
    assert sorted(r.getMessage() for r in caplog.records if r.name == "rag.config") == [
        "unknown setting RAG_DEBGU; did you mean RAG_DEBUG?",
        "unknown setting Rag_K; did you mean RAG_K?",
        "unknown setting rag_backend; did you mean RAG_BACKEND?"]


def test_every_rag_variable_the_project_reads_or_sets_is_known_so_none_is_warned_about():
    from rag.core.config import env_names

    root = Path(__file__).resolve().parents[2]
    places = [*root.glob("rag/**/*.py"), *root.glob("ui/**/*.py"), *root.glob("bench/**/*.py"),
              *root.glob("docs/**/*.md"), root / "README.md", root / "Makefile", *root.glob(".ci/*")]
    named = {m for p in places if p.is_file() for m in re.findall(r"\bRAG_[A-Z0-9_]*[A-Z0-9]", p.read_text())}
    shown_misspelt = {"RAG_ABSTAIN_THRESHOD", "RAG_RETREIVAL"}  # the docs' and fault bench's warned-about examples
    secrets = {str(Config.openai_api_key_env), str(Config.milvus_token_env)}
    assert named - env_names() - secrets - shown_misspelt == set()


def test_the_factory_hands_the_retrievers_embedder_to_the_extractive_generator(article_index, config, embedder,
                                                                                  monkeypatch):
    loads = []
    monkeypatch.setattr(factory, "load_embedder", lambda *a, **k: loads.append(a) or embedder)
    retriever = factory.retriever(config, article_index)
    generator = factory.generator(config, "extractive", retriever=retriever)
    assert loads == [(factory.embedder_settings(config),)]  # one model, loaded once
    assert generator.embedder is retriever.embedder and generator._sentences is retriever
    assert generator.threshold == config.abstain_threshold


def test_the_library_retriever_reads_no_config(article_index, embedder, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "rag.toml", "[retrieval]\nk = 1\n")
    monkeypatch.setenv("RAG_K", "1")
    from rag import Retriever

    hits = Retriever.load(article_index, embedder=embedder).search("When was the IMU first formed?")
    assert len(hits) == RetrievalSettings().k and hits[0].rank == 1
    assert Retriever.load(article_index, settings=RetrievalSettings(k=2), embedder=embedder).search("IMU")[1].rank == 2


def test_no_module_probes_constructor_signatures():
    sources = [p for p in (ROOT / "rag").rglob("*.py")]
    assert not [p for p in sources if re.search(r"inspect\.signature", p.read_text(encoding="utf-8"))]


def test_the_cli_shows_a_flat_keys_note_once(tmp_path):
    import os
    import subprocess
    import sys

    write(tmp_path / "rag.toml", "k = 3\nfusion = \"rrf\"\n[paths]\nindex_dir = \"idx\"\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-m", "rag.cli", "search", "lighthouse"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    notes = [line for line in done.stderr.splitlines() if "deprecated" in line]
    assert len(notes) == 2 and "`k`" in notes[0] and "[retrieval]" in notes[0], done.stderr
