"""Storage and search backends (see rag.backends.base for the protocol)."""

from __future__ import annotations

from pathlib import Path

from rag.backends.base import Backend, Filters, Key, SearchView, chunk_date
from rag.core.config import Config

__all__ = ["Backend", "Filters", "Key", "SearchView", "chunk_date", "open_backend"]


def open_backend(config: Config, index_dir: Path | str | None = None) -> Backend:
    """The backend `config.backend` names; `index_dir` overrides the local index directory."""
    if config.backend == "milvus":
        from rag.backends.milvus import MilvusBackend  # pymilvus is an extra: imported only when configured

        return MilvusBackend(config)
    from rag.backends.local import LocalBackend

    return LocalBackend(index_dir or config.index_dir)
