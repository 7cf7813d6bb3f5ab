"""Milvus as a backend: a server or cluster (`http://host:19530`, Zilliz Cloud with a token) or a
milvus-lite file, through pymilvus' `MilvusClient`.

Two collections:
    <name>        one row a chunk: id, doc_id, date, text, info (title, span, metadata), vector,
                  and on servers with full-text search (milvus-lite 3, Milvus >= 2.5) the chunk's
                  analysed terms with a BM25 function into a sparse field
    <name>_docs   the catalogue: one row a document (its content hash and manifest entry) and one
                  `meta` row with the embedder and chunker settings and a generation that every
                  update changes, so other processes know to re-read the catalogue

The terms given to Milvus' BM25 are those of rag.index.bm25 (lower-cased, stop words dropped,
stemmed), joined by spaces, so both backends rank keyword matches alike; Milvus' own English
analyser is not used (milvus-lite has none). Without full-text search on the server, keyword
search runs in this process over the chunks' terms, which each process reads once per update.
Filters by document and date become Milvus filter expressions, evaluated by the server.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Collection, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.backends.base import Filters, chunk_date
from rag.core.errors import ConfigError, IndexNotFoundError, RagError
from rag.core.records import Chunk
from rag.index.bm25 import K1, B, LexicalIndex, TermStats
from rag.index.sentence_vectors import PieceVectors
from rag.index.store import FORMAT_VERSION, Manifest
from rag.safety.redact import redact, remember, watch_env
from rag.text.analysis import analyze

log = logging.getLogger("rag.milvus")

TOP_K_LIMIT = 16_384  # Milvus' largest `limit` for one search or query page
BATCH = 256  # rows per insert: well under the 64 MB message limit at 384 dimensions
ID_CHARS = 4096
TEXT_CHARS = 65_535
META_KEY = "meta:"
# Searches read with Strong consistency for this long after a view opens, Bounded after: Strong
# waits for the server's next time tick (200 ms per request on Milvus 2.3 standalone, against
# 5 ms Bounded), and by then Bounded staleness covers every write the new generation listed.
STRONG_SECONDS = 5.0
_VERSION = re.compile(r"v?(\d+)\.(\d+)")


def _expected_noise(record: logging.LogRecord) -> bool:
    """False for the two lines every catalogue read logs on milvus-lite and Milvus 2.3, whose
    servers lack the timestamp call pymilvus' query iterator tries first (it then uses its own)."""
    message = record.getMessage()
    if "failed to get mvccTs" in message:
        return False
    exc = record.exc_info[1] if record.exc_info else None
    return not (isinstance(exc, NotImplementedError) and "Method not implemented" in message + str(exc))


for _name in ("pymilvus.client.iterator.query_iterator", "grpc._server"):
    logging.getLogger(_name).addFilter(_expected_noise)


class _AtDebug(logging.Handler):
    """pymilvus and milvus-lite log every failed call, with its traceback, before raising, and this
    backend reports each failure itself in one line (MilvusError): what they say goes on through
    rag.milvus at DEBUG, so it reaches a terminal or log file only where rag.milvus logs at DEBUG."""

    def emit(self, record: logging.LogRecord) -> None:
        if log.isEnabledFor(logging.DEBUG):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            log.handle(record)


_AT_DEBUG = _AtDebug()


def _own_client_logging(top: str, *children: str) -> None:
    """`top`'s records (its children's too) go to `_AT_DEBUG` only: pymilvus gives its loggers
    handlers of their own that print to stderr whatever the application configured."""
    for name in children:
        child = logging.getLogger(name)
        for handler in list(child.handlers):
            child.removeHandler(handler)
        child.propagate = True
        child.setLevel(logging.NOTSET)
    logger = logging.getLogger(top)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.addHandler(_AT_DEBUG)
    logger.propagate = False
    logger.setLevel(logging.NOTSET)


_own_client_logging("milvus_lite")


class MilvusError(RagError):
    """Milvus refused or could not be reached."""


