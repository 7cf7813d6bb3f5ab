"""Several named document collections in one deployment, each its own index.

The default collection is the configured index (`index_dir`, or `milvus_collection` with the
Milvus backend), so a deployment with one corpus sees nothing change. Named collections live
under `collections_dir` (default: `collections` beside the index directory):

    .rag/index/                   the default collection, as before
    .rag/collections/             ledger "collections": the names rag created here
    .rag/collections/team-a/      ledger "collection": one collection's folder
        index/                    its index directory
        uploads/                  the files uploaded to it

Every folder is claimed through its ledger (rag.safety.ownership): removing a collection
deletes what its ledger lists and nothing a person put beside it. With the Milvus backend a
collection's chunks go to `<milvus_collection>__<name>` (`_` written `_u`, `-` written `_h`,
so no two names, and no name and a catalogue, share a Milvus collection); the folder still
holds its uploads and marks that the collection exists.

One embedding model serves every collection; each collection's `ChatService` is made when it is
first asked for and kept.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from rag.app import factory
from rag.app.service import ChatService
from rag.core.collections import (
    DEFAULT_COLLECTION,
    INDEX_DIR,
    check_name,
    collection_config,
    collections_dir,
    is_name,
    milvus_name,
    not_found,
)
from rag.core.config import Config
from rag.core.errors import CollectionError, CollectionExistsError, ConfigError, IndexNotFoundError, NotOwnedError
from rag.embedders import Embedder
from rag.indexing.uploads import UPLOAD_DIR
from rag.safety.ownership import OwnedDir

__all__ = ["DEFAULT_COLLECTION", "CollectionInfo", "Collections", "check_name", "collections_dir", "milvus_name",
           "not_found"]

ROOT_KIND = "collections"
FOLDER_KIND = "collection"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    documents: int
    chunks: int
    where: str  # the index directory, or the Milvus address and collection
    indexed: bool = True  # False: nothing indexed yet (a default collection never built)

    def to_dict(self) -> dict:
        return asdict(self)


class Collections:
    """The collections of one deployment: `service(name)` answers from one of them.

    Thread-safe; a collection removed by another process is noticed at its next lookup."""

    def __init__(self, config: Config, *, embedder: Embedder | None = None, default: ChatService | None = None):
        """`embedder`: an already loaded model, shared by every collection (default: the
        configured one, loaded on first use); `default`: the default collection's service, when
        one is already made (its model is then the shared one)."""
        self.config = config
        self.root = collections_dir(config)
        index = Path(config.index_dir).resolve()
        root = self.root.resolve()
        if root == index or index in root.parents or root in index.parents:
            raise ConfigError(f"collections_dir {self.root} and index_dir {config.index_dir} overlap; "
                              "give them separate folders")
        self._owned = OwnedDir(self.root, ROOT_KIND)
        if default is not None and embedder is None:
            embedder = default.retriever.embedder
        self._embedder = embedder
        self._services: dict[str, ChatService] = {} if default is None else {DEFAULT_COLLECTION: default}
        self._lock = threading.RLock()

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = factory.embedder(self.config)
            return self._embedder

    # --- which collections there are ---

    def names(self) -> list[str]:
        """Every collection's name, sorted; the default one always."""
        return sorted({DEFAULT_COLLECTION, *self._named()})

    def exists(self, name: str) -> bool:
        if name == DEFAULT_COLLECTION:
            return True
        return is_name(name) and name in self._named()

    def _named(self) -> list[str]:
        if self._owned.kind_on_disk() != ROOT_KIND:
            return []
        return [n for n in self._owned.entries() if is_name(n) and (self.root / n).is_dir()]

    def index_dir(self, name: str) -> Path:
        """The index directory of collection `name` (whether or not it exists yet)."""
        return Path(self.config_for(name).index_dir)

    def config_for(self, name: str) -> Config:
        """The configuration with collection `name`'s index, upload folder and Milvus collection."""
        return collection_config(self.config, name)

    def info(self, name: str) -> CollectionInfo:
        """Its documents and chunks, read from the catalogue (no model is loaded)."""
        if not self.exists(name):
            raise not_found(name)
        store = factory.backend(self.config_for(name))
        try:
            manifest = store.read_manifest()
        except IndexNotFoundError:
            return CollectionInfo(name, 0, 0, store.where, indexed=False)
        return CollectionInfo(name, len(manifest.documents), manifest.n_chunks, store.where)

    # --- answering ---

    def service(self, name: str) -> ChatService:
        """The service answering from collection `name` (made once, then kept)."""
        if not self.exists(name):
            with self._lock:
                stale = self._services.pop(name, None)  # removed by another process
            if stale is not None:
                stale.close()
            raise not_found(name)
        with self._lock:
            service = self._services.get(name)
        if service is not None:
            return service
        # Made outside the lock: loading one collection's index does not hold up questions to others.
        made = ChatService(self.config_for(name), embedder=self.embedder)
        with self._lock:
            service = self._services.setdefault(name, made)
        if service is not made:  # another thread made it first
            made.close()
        return service

    # --- changing ---

    def create(self, name: str) -> ChatService:
        """A new, empty collection (it answers that the documents don't say until some are added)."""
        check_name(name)
        if name == DEFAULT_COLLECTION:
            raise CollectionExistsError(f"the collection {name!r} always exists; choose another name")
        config = self.config_for(name)  # a Milvus name too long for its prefix fails here, before any change
        with self._lock:
            self._claim_root()
            with self._owned.lock():
                if self.exists(name):
                    raise CollectionExistsError(f"a collection named {name!r} already exists; "
                                                f"`rag index DIR --collection {name}` adds documents to it")
                folder = OwnedDir(self.root / name, FOLDER_KIND)
                if os.path.lexists(folder.root) and folder.kind_on_disk() != FOLDER_KIND:
                    raise NotOwnedError(f"{folder.root} exists and rag did not create it; move it away or "
                                        "choose another collection name")
                self._owned.record(name)  # listed before it exists: whatever a crash leaves is known to be ours
                folder.claim()
                with folder.lock():
                    folder.record(INDEX_DIR, UPLOAD_DIR)
            try:
                # An empty index: the collection answers at once, and its model is fixed from the start.
                factory.indexer(config, self.embedder).sync([], config.index_dir)
            except BaseException:
                self._forget(name, config)  # no half-made collection is listed
                raise
            return self.service(name)

    def delete(self, name: str) -> None:
        """Remove collection `name`: its index and its uploads (never the default collection)."""
        if name == DEFAULT_COLLECTION:
            raise CollectionError("the default collection cannot be removed; remove its documents with "
                                  "`rag docs remove ID`, or point index_dir elsewhere")
        with self._lock:
            if not self.exists(name):
                raise not_found(name)
            service = self._services.pop(name, None)
            if service is not None:
                service.close()
            self._forget(name, self.config_for(name))

    def _forget(self, name: str, config: Config) -> None:
        """Delete what rag made for collection `name`, and its name."""
        with self._lock:
            if config.backend == "milvus":
                factory.backend(config).drop()
            with self._owned.lock():
                folder = OwnedDir(self.root / name, FOLDER_KIND)
                if folder.kind_on_disk() == FOLDER_KIND:
                    with folder.lock():
                        folder.delete(*folder.entries())
                kept = folder.unlisted()
                if kept:  # files a person put there stay, with the folder; the collection is gone
                    log.warning("collection %s removed; %s kept what rag did not create: %s", name,
                                folder.root, ", ".join(kept[:5]))
                    self._owned.forget(name)
                else:
                    self._owned.delete(name)

    def _claim_root(self) -> None:
        self._owned.claim()
        kind = self._owned.kind_on_disk()
        if kind != ROOT_KIND:
            raise NotOwnedError(f"{self.root} is not a collections folder (it holds a rag {kind}); set "
                                "collections_dir to another folder")

    def close(self) -> None:
        """Close every collection's service (a server stopping)."""
        with self._lock:
            services, self._services = list(self._services.values()), {}
        for service in services:
            service.close()
