"""Storage and search backends (see rag.backends.base for the protocol), chosen by name.

`BACKENDS` maps a name to its class: `local` takes the index directory, `milvus` a
`MilvusSettings` (rag.backends.milvus; pymilvus is imported only when it is chosen).
"""

from __future__ import annotations

from pathlib import Path

from rag.backends.base import Backend, Filters, Key, SearchView, chunk_date
from rag.core.registry import Registry

__all__ = ["BACKENDS", "Backend", "Filters", "Key", "SearchView", "chunk_date", "local_backend"]

BACKENDS = Registry("backend", {
    "local": "rag.backends.local:LocalBackend",
    "milvus": "rag.backends.milvus:MilvusBackend",
})


def local_backend(index_dir: Path | str) -> Backend:
    """The index directory `index_dir` as a backend."""
    return BACKENDS.resolve("local")(index_dir)
