"""A process killed (SIGKILL) at any moment while indexing or merging leaves the previous index loadable."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from rag.index.store import IndexStore
from rag.safety.ownership import OwnedDir

from ..conftest import ROOT
from ..support.crash_worker import WINDOW

TRIALS = 24


def kill_at_random_moments(index_dir, mode: str, trials: int, check) -> int:
    """Start the worker, kill it at a random moment, check the index; returns versions published."""
    rng = random.Random(7)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    published = 0
    for trial in range(trials):
        proc = subprocess.Popen([sys.executable, "-m", "tests.support.crash_worker", str(index_dir), mode], cwd=ROOT,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        proc.stdout.readline()  # imports done and one version published: now it writes non-stop
        t = time.monotonic()
        proc.stdout.readline()
        # Kill within about three publish intervals, measured now: on a loaded machine a fixed
        # window would mostly land before the next publish starts.
        time.sleep(rng.uniform(0.0, 3 * (time.monotonic() - t)))
        proc.send_signal(signal.SIGKILL)
        published += 2 + len(proc.stdout.read().split())
        proc.wait()
        check(trial, IndexStore(index_dir).load())  # load raises if anything is broken
    return published


@pytest.mark.slow
def test_killing_the_indexer_at_random_moments_never_leaves_a_broken_or_mixed_index(tmp_path):
    def check(trial, snapshot):
        docs = {c.doc_id for c in snapshot.chunks}
        generations = {c.text.rsplit("generation ", 1)[1].split(".")[0] for c in snapshot.chunks}
        assert len(generations) == 1, f"trial {trial}: chunks from several versions {generations}"
        n = int(generations.pop())
        assert docs == {f"doc{i}.txt" for i in range(n + 1)}, f"trial {trial}: documents do not match version {n}"
        assert set(snapshot.manifest.documents) == docs
        assert len(snapshot.vectors) == len(snapshot.chunks) == len(snapshot.vector_index) == len(snapshot.bm25)

    published = kill_at_random_moments(tmp_path / "index", "generations", TRIALS, check)
    assert published > 2 * TRIALS, "the kills should land while versions are being written"


@pytest.mark.slow
def test_killing_updates_and_merges_at_random_moments_leaves_one_whole_version(tmp_path):
    index_dir = tmp_path / "index"

    def check(trial, snapshot):
        docs = sorted(int(c.doc_id[3:-4]) for c in snapshot.chunks)
        for c in snapshot.chunks:
            assert f"window document {c.doc_id[3:-4]}." in c.text, f"trial {trial}: chunk {c.id} has foreign text"
        newest = max(docs)
        expected = set(range(max(0, newest - WINDOW + 1), newest + 1))
        assert set(docs) == expected, f"trial {trial}: documents {sorted(set(docs))} are no window"
        assert set(snapshot.manifest.documents) == {f"doc{i}.txt" for i in expected}
        n = len(snapshot.chunks)
        assert n == len(snapshot.vectors) == len(snapshot.vector_index) == len(snapshot.bm25) == snapshot.manifest.n_chunks
        # Every entry in the directory is one the ledger lists: a killed merge leaves nothing unowned.
        owned = set(OwnedDir(index_dir, "index").entries())
        on_disk = {p.name for p in index_dir.iterdir()} - {".rag-owned.json", ".rag-owned.json.tmp", ".rag-owned.lock"}
        assert on_disk <= owned, f"trial {trial}: unlisted entries {on_disk - owned}"

    published = kill_at_random_moments(index_dir, "window", TRIALS, check)
    assert published > 2 * TRIALS, "the kills should land while versions are being written"
    # Merged segments replace the ones they fold together, so far fewer segments than versions.
    assert len(IndexStore(index_dir).load().segments) < 6
