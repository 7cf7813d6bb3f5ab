"""The one place a `Config` becomes components.

Every component takes its own typed settings (`RetrievalSettings`, `ExtractiveSettings`,
`MilvusSettings`, ...) and its collaborators, never the whole `Config`; the functions here read
the configuration, pick implementations from each package's registry by name, and wire the
parts together:

    >>> from rag.app import factory
    >>> config = Config.load()                     # rag.toml < RAG_* < overrides
    >>> retriever = factory.retriever(config)      # embedder + backend + reranker + settings
    >>> generator = factory.generator(config, retriever=retriever)

A generator that declares `uses_embedder = True` (the extractive one) is handed the retriever's
embedder and the retriever as its source of stored sentence vectors, so the model loads once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rag.backends import BACKENDS, Backend
from rag.backends.milvus import MilvusSettings
from rag.core.config import Config
from rag.embedders import Embedder, EmbedderSettings, load_embedder
from rag.generators import GENERATORS, Generator
from rag.generators.extractive.settings import ExtractiveSettings
from rag.generators.llama_cpp import LlamaCppSettings
from rag.generators.llm import LLMSettings
from rag.generators.openai_compatible import OpenAISettings
from rag.indexing.indexer import Indexer, IndexerSettings
from rag.indexing.watch import WatchSettings
from rag.ingest.archives import ZipLimits
from rag.ingest.chunking import ChunkerSettings
from rag.ingest.fetch import WebSettings
from rag.ingest.loaders import FileLimits
from rag.ingest.ocr import OcrSettings
from rag.retrieval.rerankers import Reranker, RerankerSettings, create_reranker
from rag.retrieval.retriever import Retriever
from rag.retrieval.settings import RetrievalSettings

__all__ = [
    "backend", "chunker_settings", "embedder", "embedder_settings", "extractive_settings", "file_limits",
    "generator", "generator_names", "generator_settings", "indexer", "indexer_settings", "llama_cpp_settings",
    "llm_settings", "milvus_settings", "openai_settings", "ray_indexing", "reranker", "reranker_settings",
    "retrieval_settings", "retriever", "web_settings",
]


# --- settings: one function a component kind, each reading only its fields of the Config ---

def embedder_settings(config: Config) -> EmbedderSettings:
    return EmbedderSettings(model=config.embedding_model, batch_size=config.embedding_batch_size,
                            query_backend=config.query_backend, query_onnx_model=config.query_onnx_model,
                            passage_precision=config.passage_precision, passage_backend=config.passage_backend)


def chunker_settings(config: Config) -> ChunkerSettings:
    return ChunkerSettings(chunk_tokens=config.chunk_tokens, chunk_overlap=config.chunk_overlap,
                           encoding=config.encoding, context=config.chunk_context)


def file_limits(config: Config) -> FileLimits:
    return FileLimits(max_chars=config.max_file_chars, max_parse_seconds=config.max_parse_seconds,
                      max_parse_memory_mb=config.max_parse_memory_mb,
                      zip=ZipLimits(max_unzipped_mb=config.max_unzipped_mb, max_ratio=config.max_zip_ratio),
                      follow_external_symlinks=config.follow_external_symlinks, ocr=ocr_settings(config))


def ocr_settings(config: Config) -> OcrSettings:
    return OcrSettings(mode=config.ocr, language=config.ocr_language, dpi=config.ocr_dpi,
                       max_seconds=config.max_ocr_seconds, min_confidence=config.ocr_min_confidence,
                       max_pixels=config.max_image_pixels)


def web_settings(config: Config) -> WebSettings:
    return WebSettings(user_agent=config.web_user_agent, connect_timeout=config.web_connect_timeout,
                       read_timeout=config.web_read_timeout, max_fetch_seconds=config.web_max_fetch_seconds,
                       max_redirects=config.web_max_redirects, max_page_mb=config.web_max_page_mb,
                       host_delay=config.web_host_delay, content_types=config.web_content_types,
                       max_sitemap_urls=config.web_max_sitemap_urls)


def indexer_settings(config: Config) -> IndexerSettings:
    return IndexerSettings(chunking=chunker_settings(config), limits=file_limits(config),
                           max_file_chunks=config.max_file_chunks, index_type=config.index_type,
                           approx_threshold=config.approx_threshold, index_dir=Path(config.index_dir),
                           corpus_dir=Path(config.corpus_dir), web=web_settings(config))


def watch_settings(config: Config) -> WatchSettings:
    return WatchSettings(debounce_ms=config.watch_debounce_ms, quiet_ms=config.watch_quiet_ms)


def retrieval_settings(config: Config) -> RetrievalSettings:
    return RetrievalSettings(
        k=config.k, mode=config.retrieval, fusion=config.fusion, dense_weight=config.dense_weight,
        bm25_weight=config.bm25_weight, rrf_k=config.rrf_k, candidate_depth=config.candidate_depth,
        small_to_big=config.small_to_big, dedup_similarity=config.dedup_similarity,
        max_chunks_per_document=config.max_chunks_per_document, document_weight=config.document_weight,
        max_question_chars=config.max_question_chars, rerank_depth=config.rerank_depth)


def reranker_settings(config: Config) -> RerankerSettings:
    return RerankerSettings(model=config.reranker)


def milvus_settings(config: Config) -> MilvusSettings:
    return MilvusSettings(uri=config.milvus_uri, collection=config.milvus_collection,
                          token_env=config.milvus_token_env)


def extractive_settings(config: Config) -> ExtractiveSettings:
    return ExtractiveSettings(abstain_threshold=config.abstain_threshold, sentence_rescore=config.sentence_rescore,
                              short_answer_threshold=config.short_answer_threshold,
                              short_answer_scorer=config.short_answer_scorer)


def llm_settings(config: Config) -> LLMSettings:
    return LLMSettings(context_tokens=config.context_tokens, answer_tokens=config.answer_tokens,
                       encoding=config.encoding, request_timeout=config.request_timeout,
                       max_retries=config.max_retries)


def _llm_fields(config: Config) -> dict[str, Any]:
    s = llm_settings(config)
    return {f: getattr(s, f) for f in LLMSettings.__dataclass_fields__}


def openai_settings(config: Config) -> OpenAISettings:
    return OpenAISettings(**_llm_fields(config), base_url=config.openai_base_url, model=config.openai_model,
                          api_key_env=config.openai_api_key_env)


def llama_cpp_settings(config: Config) -> LlamaCppSettings:
    return LlamaCppSettings(**_llm_fields(config), model_path=config.llama_model_path, threads=config.llama_threads)


# The settings each registered generator takes; a generator given by dotted path takes none.
_GENERATOR_SETTINGS = {
    "extractive": extractive_settings,
    "openai": openai_settings,
    "llama_cpp": llama_cpp_settings,
}


def generator_settings(config: Config, name: str) -> Any:
    """The settings object the generator `name` takes (None for one outside the registry)."""
    build = _GENERATOR_SETTINGS.get(name)
    return build(config) if build else None


# --- components ---

def embedder(config: Config) -> Embedder:
    """The configured embedding model (loaded on first use)."""
    return load_embedder(embedder_settings(config))


def backend(config: Config, index_dir: Path | str | None = None) -> Backend:
    """The configured backend; `index_dir` overrides the local index directory."""
    cls = BACKENDS.resolve(config.backend)
    if config.backend == "milvus":
        return cls(milvus_settings(config))
    if config.backend == "local":
        return cls(index_dir or config.index_dir)
    return cls()  # a backend of one's own, by dotted path, configures itself


def reranker(config: Config) -> Reranker | None:
    """The configured cross-encoder, or None when `reranker` is empty."""
    return create_reranker(reranker_settings(config))


def retriever(config: Config, index_dir: Path | str | None = None, *, embedder: Embedder | None = None,
              store: Backend | None = None) -> Retriever:
    """A retriever over the configured backend (`index_dir`: another local index directory),
    checked against the configured embedding model and chunker settings."""
    return Retriever.open(store or backend(config, index_dir), embedder or load_embedder(embedder_settings(config)),
                          retrieval_settings(config), reranker=reranker(config), chunking=chunker_settings(config))


def generator_names() -> list[str]:
    return GENERATORS.names()


def generator(config: Config, name: str | Generator | None = None, *, retriever: Retriever | None = None,
              **options: Any) -> Generator:
    """The generator `name` (default: `config.generator`; a registered name or a dotted path),
    built with its settings from `config`; `options` are its own keywords (`base_url`, ...).
    An instance is returned as it is."""
    name = config.generator if name is None else name
    if not isinstance(name, str):
        return name
    cls = GENERATORS.resolve(name)
    if getattr(cls, "uses_embedder", False):
        # Scoring with the embedding model: the retriever's, loaded once, and its stored vectors.
        if retriever is not None:
            options.setdefault("embedder", retriever.embedder)
            options.setdefault("sentences", retriever)
        else:
            options.setdefault("embedder", load_embedder(embedder_settings(config)))
    settings = generator_settings(config, name)
    return cls(settings, **options) if settings is not None else cls(**options)


def indexer(config: Config, embedder: Embedder | None = None, *, ray: Any = None) -> Indexer:
    """An indexer writing to the configured backend with the configured chunking and limits.
    `ray`: a `RayIndexing`, True for one from the configuration, or None."""
    if ray is True:
        ray = ray_indexing(config)
    return Indexer(indexer_settings(config), embedder or load_embedder(embedder_settings(config)),
                   open_backend=lambda index_dir=None: backend(config, index_dir), ray=ray or None)


def ray_indexing(config: Config, address: str | None = None, *, actors: int | None = None):
    """Chunking and embedding on the Ray cluster at `address` (default: `ray_address`, or a
    local instance)."""
    from rag.indexing.ray_indexing import RayIndexing

    return RayIndexing(embedder_settings(config), chunker_settings(config), config.max_file_chunks,
                       address or config.ray_address or "local",
                       actors=config.ray_actors if actors is None else actors)
