"""bench/backends.py: each backend measured alike, and a slow one stopped at its budget."""

from __future__ import annotations


def test_the_backends_bench_measures_each_backend_alike_and_stops_a_slow_one_at_its_budget(tmp_path, any_backend):
    from bench.backends import run_backend
    from bench.scale import _chunks, synthetic_texts, synthetic_vectors

    vectors, topic_of = synthetic_vectors(400)
    chunks = _chunks(synthetic_texts(topic_of))
    full = run_backend(any_backend, chunks, vectors, n_queries=5)
    assert full["queries"] == 5 == len(full["dense_ms"]) == len(full["hybrid_ms"]) == len(full["filtered_ms"])
    assert full["recall@10"] == 1.0  # exact search on both sides, so nothing is lost
    store = tmp_path / "again"
    store.mkdir()
    again = any_backend.replace(index_dir=store / "index", milvus_uri=str(store / "m.db"))
    cut = run_backend(again, chunks, vectors, n_queries=5, budget_s=0.0)
    assert cut["queries"] == 1  # out of time at once, yet one query is measured
