"""How many answers are computed at once, whoever asks: the page's queue and the HTTP API take
their turns from the same slots, so one cannot starve the other, and the machine's cores are
not shared among more answers than it can compute."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class AnswerSlots:
    """At most `size` answers computed at once, whoever asks: the page's queue and the API take
    their turns from the same slots, so the API cannot starve the page or the other way round."""

    def __init__(self, size: int):
        self.size = size
        self._slots = threading.BoundedSemaphore(size)
        self._busy = 0
        self._lock = threading.Lock()

    @property
    def busy(self) -> int:
        return self._busy

    @contextmanager
    def hold(self) -> Iterator[None]:
        self._slots.acquire()
        with self._lock:
            self._busy += 1
        try:
            yield
        finally:
            with self._lock:
                self._busy -= 1
            self._slots.release()
