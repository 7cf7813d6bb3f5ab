"""The backends benchmark: the same synthetic chunks (bench.scale) stored and searched through
each backend's own code (what `rag index` and the retriever call), local vs milvus-lite vs a Milvus
server when one is reachable.

Insert is `Backend.publish` of every chunk with its vector (embedding excluded: it costs the same
everywhere). Queries are perturbed copies of stored vectors and a few of their chunk's words;
dense recall@10 is measured against exact inner-product search in numpy. Filtered queries keep
ten documents. Hybrid is the dense and the keyword search a hybrid question makes.

Each backend answers the queries in order until they are all done or `QUERY_BUDGET_S` has passed;
the table says how many it answered. milvus-lite scans every row in Python for every search
(about 60 us a row here, whatever the index type), so at 100k chunks a single search takes
seconds and a fixed count of queries would take hours.
"""

from __future__ import annotations

import socket
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from bench.scale import _chunks, synthetic_texts, synthetic_vectors
from rag.app import factory
from rag.backends import Filters
from rag.core.config import Config
from rag.index.store import Manifest

STANDALONE = "http://127.0.0.1:19530"
QUERY_BUDGET_S = 300.0  # per backend; the slowest then answers fewer queries, never none


def _listening(uri: str) -> bool:
    parts = urlsplit(uri)
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((parts.hostname or "127.0.0.1", parts.port or 19530)) == 0


def backend_configs(config: Config, tmp: Path) -> list[tuple[str, Config | None]]:
    """(label, settings or None when not reachable) for each backend to measure."""
    server = config.milvus_uri if "://" in config.milvus_uri else STANDALONE
    return [("local", config.replace(backend="local", index_dir=tmp / "index")),
            ("milvus-lite", config.replace(backend="milvus", milvus_uri=str(tmp / "m.db"),
                                           milvus_collection="bench")),
            (f"milvus {server}", config.replace(backend="milvus", milvus_uri=server, milvus_collection="rag_bench")
             if _listening(server) else None)]


def _manifest(chunks, dim: int, config: Config) -> Manifest:
    documents: dict[str, dict[str, Any]] = {}
    for c in chunks:
        documents.setdefault(c.doc_id, {"hash": c.doc_id, "title": c.title, "source": "", "n_chunks": 0,
                                        "metadata": {}})["n_chunks"] += 1
    return Manifest(embedder={"name": config.embedding_model, "dim": dim},
                    chunker=factory.chunker_settings(config).to_dict(),
                    documents=documents, n_chunks=len(chunks), index_type=config.index_type)


def run_backend(config: Config, chunks, vectors: np.ndarray, *, n_queries: int, seed: int = 1,
                budget_s: float = QUERY_BUDGET_S) -> dict[str, Any]:
    backend = factory.backend(config)
    manifest = _manifest(chunks, vectors.shape[1], config)
    t = time.perf_counter()
    with backend.lock():
        backend.publish(manifest, chunks, vectors, added=list(manifest.documents), updated=[], removed=[],
                        rebuild=True, approx_threshold=config.approx_threshold)
    insert_s = time.perf_counter() - t
    t = time.perf_counter()
    view = backend.open()
    open_s = time.perf_counter() - t
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(chunks), n_queries)
    queries = vectors[rows] + rng.standard_normal((n_queries, vectors.shape[1])).astype(np.float32) * 0.03
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    words = [" ".join(chunks[r].text.split()[:6]) for r in rows]
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    position = {c.id: i for i, c in enumerate(chunks)}
    dense_ms, hybrid_ms, filtered_ms, recalls = [], [], [], []
    docs = sorted(manifest.documents)
    deadline = time.monotonic() + budget_s
    for q, text, truth in zip(queries, words, exact):
        if dense_ms and time.monotonic() > deadline:
            break
        t = time.perf_counter()
        found = view.dense(q, 10, Filters())
        dense_ms.append((time.perf_counter() - t) * 1000)
        got = {p if config.backend == "local" else position[p] for p in found[:10]}
        recalls.append(len(got & set(truth.tolist())) / 10)
        t = time.perf_counter()
        view.dense(q, 50, Filters())
        view.lexical(text, 50, Filters())
        hybrid_ms.append((time.perf_counter() - t) * 1000)
        keep = Filters(frozenset(rng.choice(docs, 10, replace=False).tolist()))
        t = time.perf_counter()
        view.chunks(view.dense(q, 10, keep)[:10])
        filtered_ms.append((time.perf_counter() - t) * 1000)
    return {"insert_s": insert_s, "rows_per_s": len(chunks) / insert_s, "open_s": open_s,
            "queries": len(dense_ms), "dense_ms": dense_ms, "hybrid_ms": hybrid_ms, "filtered_ms": filtered_ms,
            "recall@10": float(np.mean(recalls))}


def run_backends(n: int, config: Config, *, n_queries: int) -> list[tuple[str, dict[str, Any] | None]]:
    vectors, topic_of = synthetic_vectors(n)
    chunks = _chunks(synthetic_texts(topic_of))
    out = []
    with tempfile.TemporaryDirectory(prefix="rag-bench-backends-") as tmp:
        for label, cfg in backend_configs(config, Path(tmp)):
            out.append((label, None if cfg is None else run_backend(cfg, chunks, vectors, n_queries=n_queries)))
    return out
