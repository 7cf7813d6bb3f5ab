"""Reading .npy files from several threads at once.

numpy parses a .npy header with `ast.literal_eval`, and CPython 3.11 before 3.11.8 can raise
"SystemError: AST constructor recursion depth mismatch" when two threads do that at the same
time (a server refreshing its index while a reader opens one). Headers are tiny, so reading
them one at a time costs nothing measurable.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

_HEADER_LOCK = threading.Lock()


def load(path: Path | str, mmap_mode: str | None = None) -> np.ndarray:
    with _HEADER_LOCK:
        return np.load(path, mmap_mode=mmap_mode)
