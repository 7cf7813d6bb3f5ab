"""Run a function in a child process that is killed when a call overruns its deadline, and
whose memory is capped.

Parsing a file can take minutes (a small PDF whose compressed content streams expand to
millions of text operators), and neither a thread nor pypdf can be interrupted; checking the clock
between pages cannot stop one page that never ends. A process can be killed at any moment.

Memory is bounded too: a 500 KB Word file can hold a few hundred MB of XML, and parsing that
takes gigabytes. The child caps its own address space (RLIMIT_AS) before it parses, so an
allocation past the cap fails inside the child and the call is refused, never the machine
swapping. After any failed call, or once the child has grown past a quarter of its cap, it is
replaced, so whatever a bad file took (memory, a parser's state) goes back to the system.

Replacing a child must be cheap, since a corpus can hold many bad files: a fresh interpreter
takes half a second to import the parsers. So one template process is started as a fresh
interpreter (`python -c ...`; not a fork of the caller, which would copy the locks of its threads
— PyTorch, the web server — in whatever state they were, nor a `multiprocessing` spawn, which
would re-run the caller's main script). It imports the parsers, never parses, has one thread,
and forks a child for the caller on request, in about a millisecond. The caller hands it the
child's two pipes over a Unix socket; requests and replies are pickles framed by their length.

A long call (the OCR of a 500-page scan) tells the caller how it is going: what the function
passes to `report` reaches the caller's `on_event` while the call runs, as frames of their own
before the reply.
"""

from __future__ import annotations

import atexit
import os
import pickle
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_HEADER = struct.Struct(">Q")
_NUMBER = struct.Struct(">q")
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


@dataclass
class _Child:
    pid: int
    requests: int  # the write end of its request pipe
    replies: int  # the read end of its reply pipe
    limit: int | None


# In a child: sends what `report` is given to the caller; in the caller, parsing in-process: the
# caller's own `on_event`. None: nobody listens.
_sink: Callable[[Any], None] | None = None


def report(event: Any) -> None:
    """Tell the caller of the running call something (a picklable record), before it returns."""
    if _sink is not None:
        _sink(event)


def listening(on_event: Callable[[Any], None] | None) -> Callable[[Any], None] | None:
    """Route `report` to `on_event` in this process (a call made without a child); returns the
    previous listener, to be restored after the call."""
    global _sink
    previous, _sink = _sink, on_event
    return previous


