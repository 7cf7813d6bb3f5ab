"""Segments: updates write what changed, merges keep results, old indexes still load."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from rag.app import factory
from rag.core.config import Config
from rag.core.records import Document
from rag.eval.datasets import load_eval_set
from rag.index.bm25 import LexicalIndex, TermStats
from rag.index.chunk_store import write_chunks
from rag.index.merge_policy import MAX_SEGMENTS, MERGE_FACTOR, next_merge
from rag.index.store import IndexStore
from rag.indexing.indexer import Indexer, content_hash
from rag.retrieval.retriever import Retriever

from ..conftest import ARTICLE, ROOT
from ..support.crash_worker import HashEmbedder


def paragraphs() -> list[Document]:
    parts = [p.strip() for p in ARTICLE.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    return [Document(id=f"p{i:02d}", title="IMU", text=p) for i, p in enumerate(parts)]


def results(retriever: Retriever, questions: list[str]) -> list[tuple]:
    out = []
    for q in questions:
        for mode in ("hybrid", "dense", "bm25"):
            hits = retriever.search(q, 5, mode=mode)
            out.append((q, mode, [h.chunk.id for h in hits], [round(h.score, 5) for h in hits],
                        [round(h.scores_by_retriever.get("bm25", 0.0), 4) for h in hits]))
    return out


@pytest.fixture(scope="module")
def eval_questions(config) -> list[str]:
    questions = load_eval_set(ROOT / "eval" / "article.jsonl", max_question_chars=config.max_question_chars).questions
    return [q.question for q in questions]


def test_many_segments_with_tombstones_answer_the_eval_set_exactly_like_one_index(
        tmp_path, config, fp32_embedder, eval_questions, monkeypatch):
    embedder = fp32_embedder  # compared exactly (see the fixture)
    docs = paragraphs()
    assert len(docs) >= 8
    distractor = Document(id="zz", title="IMU", text="The IMU was formed in 1998 in the Fergana valley. " * 20)
    changed = Document(id=docs[2].id, title="IMU", text=docs[2].text + " The IMU said so again.")
    indexer = factory.indexer(config, embedder)
    many = tmp_path / "many"
    monkeypatch.setattr("rag.index.store.next_merge", lambda live, total: None)  # keep every segment
    for batch in (docs[:3], docs[:6] + [distractor], docs[:9], docs):
        indexer.sync(batch, many)
    indexer.sync([*docs[:2], changed, *docs[3:]], many)  # replaces p02: a tombstone and a new segment
    monkeypatch.undo()
    snap = IndexStore(many).load()
    assert len(snap.segments) >= 5 and any(r.deleted for r in snap.segments)
    assert "zz" not in snap.manifest.documents and len(snap.chunks) == snap.manifest.n_chunks

    # The same live documents, in the same order, written as one segment.
    one = tmp_path / "one"
    indexer.sync([*docs[:2], *docs[3:], changed], one)
    assert len(IndexStore(one).load().segments) == 1
    expected = results(factory.retriever(config, one, embedder=embedder), eval_questions)
    assert results(factory.retriever(config, many, embedder=embedder), eval_questions) == expected

    with IndexStore(many).lock():
        assert IndexStore(many).merge(full=True) == 1
    merged = IndexStore(many).load()
    assert len(merged.segments) == 1 and not merged.segments[0].deleted
    assert results(factory.retriever(config, many, embedder=embedder), eval_questions) == expected


@pytest.mark.parametrize("deleted", [[5], list(range(0, 400, 3))], ids=["one row", "a third of the rows"])
def test_bm25_over_a_segment_with_deleted_rows_scores_like_one_without_them(deleted):
    # Both ways a query drops deleted rows (a search per deleted row while they are few, the live
    # mask when they are many) give the scores of the live rows written alone.
    words = ["harbour", "ferry", "storm", "port", "crane", "tide", "dock", "cargo"]
    rng = np.random.default_rng(7)
    texts = [" ".join(rng.choice(words, size=int(rng.integers(3, 12)))) for _ in range(400)]
    live = np.ones(len(texts), dtype=bool)
    live[deleted] = False
    rank = np.cumsum(live) - 1
    with_tombstones = LexicalIndex([(TermStats.build(texts), live, 0, rank)])
    alone = LexicalIndex([(TermStats.build([t for t, keep in zip(texts, live) if keep]), None, 0, None)])
    for query in ("harbour storm", "cargo cargo dock", "tide"):
        got, expected = with_tombstones.search(query, 400), alone.search(query, 400)
        assert np.array_equal(got[1], expected[1])
        assert np.allclose(got[0], expected[0], rtol=1e-6)


def hash_indexer() -> Indexer:
    return factory.indexer(Config(chunk_tokens=64, chunk_overlap=8), HashEmbedder())


def corpus(n: int, tag: str = "") -> list[Document]:
    return [Document(id=f"d{i}", title=f"D{i}", text=" ".join(f"Line {j} of document {i} {tag}." for j in range(60)))
            for i in range(n)]


def files(version: Path) -> dict[str, os.stat_result]:
    return {p.relative_to(version).as_posix(): p.stat() for p in version.rglob("*") if p.is_file()}


def test_an_update_writes_only_the_new_documents_and_shares_the_rest_by_link(tmp_path):
    index_dir, indexer = tmp_path / "index", hash_indexer()
    docs = corpus(300)
    indexer.sync(docs, index_dir)
    before = files(IndexStore(index_dir).current_path())
    report = indexer.sync([*docs, Document(id="new", title="New", text="A new note about tides. " * 30)], index_dir)
    assert report.added == ["new"] and report.embedded_chunks < 10
    after = files(IndexStore(index_dir).current_path())
    shared = {name for name, st in after.items() if name in before and st.st_ino == before[name].st_ino}
    assert shared == set(before) - {"manifest.json"}  # every file of the old segment, by hard link
    written = sum(st.st_size for name, st in after.items() if name not in shared)
    total = sum(st.st_size for st in after.values())
    assert written < 0.05 * total, (written, total)

    # A removal writes only the manifest with its tombstone.
    before = files(IndexStore(index_dir).current_path())
    indexer.sync(docs[1:], index_dir, keep={"new"})
    after = files(IndexStore(index_dir).current_path())
    assert {n for n, st in after.items() if n not in before or st.st_ino != before[n].st_ino} == {"manifest.json"}
    snap = IndexStore(index_dir).load()
    assert "d0" not in snap.manifest.documents and all(c.doc_id != "d0" for c in snap.chunks)
    assert [r.deleted for r in snap.segments] == [("d0",), ()]


def test_small_updates_are_merged_so_the_segment_count_stays_bounded(tmp_path):
    index_dir, indexer = tmp_path / "index", hash_indexer()
    docs = corpus(5)
    for i in range(40):
        docs.append(Document(id=f"n{i}", title="N", text=f"Note {i} about harbours. " * 20))
        indexer.sync(docs, index_dir)
        assert len(IndexStore(index_dir).load().segments) < MERGE_FACTOR
    snap = IndexStore(index_dir).load()
    assert set(snap.manifest.documents) == {d.id for d in docs}
    assert [c.doc_id for c in snap.chunks][-1] == "n39"


def test_merge_policy_merges_equal_tiers_at_the_tail_purges_deletions_and_caps_the_count():
    assert next_merge([500_000, 100, 100, 100], [500_000, 100, 100, 100]) is None
    assert next_merge([500_000, 100, 100, 100, 100], [500_000] + [100] * 4) == (1, 5)
    assert next_merge([500_000, 100_000], [500_000, 100_000]) is None
    assert next_merge([60_000, 100_000], [100_000, 100_000]) == (0, 1)  # 40% deleted
    sizes = [2_000_000, 600_000, 150_000, 40_000, 10_000, 2_500, 600_000, 150_000, 40_000, 10_000, 2_500]
    start, end = next_merge(sizes, sizes)
    assert end - start == len(sizes) - MAX_SEGMENTS + 1 and sizes[start:end] == [10_000, 2_500]


def test_a_reader_keeps_its_version_through_merges_and_collection(tmp_path):
    index_dir, indexer = tmp_path / "index", hash_indexer()
    docs = corpus(20)
    indexer.sync(docs, index_dir)
    config = Config(chunk_tokens=64, chunk_overlap=8)
    reader = factory.retriever(config, index_dir, embedder=HashEmbedder())
    first = [h.chunk.id for h in reader.search("Line 3 of document 7", 5, mode="bm25")]
    for i in range(12):
        indexer.sync(corpus(20 + i, tag=f"edition {i}"), index_dir)
    with IndexStore(index_dir).lock():
        IndexStore(index_dir).merge(full=True)
    assert not reader.snapshot.path.exists()  # its version was collected ...
    assert [h.chunk.id for h in reader.search("Line 3 of document 7", 5, mode="bm25")] == first  # ... it still reads
    assert all("edition" not in h.chunk.text for h in reader.search("edition", 5))
    assert reader.refresh() and all("edition 11" in h.chunk.text for h in reader.search("edition", 5))


def write_format_1(index_dir: Path, docs: list[Document], indexer: Indexer) -> None:
    """An index exactly as rag wrote it before segments: one directory per version."""
    import bm25s
    import faiss

    from rag.text.analysis import analyze

    chunks = indexer.chunker.chunk_all(docs)
    vectors = indexer.embedder.encode_passages([c.text for c in chunks])
    version = index_dir / "v1700000000000000000-abcdef"
    version.mkdir(parents=True)
    np.save(version / "vectors.npy", vectors)
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    faiss.write_index(flat, str(version / "vectors.faiss"))
    model = bm25s.BM25()
    model.index([analyze(c.text) or ["\x00"] for c in chunks], show_progress=False)
    model.save(str(version / "bm25"), show_progress=False)
    (version / "bm25" / "size.json").write_text(json.dumps({"n_docs": len(chunks)}))
    write_chunks(chunks, version / "chunks.jsonl", version / "chunks.offsets.npy")
    documents = {d.id: {"hash": content_hash(d), "title": d.title, "source": "", "metadata": {},
                        "n_chunks": sum(c.doc_id == d.id for c in chunks)} for d in docs}
    e = indexer.embedder
    (version / "manifest.json").write_text(json.dumps({
        "format_version": 1, "built_at": 1.0, "embedder": {"name": e.name, "dim": e.dim, "max_tokens": e.max_tokens},
        "chunker": indexer.chunker.settings.to_dict(), "index_type": "flat", "n_chunks": len(chunks),
        "documents": documents}))
    (index_dir / "CURRENT").write_text(version.name + "\n")


def test_an_index_from_before_segments_loads_and_becomes_a_segment_on_its_next_update(tmp_path):
    index_dir, indexer = tmp_path / "index", hash_indexer()
    docs = corpus(10)
    write_format_1(index_dir, docs, indexer)
    old = IndexStore(index_dir).load()
    assert old.manifest.format_version == 1 and len(old.chunks) == old.manifest.n_chunks
    old_hits = [h.chunk.id for h in Retriever(old, indexer.embedder, None, IndexStore(index_dir)).search(
        "Line 5 of document 3", 10, mode="dense") if h.doc_id != "d0"][:5]
    legacy_vectors = os.stat(old.path / "vectors.npy").st_ino

    report = indexer.sync([*docs[1:], Document(id="new", title="New", text="A note about kilns. " * 10)], index_dir,
                          keep={d.id for d in docs[1:]})
    assert report.added == ["new"] and report.removed == ["d0"]
    snap = IndexStore(index_dir).load()
    assert snap.manifest.format_version == 2 and set(snap.manifest.documents) == {d.id for d in docs[1:]} | {"new"}
    first = snap.path / "segments" / snap.segments[0].name
    assert os.stat(first / "vectors.npy").st_ino == legacy_vectors  # converted by linking, not copying
    hits = Retriever(snap, indexer.embedder, None, IndexStore(index_dir)).search(
        "Line 5 of document 3", 5, mode="dense")
    assert [h.chunk.id for h in hits] == old_hits
    assert not (index_dir / "v1700000000000000000-abcdef").exists() or len(list(index_dir.glob("v*"))) <= 2


def test_rag_index_merge_folds_every_segment_into_one(tmp_path, capsys, shared_model):
    from ..support.cli import run

    docs, index_dir = tmp_path / "docs", tmp_path / "index"
    docs.mkdir()
    (docs / "a.txt").write_text("Granite is an igneous rock formed from magma.", encoding="utf-8")
    assert run(capsys, "index", str(docs), "--index", str(index_dir))[0] == 0
    (docs / "b.txt").write_text("Basalt is a volcanic rock that cools quickly.", encoding="utf-8")
    code, out, _ = run(capsys, "index", str(docs), "--index", str(index_dir))
    assert code == 0 and "in 2 segments" in out
    code, out, _ = run(capsys, "index", str(docs), "--index", str(index_dir), "--merge")
    assert code == 0 and "merged into one segment" in out
    snap = IndexStore(index_dir).load()
    assert len(snap.segments) == 1 and set(snap.manifest.documents) == {"a.txt", "b.txt"}


def stored_pieces(index_dir: Path) -> dict[tuple[str, str], np.ndarray]:
    """Every live chunk's sentence/clause vectors as the generator finds them."""
    from rag.text.sentences import piece_spans

    snap = IndexStore(index_dir).load()
    out = {}
    for chunk in snap.chunks:
        texts = [p for p, _, _ in piece_spans(chunk.text)]
        found = snap.sentences.lookup(chunk, texts)
        assert set(found) == set(texts), f"{chunk.id} lacks stored vectors"
        out.update({(chunk.id, t): v for t, v in found.items()})
    return out


