"""The scale benchmark: real index versions of synthetic corpora (10k to 1M chunks), measured
the way a server would use them.

Vectors are generated, not embedded (embedding a million chunks takes seven hours here). Uniform
random vectors would be the wrong stand-in: in 384 dimensions all of them are nearly equidistant,
which no text collection is, and approximate search looks far worse on them than on text. So the
generator draws topics (eight passages each) from a 64-dimensional Gaussian with a decaying
spectrum, adds a direction every passage shares and per-passage noise; at 848 vectors its
neighbour statistics match all-MiniLM-L6-v2 embeddings of the RGB news snippets (cosine to the
nearest neighbour 0.72, to the 10th 0.48, mean pairwise 0.13). Chunk texts are Zipf-distributed
pseudo-words, each topic with its own favourite words, 90-150 words a chunk, for BM25 and the
chunk store to have realistic sizes.

Each size is written through `IndexStore.write` (the code `rag index` runs) and then loaded
and queried in a fresh process, so peak RSS is what a server holding that index would need.
"""

from __future__ import annotations

import multiprocessing
import resource
import shutil
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from rag.app import factory
from rag.core.config import Config
from rag.core.records import Chunk

DIM = 384
PER_TOPIC = 8
VOCABULARY = 50_000


def synthetic_vectors(n: int, *, seed: int = 0, latent: int = 64, spread: float = 0.7,
                      shared: float = 0.45) -> tuple[np.ndarray, np.ndarray]:
    """(unit vectors, topic of each), generated in blocks so a million never needs two copies."""
    fixed = np.random.default_rng(12345)
    common = fixed.standard_normal(DIM).astype(np.float32)
    common *= shared / np.linalg.norm(common)
    basis = np.linalg.qr(fixed.standard_normal((DIM, latent)))[0].astype(np.float32)
    scale = (np.arange(1, latent + 1) ** -0.5).astype(np.float32)
    scale /= np.sqrt((scale ** 2).sum())
    rng = np.random.default_rng(seed)
    topics = max(1, n // PER_TOPIC)
    centers = (rng.standard_normal((topics, latent), dtype=np.float32) * scale) @ basis.T
    topic_of = rng.integers(0, topics, n)
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        t = topic_of[start:start + 100_000]
        x = common + centers[t] + rng.standard_normal((len(t), DIM), dtype=np.float32) * (spread / np.sqrt(DIM))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        out[start:start + len(t)] = x
    return out, topic_of


def _vocabulary(rng: np.random.Generator) -> np.ndarray:
    syllables = np.array(["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ba", "de", "fi", "go", "ha", "ju",
                          "pe", "qu", "ro", "su", "ta", "zu", "an", "el", "ir", "on", "ul"])
    words = {"".join(rng.choice(syllables, rng.integers(2, 5))) for _ in range(VOCABULARY * 2)}
    return np.array(sorted(words)[:VOCABULARY], dtype=object)


def synthetic_texts(topic_of: np.ndarray, *, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    vocab = _vocabulary(rng)
    texts = []
    for topic in topic_of:
        n = int(rng.integers(90, 151))
        background = (rng.zipf(1.2, n) - 1) % len(vocab)
        # A quarter of the words come from the topic's own slice of the vocabulary.
        local = (int(topic) * 37 + rng.integers(0, 40, n // 4)) % len(vocab)
        words = vocab[np.concatenate([background, local])]
        texts.append(" ".join(words))
    return texts


def _chunks(texts: Sequence[str]) -> list[Chunk]:
    return [Chunk(id=f"syn-{i // 4}:{i % 4}", doc_id=f"syn-{i // 4}", text=t, start=0, end=len(t),
                  n_tokens=len(t) // 4, title=f"synthetic document {i // 4}") for i, t in enumerate(texts)]


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def write_index(root: Path, chunks: Sequence[Chunk], vectors: np.ndarray, config: Config,
                embedder_name: str) -> tuple[float, dict[str, int]]:
    """Write one version as `rag index` does; (seconds, bytes on disk by part)."""
    from rag.index.store import IndexStore, Manifest

    documents: dict[str, dict[str, Any]] = {}
    for c in chunks:
        documents.setdefault(c.doc_id, {"hash": c.doc_id, "title": c.title, "source": "", "n_chunks": 0,
                                        "metadata": {}})["n_chunks"] += 1
    manifest = Manifest(embedder={"name": embedder_name, "dim": vectors.shape[1]},
                        chunker=factory.chunker_settings(config).to_dict(),
                        documents=documents, n_chunks=len(chunks), index_type=config.index_type)
    store = IndexStore(root)
    t = time.perf_counter()
    with store.lock():
        version = store.write(manifest, chunks, vectors, approx_threshold=config.approx_threshold)
    seconds = time.perf_counter() - t
    # The segment's files by name (vectors, FAISS, terms, chunk store), plus the version's manifest.
    files = [p for p in version.iterdir() if p.is_file()]
    files += [p for seg in (version / "segments").iterdir() for p in seg.iterdir()]
    parts = {p.name: (dir_size(p) if p.is_dir() else p.stat().st_size) for p in files}
    return seconds, parts


def _status_mb(*keys: str) -> dict[str, float]:
    """Fields of /proc/self/status in MB; missing (not Linux) fields read 0."""
    out = dict.fromkeys(keys, 0.0)
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in out:
                out[key] = int(value.split()[0]) / 1024
    except OSError:
        pass
    return out


def rss_split_mb() -> dict[str, float]:
    """Resident memory now, split into anonymous (heap: what the process really holds) and
    file-backed (pages of memory-mapped index files: page cache the kernel can drop and re-read)."""
    status = _status_mb("RssAnon", "RssFile")
    return {"rss_anon_mb": status["RssAnon"], "rss_file_mb": status["RssFile"]}


def peak_rss_mb() -> float:
    """This process's resident-memory high-water mark. (`ru_maxrss` would not do: Linux carries it
    over from the parent across fork and exec, so a spawned worker reports its parent's peak.)"""
    return _status_mb("VmHWM")["VmHWM"] or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_serving(index_dir: str, config: Config, queries: np.ndarray, questions: list[str],
                    query_texts: list[str], warm: bool = False) -> dict[str, Any]:
    """Run in a fresh process: load like a server, then query. Peak RSS is this process's own.
    `warm`: search every query vector once untimed first, so the figures compare query cost, not
    which index's mapped pages the page cache still held."""
    embedder = factory.embedder(config)
    embedder.encode_queries(["load the model"])
    rss_model = peak_rss_mb()
    t = time.perf_counter()
    retriever = factory.retriever(config, index_dir, embedder=embedder)
    load_s = time.perf_counter() - t
    rss_loaded = peak_rss_mb()
    index = retriever.snapshot.vector_index
    search, found = [], []
    for q in queries if warm else ():
        index.search(q[None, :], 10)
    for q in queries:
        t = time.perf_counter()
        _, positions = index.search(q[None, :], 10)
        search.append((time.perf_counter() - t) * 1000)
        found.append(positions[0])
    end_to_end = {}
    for mode, texts in (("dense", questions), ("hybrid", query_texts)):
        for text in dict.fromkeys(texts):  # first touches of mapped pages are cold start, not query cost
            retriever.retrieve(text, config.k, mode=mode)
        times = []
        for text in texts:
            t = time.perf_counter()
            retriever.retrieve(text, config.k, mode=mode)
            times.append((time.perf_counter() - t) * 1000)
        end_to_end[mode] = times
    return {"load_s": load_s, "rss_model_mb": rss_model, "rss_loaded_mb": rss_loaded, "peak_rss_mb": peak_rss_mb(),
            **rss_split_mb(),
            "index_kind": index.kind, "search_param": getattr(index, "search_param", 0),
            "search_ms": search, "found": np.asarray(found), "end_to_end_ms": end_to_end}


def run_size(n: int | None, config: Config, *, n_queries: int, questions: Sequence[str],
             article: tuple[list[Chunk], np.ndarray] | None = None, workdir: Path | None = None) -> dict[str, Any]:
    """Build, load and query one corpus; `article` gives real chunks and vectors instead of synthetic."""
    from rag.embedders.models import canonical_name
    from rag.index.faiss_index import exact_top, recall_at

    name = config.embedding_model
    embedder_name = canonical_name(config.embedding_model)
    if article is not None:
        chunks, vectors = article
        rng = np.random.default_rng(2)
        held_out = vectors[rng.choice(len(vectors), min(n_queries, len(vectors)), replace=False)]
        label = "article"
    else:
        assert n is not None
        t = time.perf_counter()
        everything, topics = synthetic_vectors(n + n_queries)
        vectors, held_out = everything[:n], everything[n:]
        chunks = _chunks(synthetic_texts(topics[:n]))
        del everything
        label = f"{n:,}"
        print(f"  {label}: generated in {time.perf_counter() - t:.0f}s; writing the index", flush=True)
    root = Path(tempfile.mkdtemp(prefix="rag-bench-", dir=workdir))
    try:
        build_s, parts = write_index(root / "index", chunks, vectors, config, embedder_name)
        exact = exact_top(vectors, held_out, 10)
        rng = np.random.default_rng(3)
        query_texts = [" ".join(chunks[int(i)].text.split()[:6]) for i in rng.choice(len(chunks), len(questions))]
        n_chunks = len(chunks)
        del chunks, vectors
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            served = pool.submit(measure_serving, str(root / "index"), config, held_out, list(questions),
                                 query_texts).result()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {"corpus": label, "chunks": n_chunks,
            "model": name, "index": served["index_kind"], "search_param": served["search_param"],
            "build_s": build_s, "disk_mb": sum(parts.values()) / 1e6, "disk_parts_mb": {k: v / 1e6 for k, v in parts.items()},
            "load_s": served["load_s"], "rss_model_mb": served["rss_model_mb"], "rss_loaded_mb": served["rss_loaded_mb"],
            "peak_rss_mb": served["peak_rss_mb"], "rss_anon_mb": served["rss_anon_mb"],
            "rss_file_mb": served["rss_file_mb"], "search_ms": served["search_ms"],
            "end_to_end_ms": served["end_to_end_ms"], "recall@10": recall_at(served["found"], exact, None, 10)}