class Worker:
    """A template process started on first use, and one child forked from it at a time, replaced
    after a failed call, a crash, a timeout, or when it has grown too big."""

    def __init__(self, preload: tuple[str, ...] = ()) -> None:
        self._preload = preload  # modules the template imports before it says it is ready
        self._lock = threading.Lock()
        self._template: subprocess.Popen | None = None
        self._control: socket.socket | None = None
        self._child: _Child | None = None
        self._peak = 0  # the largest resident size any child reached, bytes
        atexit.register(self.close)

    @property
    def peak_memory(self) -> int:
        """The most memory (resident bytes) any child of this worker has held so far."""
        child = self._child
        return max(self._peak, _status_bytes(child.pid, "VmHWM") if child is not None else 0)

    def memory(self) -> int:
        """The resident bytes of the child now; 0 when none is running."""
        child = self._child
        return _status_bytes(child.pid, "VmRSS") if child is not None else 0

    def run(self, func: Callable[..., Any], args: tuple, timeout: float, memory_limit: int | None = None,
            on_event: Callable[[Any], float | None] | None = None) -> Any:
        """`func(*args)` in the child, its address space capped at `memory_limit` bytes (None: no
        cap); its exception is re-raised here, MemoryLimitExceeded when it ran out of memory. What
        it `report`s is handed to `on_event` as it comes; `on_event` may return seconds by which to
        extend the deadline (OCR, once it starts, has a time limit of its own on top)."""
        request = pickle.dumps((func, args), protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            child = self._child
            if child is None or child.limit != memory_limit or not _alive(child.pid):
                self._end_child()
                child = self._child = self._fork(memory_limit)
            try:
                _write_all(child.requests, _HEADER.pack(len(request)) + request)
                deadline = time.monotonic() + timeout
                while True:
                    ok, value = pickle.loads(_read_frame(child.replies, deadline))
                    if ok is not None:
                        break
                    extra = on_event(value) if on_event is not None else None
                    if extra:  # the caller grants more time for what the call has started
                        deadline += extra
            except TimeoutError:
                self._end_child()
                raise DeadlineExceeded(timeout) from None
            except (OSError, EOFError, pickle.UnpicklingError):
                peak = self._end_child()
                if memory_limit is not None and peak >= _NEAR_CAP * memory_limit:
                    raise MemoryLimitExceeded(memory_limit) from None
                raise WorkerFailed("the parser process stopped during the call") from None
            if not ok or self.memory() > (_RESTART_SHARE * memory_limit if memory_limit else _RESTART_UNCAPPED):
                self._end_child()
        if ok:
            return value
        raise value

    def release(self) -> None:
        """End the child but keep the template: what the last calls left in the child's memory (a
        parsed corpus) goes back to the system before the caller does something long, and the next
        call forks a fresh child in a millisecond."""
        with self._lock:
            self._end_child()

    def close(self) -> None:
        """Stop the child and the template (the next call starts them again)."""
        self._end_child()
        self._stop_template()

    def _fork(self, memory_limit: int | None) -> _Child:
        for attempt in (1, 2):  # a template that has died is started again, once
            if self._template is None or self._template.poll() is not None:
                self._start_template()
            assert self._control is not None
            requests_r, requests_w = os.pipe()
            replies_r, replies_w = os.pipe()
            try:
                socket.send_fds(self._control, [b"f" + _NUMBER.pack(memory_limit or 0)], [requests_r, replies_w])
                pid = _NUMBER.unpack(_read_exactly(self._control.fileno(), _NUMBER.size,
                                                   time.monotonic() + _START_SECONDS))[0]
            except (OSError, EOFError, TimeoutError) as exc:
                for fd in (requests_w, replies_r):
                    os.close(fd)
                self._stop_template()
                if attempt == 2:
                    raise WorkerUnavailable(f"cannot start a parser process: {exc}") from None
                continue
            finally:
                os.close(requests_r)
                os.close(replies_w)
            return _Child(pid, requests_w, replies_r, memory_limit)
        raise AssertionError("unreachable")

    def _end_child(self) -> int:
        """Kill the child; returns the most memory it held (resident bytes, 0 if unknown)."""
        child, self._child = self._child, None
        if child is None:
            return 0
        peak = _status_bytes(child.pid, "VmHWM")
        try:
            os.kill(child.pid, signal.SIGKILL)
        except OSError:
            pass
        for fd in (child.requests, child.replies):
            os.close(fd)
        if self._control is not None:
            try:  # the template reaps it and reports its peak, which a child killed mid-growth has no other way to tell
                self._control.sendall(b"w" + _NUMBER.pack(child.pid))
                reaped = _NUMBER.unpack(_read_exactly(self._control.fileno(), _NUMBER.size, time.monotonic() + 10))[0]
                peak = max(peak, reaped)
            except (OSError, EOFError, TimeoutError):
                self._stop_template()
        self._peak = max(self._peak, peak)
        return peak

    def _start_template(self) -> None:
        self._stop_template()
        if not hasattr(os, "fork") or not hasattr(socket, "send_fds"):
            raise WorkerUnavailable("this system cannot fork a parser process")
        package_root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        code = f"from rag.ingest.parse_worker import _template; _template({theirs.fileno()}, {list(self._preload)!r})"
        self._control = ours  # closed with the template, whether or not it starts
        try:
            self._template = subprocess.Popen(
                [sys.executable, "-c", code], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, env=env, pass_fds=(theirs.fileno(),),
                start_new_session=True)  # Ctrl-C in a terminal goes to the parent, which ends the children
            if _read_exactly(ours.fileno(), 5, time.monotonic() + _START_SECONDS) != b"ready":
                raise EOFError("no greeting")
        except (OSError, EOFError, TimeoutError) as exc:
            self._stop_template()
            raise WorkerUnavailable(f"cannot start a parser process ({sys.executable}): {exc}") from None
        finally:
            theirs.close()

    def _stop_template(self) -> None:
        template, control = self._template, self._control
        self._template = self._control = None
        if control is not None:
            control.close()
        if template is not None:
            if template.poll() is None:
                template.kill()
            template.wait()


def _alive(pid: int) -> bool:
    """False when the child has ended (where /proc tells; elsewhere a call finds out)."""
    return _status_bytes(pid, "VmRSS") > 0 or not os.path.exists("/proc/self/status")


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


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_frame(fd: int, deadline: float) -> bytes:
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


def _template(control_fd: int, preload: list[str]) -> None:
    """The template's loop: fork a child for each request, reap the ones the caller ended, and
    end when the caller's socket closes."""
    import importlib

    control = socket.socket(fileno=control_fd)
    for name in preload:
        try:
            importlib.import_module(name)
        except ImportError:
            pass  # the call that needs it will say so
    control.sendall(b"ready")
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 1 + _NUMBER.size, 2)
        except OSError:
            return
        if len(message) < 1 + _NUMBER.size:
            return
        number = _NUMBER.unpack(message[1:])[0]
        if message[:1] == b"f" and len(fds) == 2:
            pid = os.fork()
            if pid == 0:
                die_with_parent()  # the template ends when the caller does: so does a call under way
                control.close()
                code = 1
                try:
                    _serve(fds[0], fds[1], number or None)
                    code = 0
                finally:
                    os._exit(code)
            for fd in fds:
                os.close(fd)
            control.sendall(_NUMBER.pack(pid))
        elif message[:1] == b"w":
            try:
                _, _, usage = os.wait4(number, 0)
                # ru_maxrss is in kilobytes on Linux, bytes on macOS.
                peak = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
            except ChildProcessError:
                peak = 0
            control.sendall(_NUMBER.pack(peak))
        else:
            for fd in fds:
                os.close(fd)


def die_with_parent() -> None:
    """Be killed when the process that started this one dies (Linux; elsewhere a no-op): a
    caller killed mid-call leaves no parse, and no program a parse started, running on."""
    if sys.platform != "linux":
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort: the deadlines still bound the work
        pass


def _serve(requests: int, replies: int, memory_limit: int | None) -> None:
    """A child's loop: one request at a time until the caller closes its pipe."""
    global _sink
    if memory_limit is not None:
        _cap_memory(memory_limit)
    channel_in = os.fdopen(requests, "rb")

    def send(event: Any) -> None:
        payload = pickle.dumps((None, event), protocol=pickle.HIGHEST_PROTOCOL)
        _write_all(replies, _HEADER.pack(len(payload)) + payload)

    _sink = send
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
        _write_all(replies, _HEADER.pack(len(payload)) + payload)


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
