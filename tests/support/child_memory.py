"""Functions a test runs in the parser process (importable there, unlike a test's own)."""

from __future__ import annotations

import os

_KEPT: list[bytearray] = []


def hold(megabytes: int) -> int:
    """Keep `megabytes` of memory in this process after returning; its pid."""
    block = bytearray(megabytes * 2**20)
    block[::4096] = b"x" * len(block[::4096])  # touch every page, so it counts as resident
    _KEPT.append(block)
    return os.getpid()


def pid() -> int:
    return os.getpid()
