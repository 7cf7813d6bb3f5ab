"""Run a function in a reusable child process that is killed when a call overruns its deadline.

Parsing a file can take minutes (a small PDF whose compressed content streams expand to
millions of text operators), and neither a thread nor pypdf can be interrupted; checking the clock
between pages cannot stop one page that never ends. A process can be killed at any moment.

The child is a fresh interpreter (`python -c ...`), not a `multiprocessing` spawn, which would
re-run the caller's main script in the child, and not a fork, which would copy the locks of the
parent's threads (PyTorch, the web server) in whatever state they were. Requests and replies are
pickles framed by their length over the child's stdin and stdout.

Memory is bounded too: a 500 KB Word file can hold a few hundred MB of XML, and parsing that
takes gigabytes. The child caps its own address space (RLIMIT_AS) when it starts, so an
allocation past the cap fails inside the child and the call is refused, never the machine
swapping. After a failed call, or once the child has grown past a quarter of its cap, it is
replaced, so the memory a bad file took goes back to the system.
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
# A child resident above this share of its memory cap is replaced after the call: CPython and
# libxml2 keep freed memory for reuse, so one big file would otherwise pin it for good.
_RESTART_SHARE = 0.25
_RESTART_UNCAPPED = 256 * 2**20
# A failed call whose child came this close to its cap ran out of memory, whatever the parser
# made of the failed allocation (lxml, for one, reports it as a syntax error).
_NEAR_CAP = 0.9


class DeadlineExceeded(Exception):
    """The call did not finish in time; the child was killed."""


class WorkerFailed(Exception):
    """The child died during a call (a crash, out of memory)."""


class WorkerUnavailable(WorkerFailed):
    """No child process could be started here."""


class MemoryLimitExceeded(WorkerFailed):
    """The call needed more memory than the child may use; the child was replaced."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit  # bytes


class Worker:
    """One child process, started on first use and replaced after a failed call, a crash, or
    when it has grown too big."""

    def __init__(self, preload: tuple[str, ...] = ()) -> None:
        self._preload = preload  # modules imported before the child says it is ready
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._limit: int | None = None  # the running child's memory cap, bytes
        self._peak = 0  # the largest resident size any child reached, bytes
        atexit.register(self.close)

    @property
    def peak_memory(self) -> int:
        """The most memory (resident bytes) any child of this worker has held so far."""
        process = self._process
        return max(self._peak, _status_bytes(process.pid, "VmHWM") if process is not None else 0)

    def memory(self) -> int:
        """The resident bytes of the child now; 0 when none is running."""
        process = self._process
        return _status_bytes(process.pid, "VmRSS") if process is not None and process.poll() is None else 0

    def run(self, func: Callable[..., Any], args: tuple, timeout: float, memory_limit: int | None = None) -> Any:
        """`func(*args)` in the child, its address space capped at `memory_limit` bytes (None: no
        cap); its exception is re-raised here, MemoryLimitExceeded when it ran out of memory."""
        request = pickle.dumps((func, args), protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            if self._process is None or self._process.poll() is not None or self._limit != memory_limit:
                self._start(memory_limit)
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
                peak = self.close()
                if memory_limit is not None and peak >= _NEAR_CAP * memory_limit:
                    raise MemoryLimitExceeded(memory_limit) from None
                raise WorkerFailed("the parser process stopped during the call") from None
            if not ok:
                self.close()  # whatever a failure left behind (memory, a parser's state) goes with it
            elif self.memory() > (_RESTART_SHARE * memory_limit if memory_limit else _RESTART_UNCAPPED):
                self.close()
        if ok:
            return value
        raise value

    def close(self) -> int:
        """Stop the child; returns the most memory it held (resident bytes, 0 if unknown)."""
        process, self._process = self._process, None
        if process is None:
            return 0
        peak = _status_bytes(process.pid, "VmHWM")
        if process.poll() is None:
            process.kill()
        peak = max(peak, _reap(process))
        self._peak = max(self._peak, peak)
        for stream in (process.stdin, process.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        return peak

    def _start(self, memory_limit: int | None) -> None:
        self.close()
        package_root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        code = f"from rag.ingest.parse_worker import _serve; _serve({list(self._preload)!r}, {memory_limit!r})"
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", code],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                start_new_session=True)  # Ctrl-C in a terminal goes to the parent, which ends the child
            assert self._process.stdout is not None
            if _read_frame(self._process.stdout, time.monotonic() + _START_SECONDS) != b"ready":
                raise EOFError
            self._limit = memory_limit
        except (OSError, EOFError, TimeoutError) as exc:
            self.close()
            raise WorkerUnavailable(f"cannot start a parser process ({sys.executable}): {exc}") from None


def _status_bytes(pid: int, field: str) -> int:
    """A `Vm…` line of /proc/<pid>/status in bytes; 0 where there is none (not Linux, exited)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(field.encode() + b":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _reap(process: subprocess.Popen) -> int:
    """Wait for the ended child; returns its peak resident bytes where the system reports them."""
    if process.returncode is not None or not hasattr(os, "wait4"):
        process.wait()
        return 0
    try:
        _, status, usage = os.wait4(process.pid, 0)
    except ChildProcessError:  # already reaped
        process.wait()
        return 0
    process.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in kilobytes on Linux, bytes on macOS.
    return usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)


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


def _serve(preload: list[str], memory_limit: int | None = None) -> None:
    """The child's loop: one request at a time until stdin closes."""
    import importlib

    if memory_limit is not None:
        _cap_memory(memory_limit)
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
            reply = (False, MemoryLimitExceeded(memory_limit) if _out_of_memory(exc, memory_limit) else exc)
        del func, args
        try:
            payload = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - an exception that cannot be pickled
            payload = pickle.dumps((False, RuntimeError(f"{type(exc).__name__}: {exc}")))
        del reply
        send(payload)


def _cap_memory(limit: int) -> None:
    try:
        import resource
    except ImportError:  # not a POSIX system: the deadline still holds
        return
    # The address space, not the data segment: lxml and pypdf's zlib allocate through mmap too,
    # which RLIMIT_DATA does not always count. The parsers reserve little they do not use (the
    # child's whole address space is about 60 MB once they are imported).
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ValueError, OSError):
        pass


def _out_of_memory(exc: BaseException, limit: int | None) -> bool:
    if limit is None:
        return False
    seen: BaseException | None = exc
    for _ in range(10):  # the exception a parser raised, and the ones it was raised from
        if seen is None:
            break
        if isinstance(seen, MemoryError) or "memory allocation failed" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return _status_bytes(os.getpid(), "VmPeak") >= _NEAR_CAP * limit
