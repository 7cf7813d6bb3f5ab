"""Watching folders: which changes start work, how bursts become batches, and what a watch does
when its folder goes away or it is asked to stop."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from rag.indexing.indexer import Indexer, IndexerSettings, IndexReport
from rag.indexing.watch import Batch, ChangeFilter, FolderWatch, WatchSettings
from tests.support.files import write

from ..support.waiting import until

FAST = WatchSettings(debounce_ms=400, quiet_ms=100)


class Watching:
    """A FolderWatch over `roots` in a thread, its batches kept."""

    def __init__(self, roots, sync, settings=FAST, ignore=()):
        self.batches: list[Batch] = []
        self.watch = FolderWatch(roots, sync, self.batches.append, settings=settings, ignore=ignore)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.watch.run, args=(self.stop,), daemon=True)

    def __enter__(self):
        self.thread.start()
        until(lambda: self.batches, 60, "the first sync")
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(10)
        assert not self.thread.is_alive(), "the watch did not stop"

    def lines(self) -> list[str]:
        return [line for b in self.batches for line in b.lines()]


@pytest.fixture
def indexer(embedder, tmp_path):
    return Indexer(IndexerSettings(corpus_dir=tmp_path / "corpus"), embedder)


def indexed(indexer: Indexer, index_dir: Path) -> set[str]:
    return {d.id for d in indexer.list_documents(index_dir)}


def test_editor_temporaries_hidden_files_and_the_index_start_no_work(tmp_path):
    root = tmp_path / "docs"
    index = root / "idx"
    (root / "sub").mkdir(parents=True)
    keep = ChangeFilter([root], ignore=[index])
    for name in ("notes.txt.swp", ".notes.txt.swp", "notes.txt~", "report.pdf.part", "~$report.docx", "#notes.md#",
                 ".#notes.md", "4913", ".hidden.txt", "uploads/.report.pdf.part", "uploads/.old.txt.removing",
                 ".git/HEAD", "idx/CURRENT", "clip.mp4", "sub/.cache/page.html"):
        write(root / name, "x")
        assert not keep(None, str(root / name)), name
    for name in ("notes.txt", "sub/report.md", "page.HTML"):
        write(root / name, "x")
        assert keep(None, str(root / name)), name
    assert keep(None, str(root / "sub"))  # a folder moved in
    assert keep(None, str(root / "gone-folder.v2"))  # a folder moved out: no longer there to look at
    assert not keep(None, str(tmp_path / "elsewhere.txt"))


def test_an_index_kept_inside_a_watched_folder_is_never_watched(indexer, tmp_path):
    root = tmp_path / "docs"
    write(root / "a.txt", "Alpha.")
    indexer.index_paths([root], root / "kept-index")
    keep = ChangeFilter([root])  # not told about it: found by its ledger
    assert not keep(None, str(root / "kept-index" / "CURRENT"))
    assert keep(None, str(root / "a.txt"))


def test_each_change_is_indexed_and_a_rename_moves_the_document(indexer, tmp_path):
    root, index_dir = tmp_path / "docs", tmp_path / "index"
    write(root / "a.txt", "The lighthouse keeper is Omari Juma.")
    with Watching([root], lambda: indexer.index_paths([root], index_dir)):
        write(root / "b.txt", "The ferry leaves at noon from Stone Town.")
        until(lambda: indexed(indexer, index_dir) == {"a.txt", "b.txt"}, what="the added file")
        (root / "b.txt").rename(root / "ferry.txt")
        until(lambda: indexed(indexer, index_dir) == {"a.txt", "ferry.txt"}, what="the rename")
        (root / "a.txt").unlink()
        until(lambda: indexed(indexer, index_dir) == {"ferry.txt"}, what="the deletion")


def test_a_burst_of_fifty_files_becomes_a_few_syncs(indexer, tmp_path):
    root, index_dir = tmp_path / "docs", tmp_path / "index"
    write(root / "first.txt", "The first note.")
    with Watching([root], lambda: indexer.index_paths([root], index_dir)) as w:
        before = len(w.batches)
        staging = tmp_path / "staging"
        for i in range(50):
            write(staging / f"note-{i:02}.txt", f"Note number {i} says the tide turns at {i} o'clock.")
        shutil.copytree(staging, root / "notes")  # as `cp -r` does, file after file
        until(lambda: len(indexed(indexer, index_dir)) == 51, 15, what="all fifty files indexed")
        time.sleep(0.5)  # nothing more comes after the burst
        syncs = len(w.batches) - before
    assert 1 <= syncs <= 3, w.lines()


def test_a_file_rewritten_again_and_again_is_synced_once_a_debounce_not_once_a_write(indexer, tmp_path):
    root, index_dir = tmp_path / "docs", tmp_path / "index"
    write(root / "live.txt", "Reading 0.")
    settings = WatchSettings(debounce_ms=600, quiet_ms=100)
    with Watching([root], lambda: indexer.index_paths([root], index_dir), settings) as w:
        before = len(w.batches)
        for i in range(1, 31):  # 1.5 s of writes, one every 50 ms: each step of the watcher sees one
            write(root / "live.txt", f"Reading {i}.")
            time.sleep(0.05)
        # The last write is indexed once the folder is quiet, and nothing more comes after it.
        until(lambda: any("live.txt" in line for b in w.batches[before:] for line in b.lines()), 10,
              what="the rewritten file synced")
        time.sleep(1.0)
        syncs = len(w.batches) - before
    assert 1 <= syncs <= 4, w.lines()  # 1.5 s at one sync per 0.6 s, and the last writes after it


def test_a_bad_file_is_one_line_once_and_the_watch_goes_on(indexer, tmp_path):
    root, index_dir = tmp_path / "docs", tmp_path / "index"
    write(root / "a.txt", "Alpha.")
    with Watching([root], lambda: indexer.index_paths([root], index_dir)) as w:
        (root / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
        until(lambda: any("broken.pdf" in line for line in w.lines()), what="the bad file's line")
        write(root / "b.txt", "Beta.")
        until(lambda: "b.txt" in indexed(indexer, index_dir), what="the next file")
    about_it = [line for line in w.lines() if "broken.pdf" in line]
    assert len(about_it) == 1 and "skipped" in about_it[0], w.lines()


def test_a_watched_folder_that_goes_away_keeps_its_documents_until_it_returns(indexer, tmp_path):
    root, index_dir = tmp_path / "docs", tmp_path / "index"
    write(root / "a.txt", "Alpha.")
    with Watching([root], lambda: indexer.index_paths([root], index_dir)) as w:
        shutil.rmtree(root)
        until(lambda: any("is gone" in line for line in w.lines()), what="the folder's line")
        assert indexed(indexer, index_dir) == {"a.txt"}
        write(root / "c.txt", "Gamma.")
        until(lambda: indexed(indexer, index_dir) == {"c.txt"}, what="the folder's return")
    assert sum("is gone" in line for line in w.lines()) == 1


def test_stopping_lets_the_sync_under_way_finish(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    second, release, finished = threading.Event(), threading.Event(), []

    def slow_sync() -> IndexReport:
        if not first_done:
            first_done.append(True)
            return IndexReport()
        second.set()
        release.wait(10)
        finished.append(True)
        return IndexReport()

    first_done: list[bool] = []
    with Watching([root], slow_sync) as w:
        write(root / "a.txt", "Alpha.")
        until(second.is_set, what="a second sync under way")
        w.stop.set()
        threading.Timer(0.3, release.set).start()
    assert finished == [True]  # it ran to its end before the watch stopped
    assert w.watch.batches == 2


def test_a_batch_line_says_what_changed_and_names_a_few(tmp_path):
    report = IndexReport(added=[f"n{i}.txt" for i in range(5)], removed=["old.txt"], n_chunks=1, embedded_chunks=1,
                         seconds=0.25)
    line = Batch(report, at=0).lines()[-1]
    assert "added 5 (n0.txt, n1.txt, n2.txt, …); removed old.txt" in line
    assert "(1 chunk, 1 embedded, 0.2 s)" in line or "(1 chunk, 1 embedded, 0.3 s)" in line
    assert "no change" in Batch(IndexReport(), at=0).lines()[-1]


def test_watching_a_file_instead_of_a_folder_is_refused(tmp_path):
    from rag.core.errors import RagError

    with pytest.raises(RagError, match="not a directory"):
        FolderWatch([write(tmp_path / "a.txt", "x")], IndexReport, print)


def test_a_failing_sync_is_one_line_and_the_next_change_syncs_again(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    calls: list[int] = []

    def sync() -> IndexReport:
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device", str(tmp_path / "index"))
        return IndexReport()

    with Watching([root], sync) as w:
        write(root / "a.txt", "Alpha.")
        until(lambda: len(calls) == 2, what="the failing sync")
        write(root / "b.txt", "Beta.")
        until(lambda: len(calls) == 3, what="the next sync")
    failed = [line for line in w.lines() if "not updated" in line]
    assert len(failed) == 1 and "No space left on device" in failed[0], w.lines()