def test_each_chunks_best_sentence_is_found_by_position_in_every_segment_past_tombstones(
        tmp_path, config, embedder, monkeypatch):
    from rag.text.sentences import piece_spans

    docs = paragraphs()[:6]
    changed = Document(id=docs[1].id, title="IMU", text=docs[1].text + " The IMU said so again.")
    many = tmp_path / "many"
    monkeypatch.setattr("rag.index.store.next_merge", lambda live, total: None)
    for batch in (docs[:2], docs[:4], docs, [docs[0], changed, *docs[2:]]):
        factory.indexer(config, embedder).sync(batch, many)
    snap = IndexStore(many).load()
    assert len(snap.segments) >= 3 and any(r.deleted for r in snap.segments)
    query = embedder.encode_queries(["Where is the IMU based now?"])[0]
    best = snap.sentences.best_cosines(list(range(len(snap.chunks))), query)
    for position, chunk in enumerate(snap.chunks):  # the same vectors, found by their text's key
        found = snap.sentences.lookup(chunk, [t for t, _, _ in piece_spans(chunk.text)])
        assert best[position] == pytest.approx(max(float(v @ query) for v in found.values()), abs=1e-5)


def test_sentence_vectors_follow_their_chunks_through_updates_tombstones_and_merges(tmp_path, config, embedder,
                                                                                    monkeypatch):
    docs = paragraphs()[:6]
    changed = Document(id=docs[1].id, title="IMU", text=docs[1].text + " The IMU said so again.")
    indexer = factory.indexer(config, embedder)
    many = tmp_path / "many"
    monkeypatch.setattr("rag.index.store.next_merge", lambda live, total: None)
    for batch in (docs[:2], docs[:4], docs):
        indexer.sync(batch, many)
    indexer.sync([docs[0], changed, *docs[2:]], many)  # a tombstone for the old p01
    monkeypatch.undo()
    one = tmp_path / "one"
    indexer.sync([docs[0], *docs[2:], changed], one)
    expected = stored_pieces(one)
    before = stored_pieces(many)
    assert before.keys() == expected.keys()
    with IndexStore(many).lock():
        IndexStore(many).merge(full=True)
    after = stored_pieces(many)
    assert after.keys() == expected.keys()
    for key, vector in expected.items():
        assert np.allclose(after[key], vector, atol=2e-2) and np.allclose(before[key], vector, atol=2e-2)
    # The merged segment keeps the rows of live chunks only: the replaced text's are gone.
    merged = IndexStore(many).load()
    seg = next((IndexStore(many).current_path() / "segments").iterdir())
    assert len(np.load(seg / "sentences.keys.npy")) == len(after) >= len(merged.chunks)
