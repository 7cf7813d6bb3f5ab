"""The update benchmark: what adding, removing and merging cost in a large segmented index.

Each corpus size is written as one segment (the synthetic corpus of bench.scale), then, as
`rag index` and uploads do it, through the real `Indexer`:

- add one 2,000-word document (chunked and embedded by the model, written as a new segment),
- remove one document (a tombstone),
- and, with the index grown to the merge policy's maximum segment count, a full merge.

Seconds are wall time to published; bytes written are what the process passed to write()
(/proc/self/io `wchar`: data files, manifest, ledger), compared with the size of the new
document's own segment. Query latency is measured in a fresh process, as a server would see it,
once with the maximum number of segments and once after the full merge, each query searched once
untimed first (the merged index was just written, the first segment long before), with each
index's kind and search setting beside it.
"""

from __future__ import annotations

import multiprocessing
import shutil
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import percentile
from rag.app import factory
from rag.core.config import Config
from rag.core.records import Document

ADDED_WORDS = 2_000
WORDS = ("harbour", "ledger", "clove", "sack", "dhow", "captain", "pilot", "berth", "tide", "monsoon", "cargo",
         "customs", "port", "warehouse", "trader", "route", "season", "record", "inspection", "vessel", "crew",
         "manifest", "quay", "storm", "export", "import", "tax", "permit", "market", "island", "coast", "channel")


