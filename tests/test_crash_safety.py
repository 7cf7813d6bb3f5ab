"""A process killed (SIGKILL) at any moment while indexing leaves the previous index loadable."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

from rag.index_store import IndexStore

from .conftest import ROOT

TRIALS = 24


def test_killing_the_indexer_at_random_moments_never_leaves_a_broken_or_mixed_index(tmp_path):
    rng = random.Random(7)
    index_dir = tmp_path / "index"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    published = 0
    for trial in range(TRIALS):
        proc = subprocess.Popen([sys.executable, "-m", "tests.crash_worker", str(index_dir)], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        proc.stdout.readline()  # imports done and one version published: now it writes non-stop
        time.sleep(rng.uniform(0.0, 0.5))
        proc.send_signal(signal.SIGKILL)
        published += 1 + len(proc.stdout.read().split())
        proc.wait()

        snapshot = IndexStore(index_dir).load()  # raises if anything is broken
        docs = {c.doc_id for c in snapshot.chunks}
        generations = {c.text.rsplit("generation ", 1)[1].split(".")[0] for c in snapshot.chunks}
        assert len(generations) == 1, f"trial {trial}: chunks from several versions {generations}"
        n = int(generations.pop())
        assert docs == {f"doc{i}.txt" for i in range(n + 1)}, f"trial {trial}: documents do not match version {n}"
        assert set(snapshot.manifest.documents) == docs
        assert len(snapshot.vectors) == len(snapshot.chunks) == len(snapshot.vector_index) == len(snapshot.bm25)
    assert published > 2 * TRIALS, "the kills should land while versions are being written"
