"""A real two-node Ray cluster on loopback addresses of this machine, for tests and the benchmark.

The head binds 127.0.0.2 and the worker node 127.0.0.3 (Linux answers on all of 127.0.0.0/8
without any set-up; without `--node-ip-address` Ray binds the machine's external interface).
`ray start --head` turns token authentication on, so the nodes and every driver get
RAY_AUTH_MODE=token and one random RAY_AUTH_TOKEN, passed in the environment only.

Stopping: `ray stop` ends every Ray process of the machine, other users' clusters included, so
the cluster is stopped by the ids of its own processes instead: each carries a random marker in
its environment (Ray's daemons and the workers they start inherit it), found through /proc.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rag.core.errors import RagError

HEAD_IP = "127.0.0.2"
WORKER_IP = "127.0.0.3"
HEAD_PORT = 6380
_MARKER = "RAG_RAY_CLUSTER"


class LoopbackCluster:
    """`with LoopbackCluster() as cluster:` a head and one worker node, `cpus` CPUs each;
    `cluster.env` is the environment a driver needs (RAY_ADDRESS, the auth token)."""

    def __init__(self, cpus: int = 1, port: int = HEAD_PORT):
        self.cpus = cpus
        self.port = port if _port_free(HEAD_IP, port) else _free_port(HEAD_IP)
        self.address = f"{HEAD_IP}:{self.port}"
        self.marker = secrets.token_hex(8)
        self.ray = str(Path(sys.executable).with_name("ray"))
        self.temp: Path | None = None
        self.env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(24),
                    "RAY_USAGE_STATS_ENABLED": "0", _MARKER: self.marker, "RAY_ADDRESS": self.address}

    def __enter__(self) -> "LoopbackCluster":
        # Short: Ray's unix socket paths under it must fit in 107 bytes.
        self.temp = Path(tempfile.mkdtemp(prefix="rgray", dir="/tmp"))
        try:
            self._start("--head", f"--port={self.port}", f"--node-ip-address={HEAD_IP}", "--include-dashboard=false")
            self._start(f"--address={self.address}", f"--node-ip-address={WORKER_IP}")
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _start(self, *args: str) -> None:
        command = [self.ray, "start", *args, f"--num-cpus={self.cpus}", f"--temp-dir={self.temp}",
                   "--disable-usage-stats"]
        env = {k: v for k, v in self.env.items() if k != "RAY_ADDRESS"}
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise RagError(f"`ray start {args[0]}` failed: {' | '.join(tail)}")

    def pids(self) -> list[int]:
        """Every live process of this cluster: daemons, agents, workers, actors. Found by the
        marker in their environment, by files open under the cluster's temp dir (Ray's agents
        write their titles over the environment), and as descendants of either."""
        wanted = f"{_MARKER}={self.marker}".encode()
        temp = str(self.temp) if self.temp is not None else None
        parents: dict[int, int] = {}
        found: set[int] = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            pid = int(entry.name)
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if fields[0] == "Z":
                    continue
                parents[pid] = int(fields[1])
                if wanted in (entry / "environ").read_bytes().split(b"\0") or (temp and _uses(entry, temp)):
                    found.add(pid)
            except (OSError, IndexError, ValueError):
                continue
        grew = True
        while grew:
            children = {pid for pid, parent in parents.items() if parent in found} - found
            found |= children
            grew = bool(children)
        return sorted(found)

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM to each of the cluster's processes, SIGKILL to those still there after `grace`."""
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + wait
            while self.pids() and time.monotonic() < deadline:
                time.sleep(0.2)
            if not self.pids():
                break
        if self.temp is not None:
            shutil.rmtree(self.temp, ignore_errors=True)


def _uses(proc: Path, prefix: str) -> bool:
    """Whether the process has a file open (or its working directory) under `prefix`."""
    try:
        paths = [proc / "cwd", *(proc / "fd").iterdir()]
    except OSError:
        return False
    for path in paths:
        try:
            if os.readlink(path).startswith(prefix + "/"):
                return True
        except OSError:  # closed since it was listed
            continue
    return False


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is free
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]
