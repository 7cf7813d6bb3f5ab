"""Waiting for something that happens in another thread or process: polled against a deadline,
never a fixed sleep, so a fast machine passes fast and a slow one still passes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def until(condition: Callable[[], T], timeout: float = 5.0, what: str = "the condition", every: float = 0.1) -> T:
    """`condition()`'s first truthy value; AssertionError naming `what` if none comes within `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout} s")
        time.sleep(every)
