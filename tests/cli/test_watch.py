"""`rag index --watch` as a user runs it: a separate process watching a folder while files are
added, edited, renamed and deleted, each change searchable (or gone) within 5 seconds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from rag.backends import local_backend
from rag.retrieval.retriever import Retriever
from tests.support.cli import assert_one_clear_error, run
from tests.support.files import write

from ..support.waiting import until

WITHIN = 5.0  # seconds from a change on disk to the index answering with it


class WatchProcess:
    """`rag index --index INDEX --watch FOLDER` in its own process, its output lines kept as they come."""

    def __init__(self, cwd: Path, folder: str, index: str):
        clean = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
        env = {**clean, "HF_HUB_OFFLINE": "1", "RAG_WATCH_DEBOUNCE_MS": "500", "RAG_WATCH_QUIET_MS": "100"}
        self.proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "index", "--index", index, "--watch", folder],
                                     cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(s, kept), daemon=True)
                         for s, kept in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for reader in self._readers:
            reader.start()

    def _read(self, stream, kept: list[str]) -> None:
        for line in stream:
            kept.append(line.rstrip("\n"))

    def wait_for_line(self, words: str, timeout: float) -> str:
        return until(lambda: next((line for line in self.out if words in line), None), timeout,
                     f"a line saying {words!r} (stdout {self.out}, stderr {self.err})")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(30)
        for reader in self._readers:
            reader.join(5)
        return code


@pytest.fixture(scope="module")
def watching(tmp_path_factory):
    """One watching process for the module (its model takes seconds to load); the last test stops it."""
    root = tmp_path_factory.mktemp("watch")
    docs = root / "docs"
    write(docs / "keeper.txt", "The Zanzibar lighthouse keeper is named Omari Juma.")
    process = WatchProcess(root, "docs", "index")
    try:
        process.wait_for_line("added keeper.txt", 120)  # the first sync loads the model
        process.wait_for_line("watching docs", 30)
        yield docs, root / "index", process
    finally:
        process.stop()


def catalogue(index_dir: Path) -> dict[str, dict]:
    """The indexed documents as the live version lists them (cheap enough to poll)."""
    return local_backend(index_dir).read_manifest().documents


def best_passage(index_dir: Path, embedder, question: str):
    """The best passage, from a retriever opened fresh (as `rag search` is)."""
    return Retriever.load(index_dir, embedder=embedder).search(question, k=1)[0]


def test_added_edited_renamed_and_deleted_files_are_searchable_within_seconds(watching, embedder):
    docs, index_dir, _ = watching
    ferry = "When does the ferry to Pemba leave?"

    write(docs / "ferry.txt", "The ferry to Pemba leaves at noon from the Stone Town harbour.")
    until(lambda: "ferry.txt" in catalogue(index_dir), WITHIN, "added file indexed")
    assert best_passage(index_dir, embedder, ferry).doc_id == "ferry.txt"

    before = catalogue(index_dir)["ferry.txt"]["hash"]
    write(docs / "ferry.txt", "The ferry to Pemba was cancelled; a dhow now leaves at dawn from Mkoani.")
    until(lambda: catalogue(index_dir)["ferry.txt"]["hash"] != before, WITHIN, "edit indexed")
    assert "dhow" in best_passage(index_dir, embedder, ferry).text

    (docs / "ferry.txt").rename(docs / "pemba-crossing.txt")
    until(lambda: set(catalogue(index_dir)) == {"keeper.txt", "pemba-crossing.txt"}, WITHIN, "rename indexed")
    assert best_passage(index_dir, embedder, ferry).doc_id == "pemba-crossing.txt"

    (docs / "pemba-crossing.txt").unlink()
    until(lambda: set(catalogue(index_dir)) == {"keeper.txt"}, WITHIN, "deletion indexed")
    assert best_passage(index_dir, embedder, ferry).doc_id == "keeper.txt"


def test_a_broken_file_is_one_line_and_sigterm_stops_with_the_index_readable(watching, embedder):
    docs, index_dir, process = watching
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a PDF")
    process.wait_for_line("broken.pdf", WITHIN)
    write(docs / "tide.txt", "The tide turns at four in the afternoon.")
    process.wait_for_line("added tide.txt", WITHIN)
    assert process.stop() == 0
    assert sum("broken.pdf" in line for line in process.out) == 1, process.out
    assert not any("Traceback" in line for line in process.err), process.err
    assert {d.id for d in Retriever.load(index_dir, embedder=embedder).list_documents()} == {"keeper.txt", "tide.txt"}
    assert not [p.name for p in index_dir.iterdir() if p.name.startswith("tmp-")]  # nothing half-written


def test_watching_what_cannot_be_watched_is_one_clear_line(capsys, tmp_path):
    from rag.generators.local_server import free_port

    code, _, err = run(capsys, "serve", "--index", str(tmp_path / "index"), "--port", str(free_port()),
                       "--watch", str(tmp_path / "missing"))
    assert_one_clear_error(code, err, "missing is not a directory")
    write(tmp_path / "docs" / "a.txt", "Alpha.")
    code, _, err = run(capsys, "index", "--index", str(tmp_path / "index"), "--watch", "--rebuild",
                       str(tmp_path / "docs"))
    assert_one_clear_error(code, err, "--watch does not combine with --rebuild")
