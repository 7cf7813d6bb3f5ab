"""`rag index` of a corpus and an upload into it, at the same time: no document is dropped.

`rag index corpus/` used to list the corpus before taking the index's lock, while an upload was
still a hidden part file; the upload then committed and the index run, diffing its stale listing
against the index, removed it ("1 removed", although the page had said "indexed — ask away").
"""

from __future__ import annotations

import pytest

import rag.indexing.indexer
from rag.index.store import IndexStore
from rag.indexing.uploads import ingest

from ..support.files import write
from ..support.locks import run_until_done_or_waiting, watch_lock_waits


@pytest.mark.parametrize("earlier_uploads", [True, False], ids=["upload folder in use", "first upload"])
def test_an_upload_made_while_rag_index_reads_the_corpus_stays_indexed(tmp_path, indexer, monkeypatch,
                                                                        earlier_uploads):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    write(corpus / "a.txt", "The lighthouse stands on the northern cape.")
    expected = {"a.txt", "uploads/kilns.txt"}
    if earlier_uploads:
        ingest("looms.txt", b"A loom weaves thread into cloth.", corpus_dir=corpus, index_dir=index_dir,
               indexer=indexer)
        expected.add("uploads/looms.txt")
    indexer.index_paths([corpus], index_dir)
    waits = watch_lock_waits(monkeypatch)
    uploads, real_load = [], rag.indexing.indexer.load_documents

    def upload() -> None:
        uploads.append(ingest("kilns.txt", b"A kiln fires clay at high heat.", corpus_dir=corpus,
                              index_dir=index_dir, indexer=indexer))

    def read_then_upload(*args, **kwargs):
        loaded = real_load(*args, **kwargs)
        # The web page stores an upload now: it either runs to the end or waits for rag index.
        threads.append(run_until_done_or_waiting(upload, waits))
        return loaded

    threads: list = []
    monkeypatch.setattr(rag.indexing.indexer, "load_documents", read_then_upload)
    report = indexer.index_paths([corpus], index_dir)
    threads[0].join()
    monkeypatch.undo()

    assert uploads and uploads[0].status().startswith("uploads/kilns.txt: indexed")
    assert report.removed == []
    assert set(IndexStore(index_dir).read_manifest().documents) == expected
    again = indexer.index_paths([corpus], index_dir)
    assert not again.changed and sorted(again.unchanged) == sorted(expected)