def _client(uri: str, token: str):
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise ConfigError("backend = \"milvus\" needs pymilvus: pip install 'rag[milvus]'") from None
    _own_client_logging("pymilvus", "pymilvus.milvus_client", "pymilvus.bulk_writer")  # after its import
    if "://" not in uri:
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
    try:
        return MilvusClient(uri=uri, token=token) if token else MilvusClient(uri=uri)
    except Exception as exc:  # pymilvus raises its own types, and grpc's
        if "://" not in uri:
            raise MilvusError(f"cannot open the milvus-lite file {uri}: {redact(str(exc))[:300]}; milvus-lite opens a "
                              "file in one process at a time, so stop the other one (a `rag serve`?) or use a "
                              "Milvus server") from None
        raise MilvusError(f"cannot connect to Milvus at {uri}: {redact(str(exc))[:300]}; start the server or fix "
                          "milvus_uri (and the token in the milvus_token_env variable)") from None


_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()


def shared_client(uri: str, token: str):
    """One client per address in a process: milvus-lite allows one process per file, and every
    retriever, indexer and service of this process shares it (the client is thread-safe)."""
    key = (os.path.abspath(uri) if "://" not in uri else uri, token)
    with _clients_lock:
        if key not in _clients:
            _clients[key] = _client(uri, token)
        return _clients[key]


