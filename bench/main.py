"""`python -m bench`: indexing throughput, embedding backends, query latency, scale to a million
chunks and cold start, printed as tables and written as JSON.

Every comparison (bucketed against plain batching, int8 against fp32, approximate against exact
search) is made within one run, so the ratios are free of machine noise between runs.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

from bench.common import Table, machine, percentile, write_json
from rag.app import factory
from rag.core.config import Config
from rag.core.errors import RagError
from rag.core.records import Document
from rag.embedders import Embedder, create_embedder

QUESTIONS = [
    "When was the IMU first formed?", "Where is the IMU based now?", "Who claimed the Karachi airport attack?",
    "How many fighters does the IMU have?", "Why did the IMU fight the Pakistani military?",
    "Who is Noah Tucker?", "What did the Pakistani military launch on Sunday?", "Which group is stronger?",
    "What does the IMU now ask Muslims in Central Asia?", "Who calls the militants a threat to sovereignty?",
]


def load_bench_documents(corpus: Path | None) -> list[Document]:
    """The documents to index: a given corpus, else the project's corpus/ directory.

    A `.jsonl` corpus of snippets is bundled into documents of 1-8 consecutive records, so the
    benchmark sees what real collections have: documents of mixed length, cut into chunks of
    mixed length.
    """
    from rag.ingest.loaders import load_documents

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


def bench_indexing(docs: list[Document], config: Config, embedder: Embedder, repeats: int = 1) -> Table:
    """The plain loop is what most code does: fixed batches in the order the documents give the
    chunks, one sentence-transformers `encode` call each. `rag index` sorts all new chunks by
    token length first, and runs them as `passage_backend` says (the variant in the row)."""
    from rag.ingest.chunking import Chunker

    chunker = Chunker(config.chunk_tokens, config.chunk_overlap, config.encoding, fits=embedder.fits)
    texts = [c.text for d in docs for c in chunker.chunk(d)]
    n_chunks = len(texts)
    n_tokens = sum(chunker.count(t) for t in texts)
    embedder.encode_passages(["warm up the model"])  # load weights outside the timed part

    model, size = embedder.model, config.embedding_batch_size
    plain, bucketed, pipeline = [], [], []
    for _ in range(repeats):
        t = time.perf_counter()
        for start in range(0, n_chunks, size):
            model.encode(texts[start:start + size], batch_size=size, normalize_embeddings=True)
        plain.append(time.perf_counter() - t)
        t = time.perf_counter()
        embedder.encode_passages(texts)
        bucketed.append(time.perf_counter() - t)
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            factory.indexer(config, embedder).sync(docs, Path(tmp) / "index")
            pipeline.append(time.perf_counter() - t)
    p, b, q = min(plain), min(bucketed), min(pipeline)
    rows = [
        [f"plain encode loop (batches of {size} in document order)", n_chunks, n_chunks / p, n_tokens / p, 1.0],
        [f"length-bucketed encode ({getattr(embedder, 'variant', 'torch-fp32')})", n_chunks, n_chunks / b,
         n_tokens / b, p / b],
        ["rag index (chunk + bucketed embed + write)", n_chunks, n_chunks / q, n_tokens / q, p / q],
    ]
    return Table(f"Indexing {len(docs)} documents ({n_chunks} chunks, {n_tokens} tokens; best of {repeats})",
                 ["method", "chunks", "chunks/s", "tokens/s", "speed vs plain"], rows)


def bench_embedding_backends(docs: list[Document], config: Config, torch_e: Embedder, eval_sets: Sequence[Path],
                             n_passages: int = 256) -> Table:
    """The full model against the int8 ONNX export, same model, same run: passages/s on ~200-token
    chunks (the full model's row: as `passage_backend` runs it, the int8 row: the int8 graph),
    question latency, and Recall@5 with questions embedded by each against an index whose
    passages the full model embedded (what `query_backend = "auto"` does)."""
    from rag.embedders.models import resolve_quantized_model
    from rag.eval.datasets import load_eval_set
    from rag.eval.run import evaluate
    from rag.ingest.chunking import Chunker

    if not resolve_quantized_model(config.embedding_model):
        return Table("Embedding backends: no int8 ONNX export installed for this model", ["backend"], [])
    int8_e = create_embedder(config.embedding_model, query_backend="onnx-int8")
    long_chunks = Chunker(200, 0, config.encoding, fits=torch_e.fits).chunk_all(docs)
    passages = [c.text for c in long_chunks if c.n_tokens >= 150][:n_passages] or [c.text for c in long_chunks]
    avg_tokens = sum(torch_e.count_tokens(p) for p in passages) / len(passages)
    rows = []
    recalls: dict[str, list[float]] = {}
    for backend, embedder, encode in (("torch", torch_e, torch_e.encode_passages),
                                      ("onnx-int8", int8_e, int8_e.encode_queries)):
        encode(passages[:8])
        t = time.perf_counter()
        for start in range(0, len(passages), 32):
            encode(passages[start:start + 32])
        per_s = len(passages) / (time.perf_counter() - t)
        embedder.encode_queries(["warm up"])
        lat = []
        for q in QUESTIONS * 5:
            t = time.perf_counter()
            embedder.encode_queries([q])
            lat.append((time.perf_counter() - t) * 1000)
        row: list[object] = [backend, per_s, percentile(lat, 50), percentile(lat, 95)]
        for path in eval_sets:
            eval_set = load_eval_set(path, max_question_chars=config.max_question_chars)
            backend_config = config.replace(query_backend="torch" if embedder is torch_e else "onnx-int8")
            report = evaluate(eval_set, backend_config, progress=False, log=lambda _: None, embedder=embedder)
            for method, metrics in [(report["method"], report["metrics"]), *report["baselines"].items()]:
                if method in ("hybrid", "dense"):
                    row.append(metrics["retrieval.recall@5"])
                    recalls.setdefault(f"{eval_set.name} {method}", []).append(metrics["retrieval.recall@5"])
        rows.append(row)
    columns = ["query backend", f"passages/s (~{avg_tokens:.0f} tok)", "query p50 ms", "query p95 ms"]
    columns += [f"R@5 {name}" for name in recalls]
    variant = getattr(torch_e, "variant", "torch-fp32")
    return Table(f"Embedding backends (all-MiniLM-L6-v2; the torch row's passages and the index's embedded as {variant})",
                 columns, rows)


def bench_article_queries(config: Config, repeats: int = 5) -> Table:
    embedder = factory.embedder(config)
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "index"
        factory.indexer(config, embedder).index_paths([Path("corpus")], index_dir)
        retriever = factory.retriever(config, index_dir, embedder=embedder)
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


def bench_scale(sizes: Sequence[int], config: Config, embedder: Embedder, *, n_queries: int,
                article: bool = True) -> Table:
    """See bench.scale: build, load in a fresh process, query; the article is the real one."""
    from bench.scale import run_size

    rows, details = [], []
    cases: list[tuple[int | None, object]] = [(n, None) for n in sizes]
    if article:
        cases.insert(0, (None, _article_chunks(config, embedder)))
    for n, real in cases:
        r = run_size(n, config, n_queries=n_queries, questions=QUESTIONS * 5, article=real)  # type: ignore[arg-type]
        details.append({k: v for k, v in r.items() if not k.endswith("_ms")})
        rows.append([r["corpus"], r["index"] + (f" ({r['search_param']})" if r["search_param"] else ""), r["build_s"],
                     r["disk_mb"], r["load_s"], r["peak_rss_mb"], r["rss_anon_mb"], percentile(r["search_ms"], 50),
                     percentile(r["search_ms"], 95), percentile(r["end_to_end_ms"]["dense"], 50),
                     percentile(r["end_to_end_ms"]["dense"], 95), percentile(r["end_to_end_ms"]["hybrid"], 50),
                     r["recall@10"]])
    table = Table("Scale: index written as `rag index` does, then loaded and queried in a fresh process "
                  "(ms; e2e = embed question + search + fetch chunks)",
                  ["corpus", "index (nprobe/ef)", "build s", "disk MB", "load s", "peak RSS MB", "of it heap MB", "search p50",
                   "search p95", "dense e2e p50", "dense e2e p95", "hybrid e2e p50", "recall@10"], rows)
    table.details = details
    return table


def bench_updates(sizes: Sequence[int], config: Config, embedder: Embedder, *, n_queries: int) -> list[Table]:
    """See bench.updates: add, remove and merge in a large index, and queries before and after."""
    from bench.updates import run_updates

    ops, queries, details = [], [], []
    for n in sizes:
        r = run_updates(n, config, embedder, n_queries=n_queries, questions=QUESTIONS * 5)
        details.append(r)
        for row in r["rows"]:
            doc = row.get("document bytes")
            embed = row.get("embedding seconds", 0.0)
            ops.append([f"{n:,}", row["operation"], row["seconds"], row["seconds"] - embed, row["bytes"] / 1e6,
                        f"{row['bytes'] / doc:.2f}" if doc else "", row["segments"]])
        for label, key in ((f"{r['segments_before_merge']} segments", "segmented"), ("1 segment (merged)", "merged")):
            q = r["queries"][key]
            index = f"{q['index_kind']} {q['search_param']}" if q["search_param"] else q["index_kind"]
            queries.append([f"{n:,}", label, index, q["search_p50"], q["search_p95"], q["dense_e2e_p95"],
                            q["hybrid_e2e_p50"], q["hybrid_e2e_p95"]])
    table = Table("Updates: seconds to published (index s = without embedding), bytes written (MB; x = over the "
                  "new document's own segment)",
                  ["corpus", "operation", "seconds", "of it index s", "MB written", "x document", "segments after"], ops)
    table.details = details
    return [table, Table("Queries with the most segments the merge policy allows, and fully merged (ms)",
                         ["corpus", "index", "kind (nprobe/ef)", "search p50", "search p95", "dense e2e p95",
                          "hybrid e2e p50", "hybrid e2e p95"], queries)]


def bench_backends(sizes: Sequence[int], config: Config, *, n_queries: int) -> Table:
    """See bench.backends: the same chunks through each storage backend."""
    from bench.backends import run_backends

    rows, details = [], []
    for n in sizes:
        for label, r in run_backends(n, config, n_queries=n_queries):
            if r is None:
                rows.append([f"{n:,}", label, "not running", "", "", "", "", "", "", "", ""])
                continue
            details.append({"corpus": n, "backend": label, **r})
            rows.append([f"{n:,}", label, r["rows_per_s"], r["open_s"], percentile(r["dense_ms"], 50),
                         percentile(r["dense_ms"], 95), percentile(r["hybrid_ms"], 50), percentile(r["hybrid_ms"], 95),
                         percentile(r["filtered_ms"], 50), r["recall@10"], r["queries"]])
    table = Table("Backends: synthetic chunks inserted and searched through each backend (ms; hybrid = dense + "
                  "keyword search of one question; filtered = dense top 10 within 10 documents, chunks fetched)",
                  ["corpus", "backend", "insert rows/s", "open s", "dense p50", "dense p95", "hybrid p50",
                   "hybrid p95", "filtered p50", "recall@10", "queries"], rows)
    table.details = details
    return table


def _article_chunks(config: Config, embedder: Embedder):
    from rag.index.store import IndexStore

    with tempfile.TemporaryDirectory() as tmp:
        factory.indexer(config, embedder).index_paths([Path("corpus")], Path(tmp) / "index")
        snap = IndexStore(Path(tmp) / "index").load(mmap=False)
        return list(snap.chunks), np.array(snap.vectors)


def bench_cold_start(config: Config, embedder: Embedder, repeats: int = 3) -> Table:
    """`rag ask` in a new process over a built index: everything a first answer waits for."""
    import subprocess
    import sys


    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "index"
        factory.indexer(config, embedder).index_paths([Path("corpus")], index)
        for backend in ("onnx-int8", "torch"):
            env = {**os.environ, "RAG_QUERY_BACKEND": backend}
            times = []
            for _ in range(repeats):
                t = time.perf_counter()
                done = subprocess.run([sys.executable, "-m", "rag.cli", "ask", "--index", str(index),
                                       "When was the IMU first formed?"], env=env, capture_output=True, text=True)
                times.append(time.perf_counter() - t)
                if done.returncode != 0:
                    raise RagError(f"rag ask failed in the cold-start benchmark: {done.stderr.strip()[-300:]}")
            rows.append([f"rag ask, query_backend={backend}", min(times), percentile(times, 50)])
    return Table("Cold start to first answer (s; new process, built index, nothing embedded but the question)",
                 ["command", "best", "median"], rows)


def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "").replace(",", "")
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    try:
        return int(float(text[:-1] if factor > 1 else text) * factor)
    except ValueError:
        raise RagError(f"cannot read corpus size {text!r}; write e.g. 10k, 100k or 1M") from None


def bench_ray(corpus: Path | None, *, quick: bool) -> Table:
    from bench.ray_bench import bench_ray as run_ray

    return run_ray(corpus, quick=quick)


def run(*, quick: bool, corpus: Path | None, out: Path | None, config: Config,
        sizes: Sequence[int] | None = None, eval_sets: Sequence[Path] = (), only: Sequence[str] = ()) -> list[Table]:
    sizes = list(sizes) if sizes else ([10_000] if quick else [10_000, 100_000, 1_000_000])
    eval_sets = list(eval_sets) or [Path("eval/article.jsonl")]
    docs = cache(lambda: load_bench_documents(corpus))  # read when a table needs them
    # One PyTorch model for every table that embeds passages, loaded once, when first needed.
    model = cache(lambda: create_embedder(config.embedding_model, batch_size=config.embedding_batch_size,
                                          query_backend="torch"))
    benches = {
        "indexing": lambda: bench_indexing(docs(), config, model(), repeats=1 if quick else 3),
        "embedding": lambda: bench_embedding_backends(docs(), config, model(), eval_sets),
        "queries": lambda: bench_article_queries(config, repeats=2 if quick else 10),
        "scale": lambda: bench_scale(sizes, config, model(), n_queries=100 if quick else 300),
        "cold-start": lambda: bench_cold_start(config, model(), repeats=1 if quick else 3),
        "updates": lambda: bench_updates(sizes, config, model(), n_queries=100 if quick else 300),
        "ray": lambda: bench_ray(corpus, quick=quick),
        "backends": lambda: bench_backends(sizes, config, n_queries=100 if quick else 300),
    }
    # Run only when named: "ray" starts a two-node cluster (minutes of set-up on a small machine),
    # "backends" needs a Milvus server to compare with.
    opt_in = {"ray", "backends"}
    unknown = set(only) - set(benches)
    if unknown:
        raise RagError(f"unknown benchmark(s) {', '.join(sorted(unknown))}; choose from {', '.join(benches)}")
    tables = []
    for name, bench in benches.items():
        if (only and name not in only) or (not only and name in opt_in):
            continue
        result = bench()
        for table in result if isinstance(result, list) else [result]:
            tables.append(table)
            print(table.render(), end="\n\n", flush=True)
    if out:
        write_json(out / "bench.json", {
            "machine": machine(), "quick": quick, "config": {"query_backend": config.query_backend,
            "index_type": config.index_type, "approx_threshold": config.approx_threshold},
            "tables": [t.to_dict() for t in tables]})
        print(f"wrote {out / 'bench.json'}")
    return tables

