"""Passages run through an OpenVINO graph of the model's own weights: the same vectors as
PyTorch's, the graph converted once in a child process, torch never imported while indexing,
and every way it can fail said plainly."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from rag.core.errors import ConfigError, ModelNotFoundError
from rag.embedders import create_embedder
from rag.embedders import openvino_passages as ov_passages
from rag.embedders.models import mean_pooled_layout
from rag.embedders.openvino_passages import OpenVinoPassages, graph_dir

pytest.importorskip("openvino")

PASSAGES = [
    "The Islamic Movement of Uzbekistan was formed in 1998 by Tahir Yuldashev and Juma Namangani.",
    "Its fighters moved to the tribal areas of Pakistan after the fall of the Taliban in 2001.",
    "The tide rose forty centimetres above the mark cut into the old customs house steps. " * 6,
    "short",
    "",
]
SPANS = [[(0, 40), (41, 93)], [(0, 30), (31, 60)], [(0, 80)], [(0, 5)], []]


@pytest.fixture(scope="module")
def torch_fp32(fp32_embedder):
    return fp32_embedder


@pytest.fixture(scope="module")
def openvino(embedder):
    ov = create_embedder(embedder.name, passage_backend="openvino")
    assert ov.passage_backend == "openvino"
    return ov


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.astype(np.float32), b.astype(np.float32)
    return (a * b).sum(axis=1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)


def test_openvino_passages_are_pytorchs_fp32_vectors_to_four_decimals(torch_fp32, openvino):
    expected, got = torch_fp32.encode_passages(PASSAGES), openvino.encode_passages(PASSAGES)
    assert got.shape == expected.shape and got.dtype == np.float32
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert _cosines(expected, got).min() > 0.9995
    assert openvino.variant == f"openvino-{openvino.precision}"


def test_its_sentence_vectors_come_from_the_same_pass_and_agree_with_pytorchs(torch_fp32, openvino):
    va, pa = torch_fp32.encode_passages_and_spans(PASSAGES, SPANS)
    vb, pb = openvino.encode_passages_and_spans(PASSAGES, SPANS)
    assert _cosines(va, vb).min() > 0.9995
    for x, y, spans in zip(pa, pb, SPANS):
        assert x.shape == y.shape == (len(spans), openvino.dim) and y.dtype == np.float16
        if len(x):
            assert _cosines(x, y).min() > 0.999


def test_in_fp32_the_graph_gives_pytorchs_vectors_to_six_decimals(embedder, torch_fp32):
    ov32 = create_embedder(embedder.name, passage_backend="openvino", passage_precision="fp32")
    assert ov32.variant == "openvino-fp32"
    assert _cosines(torch_fp32.encode_passages(PASSAGES), ov32.encode_passages(PASSAGES)).min() > 0.99999


def test_many_passages_keep_their_order_whatever_batch_they_ran_in(torch_fp32, openvino):
    texts = [f"Passage {i}: " + "word " * (i % 37) + f"ends with number {i}." for i in range(150)]
    expected, got = torch_fp32.encode_passages(texts), openvino.encode_passages(texts)
    assert _cosines(expected, got).min() > 0.999
    assert (got @ expected.T).argmax(axis=1).tolist() == list(range(len(texts)))


def test_auto_takes_openvino_only_for_a_mean_pooled_model_it_can_run(embedder, tmp_path, monkeypatch):
    assert create_embedder(embedder.name).passage_backend == "openvino"
    assert create_embedder(embedder.name, passage_backend="torch").passage_backend == "torch"
    # A model pooled on its first token is not one the graph's mean pooling reproduces.
    cls_model = tmp_path / "cls-model"
    shutil.copytree(openvino_layout().directory, cls_model, ignore=shutil.ignore_patterns("*.safetensors"))
    pooling = cls_model / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    pooling.write_text(json.dumps({**config, "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}))
    assert mean_pooled_layout(str(cls_model)) is None
    assert create_embedder(str(cls_model)).passage_backend == "torch"
    with pytest.raises(ConfigError, match=r"mean pooling.*passage_backend = \"torch\""):
        create_embedder(str(cls_model), passage_backend="openvino")
    monkeypatch.setattr(ov_passages, "available", lambda: False)
    assert create_embedder(embedder.name).passage_backend == "torch"
    with pytest.raises(ConfigError, match=r"needs the openvino package.*fast-index"):
        create_embedder(embedder.name, passage_backend="openvino")
    with pytest.raises(ConfigError, match="passage_backend must be one of auto, torch, openvino"):
        create_embedder(embedder.name, passage_backend="onnx")


def openvino_layout():
    from rag.embedders.models import resolve_model

    layout = mean_pooled_layout(resolve_model("sentence-transformers/all-MiniLM-L6-v2"))
    assert layout is not None
    return layout


def test_the_graph_is_converted_once_in_a_child_process_and_then_reused(tmp_path, torch_fp32):
    passages = OpenVinoPassages(openvino_layout(), precision="fp32", cache=tmp_path)
    vectors, _ = passages.encode(PASSAGES[:2])
    graph = graph_dir(openvino_layout(), tmp_path) / "model.xml"
    assert graph.is_file() and [p.name for p in tmp_path.iterdir()] == [graph.parent.name]  # no temporary left
    written = graph.stat().st_mtime_ns
    again, _ = OpenVinoPassages(openvino_layout(), precision="fp32", cache=tmp_path).encode(PASSAGES[:2])
    assert graph.stat().st_mtime_ns == written and np.allclose(vectors, again, atol=1e-6)
    assert _cosines(torch_fp32.encode_passages(PASSAGES[:2]), vectors).min() > 0.99999


def test_a_damaged_graph_is_an_error_that_says_what_to_delete(tmp_path):
    where = graph_dir(openvino_layout(), tmp_path)
    where.mkdir(parents=True)
    (where / "model.xml").write_text("<net>not a graph")
    with pytest.raises(ModelNotFoundError, match=r"cannot load the OpenVINO graph in .*delete that folder"):
        OpenVinoPassages(openvino_layout(), precision="fp32", cache=tmp_path).encode(["a passage"])


def test_a_model_that_cannot_be_converted_is_an_error_naming_the_way_back_to_torch(tmp_path):
    broken = tmp_path / "model"
    shutil.copytree(openvino_layout().directory, broken, ignore=shutil.ignore_patterns("*.safetensors"))
    (broken / "model.safetensors").write_bytes(b"not weights")
    layout = mean_pooled_layout(str(broken))
    with pytest.raises(ModelNotFoundError, match=r"cannot convert .* to an OpenVINO graph.*passage_backend = \"torch\""):
        OpenVinoPassages(layout, precision="fp32", cache=tmp_path / "cache").encode(["a passage"])
    assert not any((tmp_path / "cache").rglob("model.xml"))


def test_indexing_with_the_graph_never_imports_torch(tmp_path):
    """One model in memory while indexing: the graph, not PyTorch's copy beside it."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text(PASSAGES[0] + " " + PASSAGES[1])
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from rag.app import factory
        from rag.core.config import Config
        config = Config.load().replace(index_dir=Path({str(tmp_path / 'index')!r}))
        report = factory.indexer(config).index_paths([Path({str(tmp_path / 'docs')!r})])
        assert report.embedded_chunks == 1, report.summary()
        print(sorted(m for m in ("torch", "sentence_transformers", "transformers") if m in sys.modules))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
    manifest = json.loads(next((tmp_path / "index").rglob("manifest.json")).read_text())
    assert manifest["embedder"]["variants"][0].startswith("openvino-")


def test_openvino_vectors_join_an_index_pytorch_built(config, fp32_embedder, openvino, tmp_path):
    from rag.app import factory
    from rag.index.store import IndexStore

    docs, index_dir = tmp_path / "docs", tmp_path / "index"
    docs.mkdir()
    (docs / "a.txt").write_text(PASSAGES[0])
    factory.indexer(config, fp32_embedder).index_paths([docs], index_dir)
    (docs / "b.txt").write_text(PASSAGES[1])
    factory.indexer(config, openvino).index_paths([docs], index_dir)
    manifest = IndexStore(index_dir).read_manifest()
    assert sorted(manifest.documents) == ["a.txt", "b.txt"]
    assert manifest.variants == sorted(["torch-fp32", openvino.variant])