def quote(value: str) -> str:
    """A Milvus string literal: never a value pasted into an expression as it is."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def expression(filters: Filters) -> str:
    parts = []
    if filters.doc_ids:
        parts.append(f"doc_id in [{', '.join(quote(d) for d in sorted(filters.doc_ids))}]")
    if filters.date_from or filters.date_to:
        parts.append('date != ""')
        if filters.date_from:
            parts.append(f"date >= {quote(filters.date_from)}")
        if filters.date_to:
            parts.append(f"date <= {quote(filters.date_to[:10])}")
    return " and ".join(parts)


def has_full_text(server_version: str) -> bool:
    """BM25 functions came with Milvus 2.5; milvus-lite 3 has them too."""
    if server_version.startswith("milvus_lite"):
        m = _VERSION.search(server_version)
        return bool(m) and int(m.group(1)) >= 3
    m = _VERSION.search(server_version)
    return bool(m) and (int(m.group(1)), int(m.group(2))) >= (2, 5)


class MilvusView:
    """The catalogue as of one generation; searches go to the server, which always has the
    latest rows (collections are created with Strong consistency)."""

    def __init__(self, backend: "MilvusBackend", manifest: Manifest, generation: str,
                 lexical: "LocalTerms | None"):
        self.backend = backend
        self.manifest = manifest
        self.version = generation
        self._terms = lexical
        self._strong_until = time.monotonic() + STRONG_SECONDS

    def _level(self) -> str:
        return "Strong" if time.monotonic() < self._strong_until else "Bounded"

    def __len__(self) -> int:
        return self.manifest.n_chunks

    def dense(self, query: np.ndarray, depth: int, filters: Filters) -> list[str]:
        b = self.backend
        res = b.call("search", b.collection, data=[query.astype(np.float32).tolist()], anns_field="vector",
                     limit=min(depth, TOP_K_LIMIT), filter=expression(filters), output_fields=["id"],
                     search_params={"metric_type": "IP"}, consistency_level=self._level())
        return [str(hit["id"]) for hit in res[0]]

    def lexical(self, question: str, depth: int, filters: Filters) -> list[tuple[str, float]]:
        if self._terms is not None:
            return self._terms.search(question, depth, filters)
        terms = " ".join(analyze(question))
        if not terms:
            return []
        b = self.backend
        res = b.call("search", b.collection, data=[terms], anns_field="sparse", limit=min(depth, TOP_K_LIMIT),
                     filter=expression(filters), output_fields=["id"], search_params={"metric_type": "BM25"},
                     consistency_level=self._level())
        # milvus-lite reports BM25 as a negated distance, servers as a score; the order is best first in both.
        return [(str(hit["id"]), abs(float(hit["distance"]))) for hit in res[0]]

    def chunks(self, keys: Sequence[str]) -> list[Chunk]:
        rows = self.backend.rows(keys, ["id", "doc_id", "text", "info"], self._level())
        return [_chunk(rows[k]) for k in keys]

    def best_piece_cosines(self, keys: Sequence[str], query: np.ndarray) -> None:
        return None  # sentence vectors stay with a local index; Milvus holds chunk vectors only

    def vectors(self, keys: Sequence[str]) -> np.ndarray:
        rows = self.backend.rows(keys, ["id", "vector"], self._level())
        dim = int(self.manifest.embedder.get("dim") or 0)
        if not keys:
            return np.zeros((0, dim), dtype=np.float32)
        return np.asarray([np.asarray(rows[k]["vector"], dtype=np.float32) for k in keys], dtype=np.float32)


class LocalTerms:
    """Keyword search in this process, for servers without full-text search (Milvus < 2.5)."""

    def __init__(self, ids: list[str], doc_ids: list[str], dates: list[str], texts: list[str]):
        self.ids, self.doc_ids, self.dates = ids, doc_ids, dates
        self.index = LexicalIndex([(TermStats.build(texts), None, 0, None)])

    def search(self, question: str, depth: int, filters: Filters) -> list[tuple[str, float]]:
        n = len(self.ids)
        scores, positions = self.index.search(question, n if filters.active else min(depth, n))
        out = []
        for p, s in zip(positions, scores):
            if filters.active and not filters.accepts_fields(self.doc_ids[p], self.dates[p]):
                continue
            out.append((self.ids[p], float(s)))
            if len(out) == depth:
                break
        return out


@dataclass(frozen=True)
class MilvusSettings:
    """Where the chunks live: `uri` is http(s)://host:19530 for a server, or a milvus-lite file
    (.db); `collection` holds the chunks and `<collection>_docs` the catalogue. The token is read
    from the environment variable `token_env` names, never from a file, and never logged."""

    uri: str = ".rag/milvus.db"
    collection: str = "rag_chunks"
    token_env: str = "RAG_MILVUS_TOKEN"


class MilvusBackend:
    name = "milvus"

    def __init__(self, settings: MilvusSettings | None = None):
        settings = settings or MilvusSettings()
        self.settings = settings
        self.uri = settings.uri.strip()
        self.collection = settings.collection
        self.docs = f"{settings.collection}_docs"
        self.where = f"milvus {self.uri} collection {self.collection}"
        watch_env(settings.token_env)
        token = os.environ.get(settings.token_env, "")
        remember(token)  # masked in every log line and message from here on
        self.client = shared_client(self.uri, token)
        self._said_local_terms = False
        self._loaded: set[str] = set()  # loaded by this backend (until a call finds one released)

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """`method` of the client on collection `args[0]`, loading the collection and trying once
        more when it was released meanwhile (by an operator freeing memory, or a server restart)."""
        for attempt in (1, 2):
            try:
                return getattr(self.client, method)(*args, **kwargs)
            except RagError:
                raise
            except Exception as exc:
                if attempt == 1 and method != "load_collection" and args and isinstance(args[0], str) \
                        and _not_loaded(exc):
                    self.load(args[0], again=True)
                    continue
                raise MilvusError(f"Milvus {method} on {self.where} failed: {redact(str(exc))[:300]}") from None

    def load(self, name: str, *, again: bool = False) -> None:
        """Collections answer searches and queries only once loaded, and a collection is not loaded
        when a process opens it: milvus-lite loads none, a server only those loaded before."""
        if name in self._loaded and not again:
            return
        self.call("load_collection", name)
        self._loaded.add(name)

    # --- reading ---

    def server_version(self) -> str:
        return str(self.call("get_server_version"))

    def full_text(self) -> bool:
        """Whether the chunk collection has the BM25 function (decided when it was created)."""
        info = self.call("describe_collection", self.collection)
        return any(f.get("input_field_names") == ["terms"] for f in info.get("functions") or [])

    def _meta(self) -> dict[str, Any] | None:
        if not self.call("has_collection", self.docs):
            return None
        self.load(self.docs)
        rows = self.call("query", self.docs, ids=[META_KEY], output_fields=["entry"])
        return dict(rows[0]["entry"]) if rows else None

    def version(self) -> str:
        meta = self._meta()
        if meta is None:
            raise IndexNotFoundError(f"nothing indexed in {self.where}; build it with `rag index`")
        return str(meta["generation"])

    def read_manifest(self) -> Manifest:
        return self._manifest()[0]

    def _manifest(self) -> tuple[Manifest, str]:
        meta = self._meta()
        if meta is None:
            raise IndexNotFoundError(f"nothing indexed in {self.where}; build it with `rag index`")
        documents = {}
        for row in self.scan(self.docs, 'kind == "doc"', ["doc_id", "entry"]):
            documents[row["doc_id"]] = dict(row["entry"])
        n = sum(int(e.get("n_chunks", 0)) for e in documents.values())
        manifest = Manifest(embedder=meta["embedder"], chunker=meta["chunker"], documents=documents, n_chunks=n,
                            index_type=meta.get("index_type", "auto"), built_at=float(meta.get("built_at", 0.0)),
                            format_version=FORMAT_VERSION)
        return manifest, str(meta["generation"])

    def open(self) -> MilvusView:
        manifest, generation = self._manifest()
        self.load(self.collection)
        terms = None
        if not self.full_text():
            rows = list(self.scan(self.collection, "", ["id", "doc_id", "date", "text", "info"]))
            terms = LocalTerms([r["id"] for r in rows], [r["doc_id"] for r in rows], [r["date"] for r in rows],
                               [_chunk(r).indexed_text for r in rows])
            if not self._said_local_terms:
                log.info("%s has no BM25 full-text search (server %s; it needs Milvus >= 2.5): keyword search runs "
                         "in this process over the %d chunks", self.where, self.server_version(), len(rows))
                self._said_local_terms = True
        return MilvusView(self, manifest, generation, terms)

    def scan(self, collection: str, expr: str, fields: list[str]) -> Iterable[dict[str, Any]]:
        """Every row matching `expr`, page by page: no silent cap at Milvus' 16,384-row limit."""
        it = self.call("query_iterator", collection, batch_size=1000, filter=expr, output_fields=fields)
        try:
            while True:
                try:
                    page = it.next()
                except Exception as exc:
                    raise MilvusError(f"Milvus query on {self.where} failed: {redact(str(exc))[:300]}") from None
                if not page:
                    return
                yield from page
        finally:
            it.close()

    def rows(self, ids: Sequence[str], fields: list[str], level: str = "Strong") -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        unique = list(dict.fromkeys(ids))
        for i in range(0, len(unique), 1000):
            for row in self.call("query", self.collection, ids=unique[i:i + 1000], output_fields=fields,
                                 consistency_level=level):
                out[str(row["id"])] = row
        missing = [k for k in unique if k not in out]
        if missing:
            # Another process removed them between the search and this read: search again.
            raise MilvusError(f"chunks {missing[:3]} left {self.where} during the query; ask again")
        return out

    # --- writing ---

    def drop(self) -> None:
        """Remove the chunk and catalogue collections (a document collection deleted)."""
        for name in (self.collection, self.docs):
            if self.call("has_collection", name):
                self.call("drop_collection", name)
            self._loaded.discard(name)

    def lock(self) -> AbstractContextManager[None]:
        # Milvus has no locks to offer; one `rag index` (or upload) per collection at a time is
        # the operator's rule (README "Scaling out"). Each write is per document and idempotent.
        return nullcontext()

    def previous(self) -> Manifest | None:
        try:
            return self.read_manifest()
        except IndexNotFoundError:
            return None

    def publish(self, manifest: Manifest, chunks: Sequence[Chunk], vectors: np.ndarray, *,
                added: Collection[str], updated: Collection[str], removed: Collection[str],
                rebuild: bool, approx_threshold: int, sentences: PieceVectors | None = None) -> tuple[int, int]:
        dim = int(manifest.embedder["dim"])
        if rebuild:
            for name in (self.collection, self.docs):
                if self.call("has_collection", name):
                    self.call("drop_collection", name)
                self._loaded.discard(name)
        self._create(dim, manifest.index_type)
        changed = list(dict.fromkeys([*added, *updated, *removed]))
        # Catalogue rows go first: a crash after this leaves those documents unknown (so the next
        # `rag index` adds them again, clearing any of their chunks), never listed with stale chunks.
        for part in _batches(changed, 500):
            self.call("delete", self.docs, ids=[f"doc:{d}" for d in part])
            self.call("delete", self.collection, filter=f"doc_id in [{', '.join(map(quote, part))}]")
        full_text = self.full_text()
        rows = [_row(c, v, full_text) for c, v in zip(chunks, np.asarray(vectors, dtype=np.float32))]
        for part in _batches(rows, BATCH):
            self.call("insert", self.collection, data=part)
        entries = [{"key": f"doc:{d}", "kind": "doc", "doc_id": d, "hash": str(manifest.documents[d]["hash"]),
                    "entry": manifest.documents[d], "v": [0.0, 0.0]}
                   for d in dict.fromkeys([*added, *updated]) if d in manifest.documents]
        for part in _batches(entries, 500):
            self.call("upsert", self.docs, data=part)
        meta = {"embedder": manifest.embedder, "chunker": manifest.chunker, "index_type": manifest.index_type,
                "built_at": time.time(), "generation": uuid.uuid4().hex}
        self.call("upsert", self.docs, data=[{"key": META_KEY, "kind": "meta", "doc_id": "", "hash": "",
                                              "entry": meta, "v": [0.0, 0.0]}])
        return manifest.n_chunks, 1

    def _create(self, dim: int, index_type: str) -> None:
        from pymilvus import DataType, Function, FunctionType

        if not self.call("has_collection", self.collection):
            lite = "://" not in self.uri
            full_text = has_full_text(self.server_version())
            schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=ID_CHARS)
            schema.add_field("doc_id", DataType.VARCHAR, max_length=ID_CHARS)
            schema.add_field("date", DataType.VARCHAR, max_length=16)
            schema.add_field("text", DataType.VARCHAR, max_length=TEXT_CHARS)
            schema.add_field("info", DataType.JSON)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
            index = self.client.prepare_index_params()
            index.add_index("vector", metric_type="IP", **_vector_index(index_type, lite))
            if full_text:
                schema.add_field("terms", DataType.VARCHAR, max_length=TEXT_CHARS, enable_analyzer=True,
                                 analyzer_params={"tokenizer": "standard"})
                schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
                schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                             input_field_names=["terms"], output_field_names=["sparse"]))
                # rag.index.bm25's k1 and b, so both backends rank alike.
                index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                                params={"bm25_k1": K1, "bm25_b": B})
            self.call("create_collection", self.collection, schema=schema, index_params=index,
                      consistency_level="Strong")
        if not self.call("has_collection", self.docs):
            schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=ID_CHARS + 8)
            schema.add_field("kind", DataType.VARCHAR, max_length=8)
            schema.add_field("doc_id", DataType.VARCHAR, max_length=ID_CHARS)
            schema.add_field("hash", DataType.VARCHAR, max_length=128)
            schema.add_field("entry", DataType.JSON)
            schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)  # Milvus 2.3 requires a vector field
            index = self.client.prepare_index_params()
            index.add_index("v", index_type="FLAT", metric_type="L2")
            self.call("create_collection", self.docs, schema=schema, index_params=index, consistency_level="Strong")
        for name in (self.collection, self.docs):
            self.load(name)  # deletes by filter query the collection


