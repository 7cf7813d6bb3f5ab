"""Run a function in a reusable child process that is killed when a call overruns its deadline.

Parsing a file can take minutes (a small PDF whose compressed content streams expand to
millions of text operators), and neither a thread nor pypdf can be interrupted; checking the clock
between pages cannot stop one page that never ends. A process can be killed at any moment.

The child is a fresh interpreter (`python -c ...`), not a `multiprocessing` spawn, which would
re-run the caller's main script in the child, and not a fork, which would copy the locks of the
parent's threads (PyTorch, the web server) in whatever state they were. Requests and replies are
pickles framed by their length over the child's stdin and stdout.
"""

from __future__ import annotations

import atexit
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

_HEADER = struct.Struct(">Q")
_START_SECONDS = 120.0  # starting Python and importing the parsers; not counted against a deadline


class DeadlineExceeded(Exception):
    """The call did not finish in time; the child was killed."""


class WorkerFailed(Exception):
    """The child died during a call (a crash, out of memory)."""


class WorkerUnavailable(WorkerFailed):
    """No child process could be started here."""


class Worker:
    """One child process, started on first use and replaced after a timeout or a crash."""

    def __init__(self, preload: tuple[str, ...] = ()) -> None:
        self._preload = preload  # modules imported before the child says it is ready
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        atexit.register(self.close)

    def run(self, func: Callable[..., Any], args: tuple, timeout: float) -> Any:
        """`func(*args)` in the child; its exception is re-raised here."""
        request = pickle.dumps((func, args), protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._start()
            process = self._process
            assert process is not None and process.stdin is not None and process.stdout is not None
            try:
                process.stdin.write(_HEADER.pack(len(request)) + request)
                process.stdin.flush()
                ok, value = pickle.loads(_read_frame(process.stdout, time.monotonic() + timeout))
            except TimeoutError:
                self.close()
                raise DeadlineExceeded(timeout) from None
            except (OSError, EOFError, pickle.UnpicklingError):
                self.close()
                raise WorkerFailed("the parser process stopped during the call") from None
        if ok:
            return value
        raise value

    def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass

    def _start(self) -> None:
        self.close()
        package_root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", f"from rag.ingest.parse_worker import _serve; _serve({list(self._preload)!r})"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                start_new_session=True)  # Ctrl-C in a terminal goes to the parent, which ends the child
            assert self._process.stdout is not None
            if _read_frame(self._process.stdout, time.monotonic() + _START_SECONDS) != b"ready":
                raise EOFError
        except (OSError, EOFError, TimeoutError) as exc:
            self.close()
            raise WorkerUnavailable(f"cannot start a parser process ({sys.executable}): {exc}") from None


def _read_frame(stream: BinaryIO, deadline: float) -> bytes:
    fd = stream.fileno()
    header = _read_exactly(fd, _HEADER.size, deadline)
    return _read_exactly(fd, _HEADER.unpack(header)[0], deadline)


def _read_exactly(fd: int, size: int, deadline: float) -> bytes:
    parts, got = [], 0
    while got < size:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError
        part = os.read(fd, min(size - got, 1 << 20))
        if not part:
            raise EOFError
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _serve(preload: list[str]) -> None:
    """The child's loop: one request at a time until stdin closes."""
    import importlib

    channel_in = os.fdopen(os.dup(0), "rb")
    channel_out = os.fdopen(os.dup(1), "wb")
    # Whatever a parser prints must not end up inside a reply.
    os.dup2(os.open(os.devnull, os.O_RDWR), 0)
    os.dup2(2, 1)

    def send(payload: bytes) -> None:
        channel_out.write(_HEADER.pack(len(payload)) + payload)
        channel_out.flush()

    for name in preload:
        try:
            importlib.import_module(name)
        except ImportError:
            pass  # the call that needs it will say so
    send(b"ready")
    while True:
        header = channel_in.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return
        func, args = pickle.loads(channel_in.read(_HEADER.unpack(header)[0]))
        try:
            reply = (True, func(*args))
        except Exception as exc:  # noqa: BLE001 - handed back to the caller, who decides
            reply = (False, exc)
        try:
            payload = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - an exception that cannot be pickled
            payload = pickle.dumps((False, RuntimeError(f"{type(exc).__name__}: {exc}")))
        send(payload)
