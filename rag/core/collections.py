"""Where a named document collection lives, and what may name one (no I/O here: the
collections themselves are `rag.app.collections.Collections`).

The default collection is the configured index (`index_dir`, or `milvus_collection` with the
Milvus backend). A named collection is a folder under `collections_dir` (default: `collections`
beside the index directory) holding its index (`index/`) and its uploads (`uploads/`); with
Milvus its chunks go to `<milvus_collection>__<name>`, `_` written `_u` and `-` written `_h`, so
no two names share a Milvus collection and none meets another's catalogue (`<...>_docs`).
"""

from __future__ import annotations

import re
from pathlib import Path

from rag.core.config import Config
from rag.core.errors import CollectionNameError, CollectionNotFoundError

DEFAULT_COLLECTION = "default"
INDEX_DIR = "index"  # a named collection's index, inside its folder
_NAME = re.compile(r"[a-z0-9_-]{1,64}")


def is_name(name: object) -> bool:
    return isinstance(name, str) and bool(_NAME.fullmatch(name)) and name not in (".", "..")


def check_name(name: object) -> str:
    """`name` when it may name a collection: 1-64 lowercase letters, digits, `-` and `_`."""
    if not is_name(name):
        raise CollectionNameError(f"{repr(name)[:80]} is not a collection name: use 1-64 lowercase letters, "
                                  "digits, - and _ (such as team-a)")
    return name  # type: ignore[return-value]


def not_found(name: object) -> CollectionNotFoundError:
    return CollectionNotFoundError(f"no collection named {repr(name)[:80]}; `rag collections` lists them and "
                                   "`rag index DIR --collection NAME` makes one")


def collections_dir(config: Config) -> Path:
    """Where named collections live: `collections_dir`, or `collections` beside the index directory."""
    if config.collections_dir.strip():
        return Path(config.collections_dir)
    return default_collections_dir(config.index_dir)


def default_collections_dir(index_dir: Path | str) -> Path:
    return Path(index_dir).parent / "collections"


def milvus_name(prefix: str, name: str) -> str:
    """The Milvus chunk collection of the named collection `name` (one-to-one, see above)."""
    return f"{prefix}__{name.replace('_', '_u').replace('-', '_h')}"


def collection_config(config: Config, name: str) -> Config:
    """`config` with collection `name`'s index, upload folder and Milvus collection (whether or not
    the collection exists)."""
    if name == DEFAULT_COLLECTION:
        return config
    folder = collections_dir(config) / check_name(name)
    changes: dict = {"index_dir": folder / INDEX_DIR, "corpus_dir": folder}
    if config.backend == "milvus":
        changes["milvus_collection"] = milvus_name(config.milvus_collection, name)
    return config.replace(**changes)
