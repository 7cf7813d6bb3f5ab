"""The index on disk: round trip, incremental updates, mismatches, damage, atomic publication."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.app import factory
from rag.core.config import Config
from rag.core.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError, IndexWriteError
from rag.index.store import CURRENT, IndexStore

from ..conftest import ARTICLE, copy_as_built_by
from ..support.files import write


def test_index_round_trip_returns_the_same_chunks_and_vectors(article_index, embedder):
    snap = IndexStore(article_index).load()
    assert snap.manifest.n_chunks == len(snap.chunks) == len(snap.vectors) > 3
    assert snap.manifest.embedder["name"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert snap.manifest.embedder["dim"] == 384
    text = ARTICLE.read_text(encoding="utf-8")
    for chunk in snap.chunks:
        assert chunk.text in text
    again = embedder.encode_passages([snap.chunks[0].indexed_text])[0]  # the header, then the text
    assert float(again @ snap.vectors[0]) > 0.999


def segment_dir(index_dir: Path) -> Path:
    """The live version's first segment, where the chunks, vectors and indexes are."""
    version = IndexStore(index_dir).current_path()
    name = json.loads((version / "manifest.json").read_text())["segments"][0]["name"]
    return version / "segments" / name


def test_manifest_records_model_chunker_and_content_hashes(article_index):
    manifest = json.loads((IndexStore(article_index).current_path() / "manifest.json").read_text())
    assert manifest["format_version"] == 2
    assert manifest["chunker"] == {"chunk_tokens": 160, "chunk_overlap": 32, "encoding": "cl100k_base",
                                   "context": True}
    (doc,) = IndexStore(article_index).read_manifest().documents.values()
    assert len(doc["hash"]) == 64
    assert "/" not in manifest["embedder"]["name"].split("sentence-transformers/")[-1], "no machine path"


def test_reindexing_embeds_only_added_and_changed_documents(tmp_path, indexer):
    corpus = tmp_path / "docs"
    write(corpus / "a.txt", "Alpha is the first letter. It comes before beta.")
    write(corpus / "b.txt", "Bravo is a word used for the letter B in radio.")
    index_dir = tmp_path / "index"
    first = indexer.index_paths([corpus], index_dir)
    assert sorted(first.added) == ["a.txt", "b.txt"] and first.embedded_chunks == 2

    unchanged = indexer.index_paths([corpus], index_dir)
    assert not unchanged.changed and unchanged.embedded_chunks == 0 and len(unchanged.unchanged) == 2

    write(corpus / "b.txt", "Bravo was replaced. Charlie is the third letter in the radio alphabet.")
    write(corpus / "c.txt", "Delta is a river mouth with many channels.")
    (corpus / "a.txt").unlink()
    report = indexer.index_paths([corpus], index_dir)
    assert (report.added, report.updated, report.removed) == (["c.txt"], ["b.txt"], ["a.txt"])
    assert report.embedded_chunks == 2
    snap = IndexStore(index_dir).load()
    assert {c.doc_id for c in snap.chunks} == {"b.txt", "c.txt"}
    assert any("Charlie" in c.text for c in snap.chunks)


def test_incremental_index_searches_like_a_fresh_build(tmp_path, indexer, config, embedder):
    corpus = tmp_path / "docs"
    write(corpus / "a.txt", "Whales are mammals that live in the ocean.")
    indexer.index_paths([corpus], tmp_path / "inc")
    write(corpus / "b.txt", "Volcanoes erupt molten rock called lava.")
    indexer.index_paths([corpus], tmp_path / "inc")
    indexer.index_paths([corpus], tmp_path / "fresh")
    for q in ("What do volcanoes erupt?", "Are whales mammals?"):
        inc = factory.retriever(config, tmp_path / "inc", embedder=embedder).search(q, 2)
        fresh = factory.retriever(config, tmp_path / "fresh", embedder=embedder).search(q, 2)
        assert [h.chunk.id for h in inc] == [h.chunk.id for h in fresh]
        assert np.allclose([h.score for h in inc], [h.score for h in fresh])


def test_loading_an_index_built_with_other_settings_says_what_differs(article_index, config, embedder):
    other = Config(chunk_tokens=200)
    with pytest.raises(IndexMismatchError) as err:
        factory.retriever(other, article_index, embedder=embedder)
    message = str(err.value)
    assert "chunk_tokens: index has 160, config has 200" in message
    assert "rag index --rebuild" in message
    # A setting added later counts as its default in an index that does not record it, both ways.
    with pytest.raises(IndexMismatchError, match="context: index has True, config has False"):
        factory.retriever(Config(chunk_context=False), article_index, embedder=embedder)
    manifest = factory.retriever(config, article_index, embedder=embedder).view.manifest
    older = type(manifest)(**{**manifest.__dict__,
                              "chunker": {k: v for k, v in manifest.chunker.items() if k != "context"}})
    with pytest.raises(IndexMismatchError, match="context: index has False, config has True"):
        older.check_compatible(config.embedding_model, manifest.chunker)


