"""Passages embedded in bf16 are the same model's vectors, the index records how its vectors were
made, and vectors that do not mix are refused with the fix."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rag.core.config import Config
from rag.core.errors import ConfigError, IndexMismatchError
from rag.embedders import create_embedder
from rag.embedders.precision import choose_precision, mixable, native_bf16
from rag.index.store import IndexStore

PASSAGES = [
    "The Islamic Movement of Uzbekistan was formed in 1998 by Tahir Yuldashev and Juma Namangani.",
    "Its fighters moved to the tribal areas of Pakistan after the fall of the Taliban in 2001.",
    "The tide rose forty centimetres above the mark cut into the old customs house steps. " * 6,
    "short",
]


@pytest.fixture(scope="module")
def fp32_and_bf16(embedder):
    fp32 = create_embedder(embedder.name, passage_precision="fp32", passage_backend="torch")
    bf16 = create_embedder(embedder.name, passage_precision="bf16", passage_backend="torch")
    # One model in memory: the two differ only in how a forward pass is run.
    fp32.__dict__["model"] = bf16.__dict__["model"] = embedder.model
    return fp32, bf16


def test_bf16_passages_are_the_fp32_vectors_to_four_decimals(fp32_and_bf16):
    fp32, bf16 = fp32_and_bf16
    a, b = fp32.encode_passages(PASSAGES), bf16.encode_passages(PASSAGES)
    cosine = (a * b).sum(axis=1)
    assert cosine.min() > 0.9995
    assert fp32.variant == "torch-fp32" and bf16.variant == "torch-bf16"


def test_bf16_sentence_vectors_come_from_the_same_pass_and_agree_too(fp32_and_bf16):
    fp32, bf16 = fp32_and_bf16
    spans = [[(0, 40)], [(0, 30), (31, 60)], [(0, 80)], []]
    va, pa = fp32.encode_passages_and_spans(PASSAGES, spans)
    vb, pb = bf16.encode_passages_and_spans(PASSAGES, spans)
    assert ((va * vb).sum(axis=1)).min() > 0.9995
    for x, y in zip(pa, pb):
        assert x.shape == y.shape
        if len(x):
            x, y = x.astype(np.float32), y.astype(np.float32)
            assert ((x * y).sum(axis=1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)).min() > 0.999


def test_questions_are_embedded_in_fp32_whatever_the_passages_use(fp32_and_bf16):
    fp32, bf16 = fp32_and_bf16
    assert np.array_equal(fp32.encode_queries(["When was the IMU formed?"]),
                          bf16.encode_queries(["When was the IMU formed?"]))


def test_auto_takes_bf16_only_where_the_cpu_has_it_natively():
    assert choose_precision("auto") == ("bf16" if native_bf16() else "fp32")
    assert choose_precision("fp32") == "fp32" and choose_precision("bf16") == "bf16"


def test_a_precision_that_does_not_exist_is_a_config_error(monkeypatch):
    monkeypatch.setenv("RAG_PASSAGE_PRECISION", "fp8")
    with pytest.raises(ConfigError, match="passage_precision must be one of auto, fp32, bf16"):
        Config.load()
    with pytest.raises(ConfigError, match="passage_precision"):
        create_embedder("sentence-transformers/all-MiniLM-L6-v2", passage_precision="int4")


def test_fp32_and_bf16_vectors_mix_and_a_foreign_variant_does_not():
    assert mixable(["torch-fp32"], "torch-bf16") and mixable(["torch-bf16", "torch-fp32"], "torch-fp32")
    assert not mixable(["onnx-int8-passages"], "torch-bf16")


def _manifest(index_dir):
    path = IndexStore(index_dir).current_path() / "manifest.json"
    return path, json.loads(path.read_text())


def test_the_index_records_the_variants_its_vectors_were_made_by(config, embedder, tmp_path):
    from rag.app import factory

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text(PASSAGES[0])
    index_dir = tmp_path / "index"
    factory.indexer(config, embedder).index_paths([tmp_path / "docs"], index_dir)
    _, manifest = _manifest(index_dir)
    assert manifest["embedder"]["variants"] == [embedder.variant]


def test_vectors_that_do_not_mix_are_refused_with_the_command_that_fixes_it(config, embedder, tmp_path):
    from rag.app import factory

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text(PASSAGES[0])
    index_dir = tmp_path / "index"
    indexer = factory.indexer(config, embedder)
    indexer.index_paths([tmp_path / "docs"], index_dir)
    path, manifest = _manifest(index_dir)
    manifest["embedder"]["variants"] = ["onnx-int8-passages"]  # as another build would record it
    path.write_text(json.dumps(manifest))
    (tmp_path / "docs" / "b.txt").write_text(PASSAGES[1])
    with pytest.raises(IndexMismatchError, match=r"onnx-int8-passages.*rag index --rebuild"):
        indexer.index_paths([tmp_path / "docs"], index_dir)
    # Nothing was published: the index still holds its one document.
    assert list(IndexStore(index_dir).read_manifest().documents) == ["a.txt"]


def test_tokens_are_counted_as_the_model_reads_them_without_truncation(embedder):
    texts = ["", "short", "Tahir Yuldashev's IMU, formed in 1998 — in Namangan.", "word " * 700,
             "naïve café ﬁnance 😀 日本語"]
    expected = [len(ids) for ids in embedder.model.tokenizer(texts, add_special_tokens=True, truncation=False,
                                                              verbose=False)["input_ids"]]
    assert [embedder.count_tokens(t) for t in texts] == expected
    assert expected[3] > embedder.max_tokens  # a long text is counted whole, not cut at the model's limit
