"""`python -m bench --only ray`: `rag index` passages/s in one process, on a local Ray with two actors,
and on a real two-node Ray cluster on loopback addresses (bench.ray_cluster).

Each row is the whole command, timed from the outside: process start, model loads (once per
actor on Ray), chunking, embedding and writing the index. That is what a user waits for, and on
a small corpus Ray's fixed costs (starting Ray, an actor and its model per CPU) dominate it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import Table
from rag.core.errors import RagError

WORDS = ("river", "valley", "survey", "council", "bridge", "school", "harvest", "market", "rail", "station",
         "museum", "archive", "treaty", "census", "drought", "festival", "harbour", "mine", "forest", "lake",
         "mountain", "village", "province", "engineer", "teacher", "farmer", "doctor", "mayor", "minister")


def synthetic_corpus(path: Path, n_docs: int, seed: int = 0) -> Path:
    """`n_docs` documents of 8-12 sentences (one or two passages each), the same for a given seed."""
    rng = np.random.default_rng(seed)
    with path.open("w", encoding="utf-8") as f:
        for i in range(n_docs):
            sentences = []
            for _ in range(int(rng.integers(8, 13))):
                words = [WORDS[j] for j in rng.integers(0, len(WORDS), int(rng.integers(6, 12)))]
                sentences.append(" ".join(words).capitalize() + f" in {1900 + int(rng.integers(0, 120))}.")
            f.write(json.dumps({"id": f"syn-{i:05d}", "title": f"Report {i}", "text": " ".join(sentences)}) + "\n")
    return path


def _rag_index(corpus: Path, index: Path, extra: list[str], env: dict | None) -> tuple[int, float]:
    command = [str(Path(sys.executable).with_name("rag")), "index", str(corpus), "--index", str(index),
               "--rebuild", *extra]
    t = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - t
    if done.returncode != 0:
        raise RagError(f"`rag index {' '.join(extra)}` failed in the Ray benchmark: {done.stderr.strip()[-300:]}")
    embedded = re.search(r"\((\d+) embedded\)", done.stdout)
    return (int(embedded.group(1)) if embedded else 0), seconds


def bench_ray(corpus: Path | None, *, quick: bool):
    from bench.ray_cluster import LoopbackCluster

    rows = []
    with tempfile.TemporaryDirectory(prefix="rag-bench-ray-") as tmp:
        n_docs = 150 if quick else 600
        source = corpus or synthetic_corpus(Path(tmp) / "synthetic.jsonl", n_docs)
        runs = [("single process (torch, all cores)", [], None),
                ("Ray local, 2 actors (1 CPU each)", ["--ray", "local", "--ray-actors", "2"], None)]
        for label, extra, env in runs:
            n, seconds = _rag_index(source, Path(tmp) / f"index{len(rows)}", extra, env)
            rows.append([label, n, seconds, n / seconds])
            print(f"  {label}: {n} passages in {seconds:.1f}s", file=sys.stderr, flush=True)
        t = time.perf_counter()
        with LoopbackCluster(cpus=1) as cluster:
            started = time.perf_counter() - t
            n, seconds = _rag_index(source, Path(tmp) / "index-cluster", ["--ray", "auto"], cluster.env)
        label = "Ray cluster, 2 loopback nodes (1 CPU each)"
        rows.append([label, n, seconds, n / seconds])
        print(f"  {label}: {n} passages in {seconds:.1f}s (cluster start {started:.0f}s, not counted)",
              file=sys.stderr, flush=True)
    name = corpus.name if corpus else f"synthetic, {n_docs} documents"
    return Table(f"rag index on Ray ({name}; whole command, --rebuild)",
                 ["mode", "passages", "seconds", "passages/s"], rows,
                 details=[{"cluster_start_seconds": started}])