def test_updating_with_another_embedding_model_is_refused(tmp_path, article_index, config, embedder):
    index_dir = copy_as_built_by(article_index, tmp_path / "copy", "intfloat/e5-small-v2")
    with pytest.raises(IndexMismatchError, match="embedding model: index has 'intfloat/e5-small-v2'"):
        factory.indexer(config, embedder).index_paths([ARTICLE], index_dir)


def test_missing_index_explains_how_to_build_one(tmp_path, config, embedder):
    with pytest.raises(IndexNotFoundError, match="rag index"):
        factory.retriever(config, tmp_path / "nowhere", embedder=embedder)


@pytest.mark.parametrize("damage", ["delete_faiss", "truncate_chunks", "bad_manifest", "future_format",
                                    "dangling_pointer", "truncate_vectors"])
def test_damaged_index_is_reported_not_crashed_on(tmp_path, article_index, config, embedder, damage):
    index_dir = tmp_path / "copy"
    shutil.copytree(article_index, index_dir)
    version = IndexStore(index_dir).current_path()
    segment = segment_dir(index_dir)
    if damage == "delete_faiss":
        (segment / "vectors.faiss").unlink()
    elif damage == "truncate_chunks":
        data = (segment / "chunks.jsonl").read_bytes()
        (segment / "chunks.jsonl").write_bytes(data[: len(data) // 2])
    elif damage == "bad_manifest":
        (version / "manifest.json").write_text("{not json")
    elif damage == "future_format":
        m = json.loads((version / "manifest.json").read_text())
        m["format_version"] = 99
        (version / "manifest.json").write_text(json.dumps(m))
    elif damage == "dangling_pointer":
        (index_dir / CURRENT).write_text("v-gone\n")
    elif damage == "truncate_vectors":
        data = (segment / "vectors.npy").read_bytes()
        (segment / "vectors.npy").write_bytes(data[:200])
    with pytest.raises(IndexCorruptError, match="rebuild"):
        factory.retriever(config, index_dir, embedder=embedder)


def test_a_failed_write_leaves_the_previous_index_live(tmp_path, indexer, monkeypatch, config, embedder):
    corpus = tmp_path / "docs"
    write(corpus / "a.txt", "The lighthouse stands on the northern cape.")
    index_dir = tmp_path / "index"
    indexer.index_paths([corpus], index_dir)
    before = IndexStore(index_dir).current_path()

    write(corpus / "b.txt", "A second document that will never be published.")

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("rag.index.segments.TermStats.build", crash)
    with pytest.raises(IndexWriteError, match="disk full"):
        indexer.index_paths([corpus], index_dir)
    monkeypatch.undo()
    assert IndexStore(index_dir).current_path() == before
    hits = factory.retriever(config, index_dir, embedder=embedder).search("lighthouse", 5)
    assert {h.doc_id for h in hits} == {"a.txt"}
    # The next run cleans up the half-written version and succeeds.
    report = indexer.index_paths([corpus], index_dir)
    assert report.added == ["b.txt"]
    assert not list(index_dir.glob("tmp-*"))


def test_readers_keep_their_version_while_a_new_one_is_published(tmp_path, indexer, config, embedder):
    corpus = tmp_path / "docs"
    write(corpus / "a.txt", "Granite is an igneous rock.")
    index_dir = tmp_path / "index"
    indexer.index_paths([corpus], index_dir)
    reader = factory.retriever(config, index_dir, embedder=embedder)
    write(corpus / "b.txt", "Basalt is a volcanic rock.")
    indexer.index_paths([corpus], index_dir)
    assert {h.doc_id for h in reader.search("rock", 5)} == {"a.txt"}
    assert reader.refresh() is True
    assert {h.doc_id for h in reader.search("rock", 5)} == {"a.txt", "b.txt"}


def test_passages_are_embedded_on_every_core_even_after_faiss_took_the_shared_openmp_pool(fp32_embedder,
                                                                                          monkeypatch):
    """PyTorch's passages (OpenVINO runs its own thread pool, not the OpenMP one FAISS sets)."""
    import os

    import torch

    embedder = fp32_embedder

    seen = []
    monkeypatch.setattr(embedder, "_encode", lambda texts, show_progress: seen.append(torch.get_num_threads())
                        or np.zeros((len(texts), 384), dtype=np.float32))
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # what faiss's query setting leaves when torch was imported first
    try:
        embedder.encode_passages(["one passage", "another passage"])
        assert seen == [os.cpu_count()]
        # ... and so on the path `rag index` takes, passages with their sentence spans.
        def forward(*args, **kwargs):
            seen.append(torch.get_num_threads())
            raise InterruptedError  # the thread count is all this test needs

        monkeypatch.setattr(embedder.model, "encode", forward)
        with pytest.raises(InterruptedError):
            embedder.encode_passages_and_spans(["one passage"], [[(0, 3)]])
        assert seen == [os.cpu_count(), os.cpu_count()]
        assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 1  # queries keep their single thread
    finally:
        torch.set_num_threads(before)