def _vector_index(index_type: str, lite: bool) -> dict[str, Any]:
    if index_type == "flat" or (index_type == "auto" and lite):
        return {"index_type": "FLAT"}
    if index_type == "hnsw":
        return {"index_type": "HNSW", "params": {"M": 32, "efConstruction": 200}}
    if index_type == "ivf":
        return {"index_type": "IVF_FLAT", "params": {"nlist": 1024}}
    return {"index_type": "AUTOINDEX"}  # the server (or Zilliz Cloud) picks


def _row(chunk: Chunk, vector: np.ndarray, full_text: bool) -> dict[str, Any]:
    row = {"id": chunk.id, "doc_id": chunk.doc_id, "date": chunk_date(chunk.metadata), "text": chunk.text,
           "info": {"title": chunk.title, "start": chunk.start, "end": chunk.end, "n_tokens": chunk.n_tokens,
                    "metadata": dict(chunk.metadata), "header": chunk.header},
           "vector": vector.tolist()}
    if full_text:
        row["terms"] = " ".join(analyze(chunk.indexed_text))
    return row


def _not_loaded(exc: Exception) -> bool:
    # 101 is Milvus' "collection not loaded"; milvus-lite says "is in state 'released'".
    return getattr(exc, "code", None) == 101 or "not loaded" in str(exc) or "state 'released'" in str(exc)


def _chunk(row: dict[str, Any]) -> Chunk:
    info = row["info"]
    if isinstance(info, str):
        info = json.loads(info)
    return Chunk(id=str(row["id"]), doc_id=str(row["doc_id"]), text=str(row["text"]), start=int(info["start"]),
                 end=int(info["end"]), n_tokens=int(info["n_tokens"]), title=str(info.get("title", "")),
                 metadata=dict(info.get("metadata") or {}), header=str(info.get("header", "")))


def _batches(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
