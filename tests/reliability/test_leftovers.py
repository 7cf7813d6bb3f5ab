"""A process killed (SIGKILL) mid-upload, mid-removal or during a first `rag index` leaves
nothing that outlives a restart: the next upload, removal or index run sweeps rag's own
leftovers (and only those), and says what really happened.

Before, the part file and the ledger entry of a killed upload stayed: the next upload of that
name said "replaced", an unchanged re-upload "(0 chunks)"; and a directory holding only the
ledger and lock of an interrupted first index was called "not an index directory".
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rag.index.store import IndexStore
from rag.indexing.uploads import ingest
from rag.safety.ownership import OwnedDir

from ..conftest import ROOT
from ..support.cli import run
from ..support.files import write
from ..support.upload_worker import DATA, NAME, indexer


def kill_at(moment: str, corpus: Path, index_dir: Path) -> None:
    """Run the worker to `moment` and kill it there, as `kill -9` or a power cut would."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.upload_worker", str(corpus), str(index_dir), moment],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
    finally:
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate()
    assert line.strip() == "stopped", err[-600:]


def uploads_folder(corpus: Path) -> list[str]:
    """What the upload folder holds besides the ledger's own files, and what its ledger lists."""
    root = corpus / "uploads"
    files = sorted(p.name for p in root.iterdir() if p.name not in (".rag-owned.json", ".rag-owned.lock"))
    return files + [f"listed:{n}" for n in sorted(OwnedDir(root, "uploads").entries())]


@pytest.mark.parametrize("moment", ["before-index", "after-index"])
def test_an_upload_killed_midway_is_uploaded_afresh_next_time(tmp_path, moment):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    kill_at(moment, corpus, index_dir)
    assert (corpus / "uploads" / f".{NAME}.part").exists()  # what the kill left

    again = ingest(NAME, DATA, corpus_dir=corpus, index_dir=index_dir, indexer=indexer(corpus))
    assert again.status() == f"uploads/{NAME}: indexed (1 chunk)"  # not "replaced", not "(0 chunks)"
    assert uploads_folder(corpus) == [NAME, f"listed:{NAME}"]


def test_rag_index_sweeps_a_killed_upload_and_keeps_the_users_files(tmp_path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    write(corpus / "a.txt", "The lighthouse stands on the northern cape.")
    write(corpus / "uploads" / ".mine.part", "a file of the user's that only looks like ours")
    write(corpus / "uploads" / "notes.txt", "The user's own notes.")
    kill_at("before-index", corpus, index_dir)

    report = indexer(corpus).index_paths([corpus], index_dir)
    assert sorted(report.added) == ["a.txt", "uploads/notes.txt"]
    assert uploads_folder(corpus) == [".mine.part", "notes.txt"]


def test_a_removal_killed_midway_is_completed_by_the_next_upload(tmp_path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    kill_at("removing", corpus, index_dir)
    assert (corpus / "uploads" / f".{NAME}.removing").exists()

    ingest("looms.txt", b"A loom weaves thread into cloth.", corpus_dir=corpus, index_dir=index_dir,
           indexer=indexer(corpus))
    assert uploads_folder(corpus) == ["looms.txt", "listed:looms.txt"]


def test_an_interrupted_first_index_leaves_no_index_yet_rather_than_a_foreign_folder(tmp_path, capsys):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    write(corpus / "a.txt", "The lighthouse stands on the northern cape.")
    kill_at("first-index", corpus, index_dir)
    assert any(p.name.startswith("tmp-") for p in index_dir.iterdir())  # a half-written first version

    code, _, err = run(capsys, "search", "lighthouse", "--index", str(index_dir))
    assert code == 1 and err.strip() == (f"rag: error: no index at {index_dir}; build one with "
                                         f"`rag index --index {index_dir}`")
    assert indexer(corpus).index_paths([corpus], index_dir).added == ["a.txt"]
    assert not [p.name for p in index_dir.iterdir() if p.name.startswith("tmp-")]
    assert set(IndexStore(index_dir).load().manifest.documents) == {"a.txt"}


def test_a_server_starting_sweeps_what_a_killed_upload_left(tmp_path, config):
    from rag.app.service import ChatService

    from ..support.crash_worker import HashEmbedder

    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    write(corpus / "a.txt", "The lighthouse stands on the northern cape.")
    write(corpus / "uploads" / ".mine.part", "a file of the user's that only looks like ours")
    indexer(corpus).index_paths([corpus], index_dir)
    kill_at("before-index", corpus, index_dir)
    assert (corpus / "uploads" / f".{NAME}.part").exists()

    served = config.replace(corpus_dir=corpus, index_dir=index_dir, embedding_model=HashEmbedder.name)
    ChatService(served.replace(read_only=True), embedder=HashEmbedder())
    assert (corpus / "uploads" / f".{NAME}.part").exists()  # a read-only server writes nothing
    ChatService(served, embedder=HashEmbedder())
    assert uploads_folder(corpus) == [".mine.part"]
