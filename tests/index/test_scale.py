"""Index types by corpus size, the memory-mapped chunk store, the int8 query path, the scale bench."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from bench.scale import synthetic_vectors
from rag.app import factory
from rag.core.errors import IndexCorruptError, IndexMismatchError
from rag.core.records import Chunk, Document
from rag.index.chunk_store import ChunkStore, write_chunks
from rag.index.faiss_index import calibration_rows, exact_top, recall_at
from rag.index.vectors import build_index, choose_index_type, load_index

from ..conftest import ARTICLE, ROOT, copy_as_built_by


def test_auto_index_type_is_exact_until_the_threshold_then_ivf():
    assert choose_index_type("auto", 199_999, 200_000) == "flat"
    assert choose_index_type("auto", 200_000, 200_000) == "ivf"
    assert choose_index_type("hnsw", 10, 200_000) == "hnsw"


@pytest.fixture(scope="module")
def corpus_and_queries():
    vectors, _ = synthetic_vectors(24_200, seed=5)
    return vectors[:24_000], vectors[24_000:]


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_indexes_keep_recall_at_10_above_095_on_unseen_queries(kind, corpus_and_queries, tmp_path):
    vectors, queries = corpus_and_queries
    index = build_index(vectors, kind)
    index.save(tmp_path / "index.faiss")
    loaded = load_index(tmp_path / "index.faiss")  # the tuned search setting survives the round trip
    assert loaded.kind == kind and loaded.search_param == index.search_param > 0
    _, found = loaded.search(queries, 10)
    assert recall_at(found, exact_top(vectors, queries, 10), None, 10) >= 0.95


def test_ivf_rebuild_keeps_the_trained_centroids_while_the_corpus_size_holds(corpus_and_queries, tmp_path):
    vectors, queries = corpus_and_queries
    first = build_index(vectors, "ivf")
    first.save(tmp_path / "v1.faiss")
    previous = load_index(tmp_path / "v1.faiss")  # memory-mapped, as the indexer sees it
    second = build_index(vectors[:23_000], "ivf", previous=previous)
    nlist = first._index.nlist
    assert np.array_equal(first._index.quantizer.reconstruct_n(0, nlist),
                          second._index.quantizer.reconstruct_n(0, nlist))
    assert len(second) == 23_000
    _, found = second.search(queries, 10)
    assert recall_at(found, exact_top(vectors[:23_000], queries, 10), None, 10) >= 0.95


def test_a_merge_calibrates_on_the_same_sample_and_keeps_the_search_setting(corpus_and_queries):
    # A merge that drops a removed document and appends a few new rows must not draw a new random
    # sample: with one, this corpus calibrated to nprobe 24 and the merged index to 16.
    vectors, queries = corpus_and_queries
    merged = np.concatenate([vectors[:10_000], vectors[10_300:], queries[:100]])
    before = {vectors[i].tobytes() for i in calibration_rows(vectors, 256)}
    after = {merged[i].tobytes() for i in calibration_rows(merged, 256)}
    assert len(before & after) >= 240
    first = build_index(vectors, "ivf")
    assert build_index(merged, "ivf", previous=first).search_param == first.search_param


def test_indexer_adds_and_removes_documents_in_an_approximate_index(tmp_path, config, embedder):
    cfg = config.replace(index_type="ivf")
    indexer = factory.indexer(cfg, embedder)
    article = Document(id="imu", title="IMU", text=ARTICLE.read_text(encoding="utf-8"))
    extra = Document(id="bees", title="Bees", text="Honey bees dance to tell their hive where the flowers are. "
                     "The waggle dance encodes direction and distance.")
    index_dir = tmp_path / "index"
    indexer.sync([article, extra], index_dir)
    retriever = factory.retriever(cfg, index_dir, embedder=embedder)
    assert retriever.snapshot.vector_index.kind == "ivf"
    assert retriever.search("How do bees tell the hive where flowers are?", 1, mode="dense")[0].doc_id == "bees"

    report = indexer.sync([article], index_dir)
    assert report.removed == ["bees"]
    retriever.refresh()
    assert {h.doc_id for h in retriever.search("waggle dance of honey bees", 5)} == {"imu"}
    assert len(retriever.snapshot.vector_index) == len(retriever.snapshot.chunks)


def _chunks(n: int) -> list[Chunk]:
    return [Chunk(id=f"d{i}:0", doc_id=f"d{i}", text=f"passage {i} — ünïcode ✓", start=0, end=20, n_tokens=5,
                  title=f"T{i}", metadata={"date": "2014-06-16"}) for i in range(n)]


def test_chunk_store_reads_any_chunk_without_loading_the_rest(tmp_path):
    chunks = _chunks(500)
    write_chunks(chunks, tmp_path / "chunks.jsonl", tmp_path / "offsets.npy")
    store = ChunkStore(tmp_path / "chunks.jsonl", tmp_path / "offsets.npy")
    assert len(store) == 500
    assert store[0] == chunks[0] and store[499] == chunks[499] and store[-1] == chunks[-1]
    assert store[10:13] == chunks[10:13]
    assert list(store) == chunks
    assert [c.doc_id for c in store][:3] == ["d0", "d1", "d2"]
    with pytest.raises(IndexError):
        store[500]
    # An index written before the offsets file existed still opens.
    assert ChunkStore(tmp_path / "chunks.jsonl", tmp_path / "missing.npy")[7] == chunks[7]


def test_chunk_store_refuses_a_file_that_does_not_match_its_offsets(tmp_path):
    write_chunks(_chunks(50), tmp_path / "chunks.jsonl", tmp_path / "offsets.npy")
    data = (tmp_path / "chunks.jsonl").read_bytes()
    (tmp_path / "chunks.jsonl").write_bytes(data[:-40])
    with pytest.raises(IndexCorruptError, match="rebuild"):
        ChunkStore(tmp_path / "chunks.jsonl", tmp_path / "offsets.npy")


def test_a_damaged_line_is_reported_when_read(tmp_path):
    write_chunks(_chunks(3), tmp_path / "chunks.jsonl", tmp_path / "offsets.npy")
    data = bytearray((tmp_path / "chunks.jsonl").read_bytes())
    data[data.index(b"\n") + 1] = ord("#")  # the second line's opening brace, same length
    (tmp_path / "chunks.jsonl").write_bytes(bytes(data))
    store = ChunkStore(tmp_path / "chunks.jsonl", tmp_path / "offsets.npy")
    assert store[0].id == "d0:0"
    with pytest.raises(IndexCorruptError, match="line 2"):
        store[1]


onnx = pytest.importorskip("onnxruntime")


def test_int8_questions_land_where_fp32_ones_do(embedder):
    from rag.embedders import create_embedder

    int8 = create_embedder(embedder.name, query_backend="onnx-int8")
    questions = ["When was the IMU first formed?", "Who claimed the Karachi airport attack?", "Where is it based?"]
    cosines = (int8.encode_queries(questions) * embedder.encode_queries(questions)).sum(axis=1)
    assert cosines.min() > 0.99
    assert int8.name == embedder.name and int8.dim == embedder.dim == 384


def test_a_question_is_answered_without_importing_torch(article_index):
    """The int8 path is what lets `rag ask` and `rag serve` start in a second or two."""
    code = ("import sys; from rag.core.config import Config; from rag.app.pipeline import Pipeline; "
            f"p = Pipeline.load({str(article_index)!r}, config=Config(query_backend='onnx-int8')); "
            "a = p.ask('When was the IMU first formed?'); "
            "print(a.abstained, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True).stdout.split()
    assert out == ["False", "False", "False"]


def test_an_index_built_by_another_model_is_refused_by_the_int8_query_side(article_index, tmp_path, config):
    copy = copy_as_built_by(article_index, tmp_path / "index", "intfloat/e5-small-v2")
    with pytest.raises(IndexMismatchError, match="embedding model"):
        factory.retriever(config.replace(query_backend="onnx-int8"), copy)


@pytest.mark.slow
def test_scale_bench_prints_its_table_and_writes_json(tmp_path):
    done = subprocess.run([sys.executable, "-m", "bench", "--only", "scale", "--sizes", "3k",
                           "--out", str(tmp_path)], capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "recall@10" in done.stdout and "3,000" in done.stdout
    rows = json.loads((tmp_path / "bench.json").read_text())["tables"][0]["rows"]
    assert [r["corpus"] for r in rows] == ["article", "3,000"]
    assert all(r["recall@10"] == 1.0 and r["peak RSS MB"] > 0 for r in rows)
