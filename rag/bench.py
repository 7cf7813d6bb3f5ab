"""`rag bench`: indexing throughput and query latency, printed as tables and written as JSON.

Throughput compares the indexing pipeline (load → chunk → embed → write the index) with a
plain `SentenceTransformer.encode` call per document over the very same chunks, in the order
the documents give them, in the same run, so the ratio is free of machine noise between runs.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .config import Config
from .errors import RagError
from .records import Document

QUESTIONS = [
    "When was the IMU first formed?", "Where is the IMU based now?", "Who claimed the Karachi airport attack?",
    "How many fighters does the IMU have?", "Why did the IMU fight the Pakistani military?",
    "Who is Noah Tucker?", "What did the Pakistani military launch on Sunday?", "Which group is stronger?",
    "What does the IMU now ask Muslims in Central Asia?", "Who calls the militants a threat to sovereignty?",
]


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[object]]

    def render(self) -> str:
        cells = [[_fmt(v) for v in row] for row in self.rows]
        widths = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c) for i, c in enumerate(self.columns)]
        line = lambda vals: "  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(vals, widths)))
        return "\n".join([self.title, line(self.columns), line(["-" * w for w in widths]), *map(line, cells)])

    def to_dict(self) -> dict:
        return {"title": self.title, "rows": [dict(zip(self.columns, r)) for r in self.rows]}


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}"
    return str(v)


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_bench_documents(corpus: Path | None) -> list[Document]:
    """The documents to index: a given corpus, else the project's corpus/ directory.

    A `.jsonl` corpus of snippets is bundled into documents of 1-8 consecutive records, so the
    benchmark sees what real collections have: documents of mixed length, cut into chunks of
    mixed length.
    """
    from .loaders import load_documents

    paths = [corpus] if corpus else [Path("corpus")]
    docs = load_documents(paths).documents
    if not docs:
        raise RagError(f"no documents to benchmark in {paths[0]}")
    if corpus and corpus.suffix == ".jsonl":
        rng = np.random.default_rng(0)
        bundled, i = [], 0
        while i < len(docs):
            n = int(rng.integers(1, 9))
            group = docs[i:i + n]
            bundled.append(Document(id=f"bundle-{len(bundled)}", title=group[0].title,
                                    text="\n\n".join(d.text for d in group)))
            i += n
        docs = bundled
    return docs


def bench_indexing(docs: list[Document], config: Config, repeats: int = 1) -> Table:
    from .chunking import Chunker
    from .embedders import create_embedder
    from .indexer import Indexer

    embedder = create_embedder(config.embedding_model, batch_size=config.embedding_batch_size)
    chunker = Chunker(config.chunk_tokens, config.chunk_overlap, config.encoding, fits=embedder.fits)
    per_doc = [[c.text for c in chunker.chunk(d)] for d in docs]
    n_chunks = sum(map(len, per_doc))
    n_tokens = sum(chunker.count(t) for texts in per_doc for t in texts)
    embedder.encode_passages(["warm up the model"])  # load weights outside the timed part

    model = embedder.model
    plain, pipeline = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        for texts in per_doc:  # the straightforward loop: one encode call per document
            model.encode(texts, batch_size=config.embedding_batch_size, normalize_embeddings=True)
        plain.append(time.perf_counter() - t)
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            Indexer(config, embedder).sync(docs, Path(tmp) / "index")
            pipeline.append(time.perf_counter() - t)
    p, q = min(plain), min(pipeline)
    rows = [
        ["plain encode loop (per document)", n_chunks, n_chunks / p, n_tokens / p, 1.0],
        ["rag index (chunk + embed + write)", n_chunks, n_chunks / q, n_tokens / q, p / q],
    ]
    return Table(f"Indexing {len(docs)} documents ({n_chunks} chunks, {n_tokens} tokens; best of {repeats})",
                 ["method", "chunks", "chunks/s", "tokens/s", "speed vs plain"], rows)


def bench_article_queries(config: Config, repeats: int = 5) -> Table:
    from .embedders import create_embedder
    from .indexer import Indexer
    from .retriever import Retriever

    embedder = create_embedder(config.embedding_model)
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "index"
        Indexer(config, embedder).index_paths([Path("corpus")], index_dir)
        retriever = Retriever.load(index_dir, config=config, embedder=embedder)
        retriever.search("warm up")
        rows = []
        for mode in ("dense", "bm25", "hybrid"):
            total, search = [], []
            for _ in range(repeats):
                for q in QUESTIONS:
                    t = time.perf_counter()
                    r = retriever.retrieve(q, config.k, mode=mode)
                    total.append((time.perf_counter() - t) * 1000)
                    search.append(r.timings["search_ms"])
            rows.append([mode, len(retriever), len(total), percentile(search, 50), percentile(search, 95),
                         percentile(total, 50), percentile(total, 95)])
    return Table("Query latency on the article (ms; end to end includes embedding the question)",
                 ["retrieval", "chunks", "queries", "search p50", "search p95", "end-to-end p50", "end-to-end p95"],
                 rows)


def bench_synthetic(sizes: Sequence[int], config: Config, n_queries: int = 200) -> Table:
    from .embedders import create_embedder
    from .indexes import build_index

    embedder = create_embedder(config.embedding_model)
    questions = (QUESTIONS * (n_queries // len(QUESTIONS) + 1))[:n_queries]
    embedder.encode_queries(["warm up"])
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        vectors = rng.standard_normal((n, 384), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        t = time.perf_counter()
        index = build_index(vectors, config.index_type, config.approx_threshold)
        build = time.perf_counter() - t
        search, total = [], []
        for q in questions:
            t = time.perf_counter()
            qv = embedder.encode_queries([q])
            t1 = time.perf_counter()
            index.search(qv, config.k)
            t2 = time.perf_counter()
            search.append((t2 - t1) * 1000)
            total.append((t2 - t) * 1000)
        rows.append([n, index.kind, build, percentile(search, 50), percentile(search, 95), percentile(total, 50),
                     percentile(total, 95), peak_rss_mb()])
        del index, vectors
    return Table("Dense search over synthetic normalised vectors (dim 384; ms)",
                 ["chunks", "index", "build s", "search p50", "search p95", "with embed p50", "with embed p95",
                  "peak RSS MB"], rows)


def machine() -> dict:
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "processor": platform.processor() or platform.machine()}


def run(*, quick: bool, corpus: Path | None, out: Path | None, config: Config) -> list[Table]:
    docs = load_bench_documents(corpus)
    tables = [
        bench_indexing(docs, config, repeats=1 if quick else 3),
        bench_article_queries(config, repeats=2 if quick else 10),
        bench_synthetic([10_000, 100_000] if quick else [10_000, 100_000], config,
                        n_queries=50 if quick else 300),
    ]
    for table in tables:
        print(table.render(), end="\n\n", flush=True)
    if out:
        out.mkdir(parents=True, exist_ok=True)
        result = {"machine": machine(), "quick": quick, "tables": [t.to_dict() for t in tables]}
        (out / "bench.json").write_text(json.dumps(result, indent=2))
        print(f"wrote {out / 'bench.json'}")
    return tables
