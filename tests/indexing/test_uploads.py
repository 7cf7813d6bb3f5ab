"""Uploads: stored only inside the corpus's upload folder, parsed before anything is stored; on
both backends."""

from __future__ import annotations

import pytest

from rag.app import factory
from rag.core.errors import DocumentError
from rag.index.store import IndexStore
from rag.indexing.uploads import ingest, safe_filename

from ..support.files import write


@pytest.mark.parametrize("name, safe", [
    ("../../etc/passwd.txt", "passwd.txt"), ("..\\..\\boot.ini.md", "boot.ini.md"), (".hidden.md", "hidden.md"),
    ("notes (final).PDF", "notes (final).PDF"), ("", "upload"), ("../", "upload"), ("a/b/../c.html", "c.html"),
    ("北京.txt", "北京.txt"), ("a\x00b\x1b[31m.txt", "a-b-[31m.txt"), ("....txt", "upload.txt"),
    ("-- .md", "upload.md"), (".md", "md"),
])
def test_upload_names_cannot_leave_the_upload_folder(name, safe):
    assert safe_filename(name) == safe


def test_an_upload_is_stored_in_the_corpus_and_searchable(tmp_path, any_backend, embedder):
    config = any_backend
    corpus = tmp_path / "corpus"
    index_dir = config.index_dir
    indexer = factory.indexer(config, embedder)
    result = ingest("../../outside.md", b"# Kilns\n\nA kiln fires clay at high heat.", corpus_dir=corpus,
                    index_dir=index_dir, indexer=indexer)
    assert result.path == (corpus / "uploads" / "outside.md").resolve()
    assert not (tmp_path / "outside.md").exists()
    hits = factory.retriever(config, embedder=embedder).search("What does a kiln do?", 1)
    assert hits[0].doc_id == "uploads/outside.md"


def test_a_bad_or_oversized_upload_stores_nothing_and_keeps_the_index(tmp_path, any_backend, embedder):
    config = any_backend
    corpus = tmp_path / "corpus"
    index_dir = config.index_dir
    indexer = factory.indexer(config, embedder)
    ingest("good.txt", b"Granite is an igneous rock.", corpus_dir=corpus, index_dir=index_dir, indexer=indexer)
    with pytest.raises(DocumentError, match="PDF"):
        ingest("broken.pdf", b"%PDF-1.4 nothing", corpus_dir=corpus, index_dir=index_dir, indexer=indexer)
    with pytest.raises(DocumentError, match="too large"):
        ingest("big.txt", b"x" * 2000, corpus_dir=corpus, index_dir=index_dir, indexer=indexer, max_bytes=1000)
    assert sorted(p.name for p in (corpus / "uploads").iterdir() if not p.name.startswith(".")) == ["good.txt"]
    hits = factory.retriever(config, embedder=embedder).search("rock", 5)
    assert {h.doc_id for h in hits} == {"uploads/good.txt"}


REWRITTEN = ["....txt", "a?.txt", "notes:draft.md", "report (1).txt", "A.TXT"]


def test_uploads_under_rewritten_names_are_found_unchanged_by_the_next_index_run(tmp_path, indexer):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    write(corpus / "uploads" / "A.txt", "The user's own file, which A.TXT must not take the place of.")
    indexer.index_paths([corpus], index_dir)
    stored = [ingest(name, f"Upload number {i} is about granite.".encode(), corpus_dir=corpus, index_dir=index_dir,
                     indexer=indexer) for i, name in enumerate(REWRITTEN)]
    assert [u.path.suffix for u in stored] == [".txt", ".txt", ".md", ".txt", ".TXT"]
    titles = {d: m["title"] for d, m in IndexStore(index_dir).read_manifest().documents.items()}

    report = indexer.index_paths([corpus], index_dir)
    assert not report.changed and report.embedded_chunks == 0 and report.skipped == []
    assert {d: m["title"] for d, m in IndexStore(index_dir).read_manifest().documents.items()} == titles

    indexer.index_paths([corpus], index_dir, rebuild=True)  # a rebuild reads every stored upload back
    assert set(IndexStore(index_dir).read_manifest().documents) == {"uploads/A.txt", *(u.document.id for u in stored)}
