"""Seeing a thread wait for a lock another holds, so a test can order two writers exactly."""

from __future__ import annotations

import fcntl
import threading
from types import SimpleNamespace


class LockWaits:
    """Stands in for `fcntl` in rag.safety.ownership: the directory locks work as before, and
    `waiting` is set as soon as any thread finds one held by someone else and starts to wait."""

    def __init__(self) -> None:
        self.waiting = threading.Event()

    def flock(self, fd, operation: int) -> None:
        if operation == fcntl.LOCK_EX:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                self.waiting.set()
        fcntl.flock(fd, operation)


def watch_lock_waits(monkeypatch) -> LockWaits:
    import rag.safety.ownership

    waits = LockWaits()
    monkeypatch.setattr(rag.safety.ownership, "fcntl", SimpleNamespace(
        flock=waits.flock, LOCK_EX=fcntl.LOCK_EX, LOCK_UN=fcntl.LOCK_UN, LOCK_NB=fcntl.LOCK_NB))
    return waits


def run_until_done_or_waiting(target, waits: LockWaits, timeout: float = 60.0) -> threading.Thread:
    """Start `target` in a thread; return once it has finished or is waiting for a lock."""
    done = threading.Event()

    def run() -> None:
        try:
            target()
        finally:
            done.set()

    thread = threading.Thread(target=run)
    thread.start()
    for _ in range(int(timeout / 0.01)):
        if done.is_set() or waits.waiting.is_set():
            return thread
        done.wait(0.01)
    raise AssertionError("the thread neither finished nor waited for a lock")