def written_bytes() -> int:
    """Bytes this process has passed to write() so far (0 where /proc is missing)."""
    try:
        for line in Path("/proc/self/io").read_text().splitlines():
            if line.startswith("wchar:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def new_document(i: int) -> Document:
    """A 2,000-word article-like text: sentences of real words, different for each `i`."""
    rng = np.random.default_rng(100 + i)
    words = WORDS
    sentences, n = [], 0
    while n < ADDED_WORDS:
        length = int(rng.integers(8, 20))
        s = " ".join(rng.choice(np.array(words), length))
        sentences.append(s[0].upper() + s[1:] + ".")
        n += length
    return Document(id=f"added-{i}.txt", title=f"Harbour report {i}", text=" ".join(sentences))


class TimedEmbedder:
    """The embedder, with the seconds spent embedding passages counted, so the table can say
    how much of an update is the model and how much the index."""

    def __init__(self, embedder):
        self._e = embedder
        self.seconds = 0.0

    def __getattr__(self, name: str):
        inner = getattr(self._e, name)
        # `rag index` embeds passages and their sentence spans at once; both paths are timed.
        return self._timing(inner) if name in ("encode_passages", "encode_passages_and_spans") else inner

    def _timing(self, fn):
        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t
        return timed


def _timed(fn) -> tuple[float, int, Any]:
    w, t = written_bytes(), time.perf_counter()
    out = fn()
    return time.perf_counter() - t, written_bytes() - w, out


def _segment_bytes(version: Path, name: str) -> int:
    from bench.scale import dir_size

    return dir_size(version / "segments" / name)


def run_updates(n: int, config: Config, embedder, *, n_queries: int, questions: Sequence[str],
                workdir: Path | None = None) -> dict[str, Any]:
    from bench.scale import _chunks, measure_serving, synthetic_texts, synthetic_vectors, write_index
    from rag.embedders.models import canonical_name
    from rag.index.merge_policy import MAX_SEGMENTS
    from rag.index.store import IndexStore

    t = time.perf_counter()
    everything, topics = synthetic_vectors(n + n_queries)
    vectors, held_out = everything[:n], everything[n:]
    chunks = _chunks(synthetic_texts(topics[:n]))
    del everything
    print(f"  {n:,}: generated in {time.perf_counter() - t:.0f}s; writing the index", flush=True)
    root = Path(tempfile.mkdtemp(prefix="rag-bench-updates-", dir=workdir))
    index_dir = root / "index"
    rows: list[dict[str, Any]] = []

    def done(row: dict[str, Any]) -> None:
        rows.append(row)
        print(f"  {n:,}: {row['operation']}: {row['seconds']:.2f}s, {row['bytes'] / 1e6:.3f} MB written, "
              f"{row['segments']} segments", flush=True)

    try:
        build_s, parts = write_index(index_dir, chunks, vectors, config, canonical_name(config.embedding_model))
        done({"operation": "full build (one segment, no embedding)", "seconds": build_s,
                     "bytes": sum(parts.values()), "segments": 1})
        rng = np.random.default_rng(3)
        query_texts = [" ".join(chunks[int(i)].text.split()[:6]) for i in rng.choice(len(chunks), len(questions))]
        doc_ids = sorted({c.doc_id for c in chunks})
        del chunks, vectors
        store = IndexStore(index_dir)
        embedder = TimedEmbedder(embedder)
        indexer = factory.indexer(config, embedder)
        embedder.encode_passages(["warm up the model"])
        embedder.seconds = 0.0

        doc = new_document(0)
        seconds, written, report = _timed(lambda: indexer.sync([doc], index_dir, remove_missing=False))
        info = store.version_info()
        own = _segment_bytes(info.path, info.segments[-1].name)
        done({"operation": f"add one {ADDED_WORDS:,}-word document ({report.embedded_chunks} chunks, "
                                  f"embedded)", "seconds": seconds, "bytes": written, "segments": len(info.segments),
                     "document bytes": own, "embedding seconds": embedder.seconds})

        victim = doc_ids[len(doc_ids) // 2]
        keep = set(doc_ids) | {doc.id}
        keep.discard(victim)
        seconds, written, report = _timed(lambda: indexer.sync([], index_dir, keep=keep))
        assert report.removed == [victim], report.removed
        done({"operation": "remove one document", "seconds": seconds, "bytes": written,
                     "segments": len(store.version_info().segments)})

        # Grow to the policy's maximum segment count (small additions, merging held back), as a
        # busy index can be just before its merges run, and measure queries there.
        i = 1
        while len(store.version_info().segments) < MAX_SEGMENTS:
            with store.lock():
                extra = new_document(i)
                chunks_i = indexer.chunker.chunk(extra)
                manifest = store.read_manifest()
                documents = {**manifest.documents, extra.id: {"hash": extra.id, "title": extra.title, "source": "",
                                                              "n_chunks": len(chunks_i), "metadata": {}}}
                store.update(type(manifest)(**{**manifest.__dict__, "documents": documents}), chunks_i,
                             embedder.encode_passages([c.text for c in chunks_i]),
                             approx_threshold=config.approx_threshold)
            i += 1
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            many = pool.submit(measure_serving, str(index_dir), config, held_out, list(questions),
                               query_texts, True).result()
        print(f"  {n:,}: queries with many segments: {_latency(many)}", flush=True)
        n_many = len(store.version_info().segments)

        def merge() -> int:
            with store.lock():
                return store.merge(full=True, approx_threshold=config.approx_threshold)

        seconds, written, _ = _timed(merge)
        done({"operation": f"full merge of {n_many} segments", "seconds": seconds, "bytes": written,
                     "segments": len(store.version_info().segments)})
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            merged = pool.submit(measure_serving, str(index_dir), config, held_out, list(questions),
                                 query_texts, True).result()
        print(f"  {n:,}: queries merged: {_latency(merged)}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {"chunks": n, "rows": rows, "segments_before_merge": n_many,
            "queries": {"segmented": _latency(many), "merged": _latency(merged)}}


def _latency(served: dict[str, Any]) -> dict[str, float]:
    return {"index_kind": served["index_kind"], "search_param": served["search_param"],
            "search_p50": percentile(served["search_ms"], 50), "search_p95": percentile(served["search_ms"], 95),
            "dense_e2e_p95": percentile(served["end_to_end_ms"]["dense"], 95),
            "hybrid_e2e_p50": percentile(served["end_to_end_ms"]["hybrid"], 50),
            "hybrid_e2e_p95": percentile(served["end_to_end_ms"]["hybrid"], 95)}
