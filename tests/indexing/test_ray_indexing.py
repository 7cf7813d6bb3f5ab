"""`rag index --ray`: chunking and embedding on Ray give the index a single process builds."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.app import factory
from rag.cli import main
from rag.core.config import Config
from rag.core.errors import ConfigError
from rag.core.records import Document
from rag.index.store import IndexStore

from ..conftest import ROOT


def _shared() -> Path:
    """The shared datasets folder: $SHARED, or `shared/` beside the checkout (or one level up)."""
    candidates = [Path(os.environ["SHARED"])] if os.environ.get("SHARED") else []
    candidates += [ROOT.parent / "shared", ROOT.parent.parent / "shared"]
    return next((c for c in candidates if c.is_dir()), candidates[0])


RGB_CORPUS = _shared() / "datasets" / "rgb_en_fact" / "corpus.jsonl"  # read in place, never copied

SENTENCE = "The {n}th survey of the valley counted {n} wells, {m} bridges and a school near the river. "


def document(doc_id: str, sentences: int, seed: int = 0) -> Document:
    text = "".join(SENTENCE.format(n=i + seed, m=3 * i + seed) for i in range(sentences))
    return Document(id=doc_id, title=f"Survey {doc_id}", text=text, source=f"{doc_id}.txt",
                    metadata={"path": f"{doc_id}.txt"})


def assert_same_index(a: Path, b: Path) -> None:
    left, right = IndexStore(a).load(), IndexStore(b).load()
    assert [c.id for c in left.chunks] == [c.id for c in right.chunks]
    assert list(left.chunks) == list(right.chunks)  # text, spans, title, metadata
    assert np.abs(np.asarray(left.vectors) - np.asarray(right.vectors)).max() <= 1e-5

    def documents(manifest) -> dict:  # the times differ between two builds
        return {d: {k: v for k, v in m.items() if k not in ("added_at", "updated_at")}
                for d, m in manifest.documents.items()}

    assert documents(left.manifest) == documents(right.manifest)
    assert left.manifest.embedder == right.manifest.embedder
    assert left.manifest.chunker == right.manifest.chunker
    assert left.manifest.n_chunks == right.manifest.n_chunks


@pytest.fixture
def local_ray():
    """A local Ray instance for the test, shared by its builds (starting one takes seconds)."""
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


@pytest.mark.slow
def test_ray_build_and_update_equal_the_single_process_ones(tmp_path, config, fp32_embedder, local_ray):
    embedder = fp32_embedder  # compared to 1e-5: fp32 on both sides (the workers read the setting)
    # A limit that one document exceeds, so skipping happens on the workers too.
    cfg = config.replace(max_file_chunks=6, passage_precision="fp32", passage_backend="torch")
    single = factory.indexer(cfg, embedder)
    on_ray = factory.indexer(cfg, embedder, ray=factory.ray_indexing(cfg, "local", actors=2))
    docs = [document("a", 12), document("b", 2), document("big", 80), document("c", 25, seed=7),
            document("d", 1, seed=3), document("e", 6, seed=11)]
    first = single.sync(docs, tmp_path / "single")
    report = on_ray.sync(docs, tmp_path / "ray")
    assert report.added == first.added and report.embedded_chunks == first.embedded_chunks > len(docs)
    assert [s.doc_id for s in report.skipped] == [s.doc_id for s in first.skipped] == ["big"]
    assert [s.reason for s in report.skipped] == [s.reason for s in first.skipped]
    assert_same_index(tmp_path / "single", tmp_path / "ray")

    # Incremental: only the changed and the added document are embedded; a removed one goes.
    changed = [document("a", 12), document("b", 3), document("c", 25, seed=7), document("e", 6, seed=11),
               document("f", 9, seed=5)]
    first = single.sync(changed, tmp_path / "single")
    report = on_ray.sync(changed, tmp_path / "ray")
    assert (report.added, report.updated, report.removed) == (["f"], ["b"], ["d"]) == \
        (first.added, first.updated, first.removed)
    assert report.embedded_chunks == first.embedded_chunks
    assert report.embedded_chunks == sum(m["n_chunks"] for d, m in
                                         IndexStore(tmp_path / "ray").read_manifest().documents.items()
                                         if d in ("b", "f"))
    assert_same_index(tmp_path / "single", tmp_path / "ray")


@pytest.mark.usefixtures("shared_model")
def test_ray_without_the_package_fails_in_one_line_saying_what_to_install(tmp_path, capsys, monkeypatch,
                                                                          article_corpus):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    # A folder right after a bare --ray is what to index, not the cluster's address.
    code = main(["index", "--index", str(tmp_path / "idx"), "--ray", str(article_corpus)])
    out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in err
    assert err.strip().count("\n") == 0 and "pip install 'rag[ray]'" in err
    assert not IndexStore(tmp_path / "idx").exists()


@pytest.mark.usefixtures("shared_model")
def test_unreachable_ray_cluster_fails_fast_in_one_line(tmp_path, capsys, article_corpus):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(["index", str(article_corpus), "--index", str(tmp_path / "idx"), "--ray", f"127.0.0.1:{port}"])
    out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in err
    assert f"cannot reach the Ray cluster at '127.0.0.1:{port}'" in err and "--ray local" in err
    assert not IndexStore(tmp_path / "idx").exists()


@pytest.mark.parametrize("address", ["local", "auto", "10.0.0.5:6379", "ray://head.example:10001", ""])
def test_ray_address_accepts_what_ray_init_does(address):
    assert Config(ray_address=address).ray_address == address


@pytest.mark.parametrize("address", ["bogus", "10.0.0.5", "ray://", "http://head:8265"])
def test_a_malformed_ray_address_is_refused_at_load(address):
    with pytest.raises(ConfigError, match="not a Ray address"):
        Config(ray_address=address)


@pytest.mark.slow
def test_index_on_a_two_node_loopback_cluster_equals_the_single_process_index(tmp_path, config, fp32_embedder):
    """The rgb_en_fact corpus through `rag index --ray auto` on a head (127.0.0.2) and a worker
    node (127.0.0.3), one CPU each; the cluster's processes are all gone afterwards."""
    from bench.ray_cluster import LoopbackCluster

    assert RGB_CORPUS.is_file(), f"{RGB_CORPUS} is missing"
    # Compared to 1e-5: fp32 on both sides (see the fp32_embedder fixture).
    factory.indexer(config, fp32_embedder).index_paths([RGB_CORPUS], tmp_path / "single")
    cluster = LoopbackCluster(cpus=1)
    with cluster:
        assert len(cluster.pids()) > 4
        done = subprocess.run([str(Path(sys.executable).with_name("rag")), "-v", "index", str(RGB_CORPUS),
                               "--index", str(tmp_path / "ray"), "--ray", "auto"],
                              env={**cluster.env, "RAG_PASSAGE_PRECISION": "fp32", "RAG_PASSAGE_BACKEND": "torch"},
                              capture_output=True, text=True,
                              timeout=900)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "2 actors" in done.stderr and "'CPU': 2.0" in done.stderr
        assert cluster.env["RAY_AUTH_TOKEN"] not in done.stdout + done.stderr
    assert cluster.pids() == []
    n_docs = sum(1 for line in RGB_CORPUS.open(encoding="utf-8") if json.loads(line).get("text"))
    assert f"{n_docs} added" in done.stdout
    assert_same_index(tmp_path / "single", tmp_path / "ray")
