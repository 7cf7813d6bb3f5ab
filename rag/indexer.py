"""Build or update the index from documents, embedding only what changed."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .chunking import Chunker
from .config import Config
from .embedders import Embedder, embedder_for
from .errors import IndexCorruptError, IndexNotFoundError, RagError
from .index_store import IndexStore, Manifest
from .loaders import SkippedFile, load_documents
from .records import Document

log = logging.getLogger("rag.indexer")


@dataclass
class IndexReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    n_chunks: int = 0
    embedded_chunks: int = 0
    seconds: float = 0.0
    index_dir: str = ""
    segments: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        segments = f" in {self.segments} segments" if self.segments > 1 else ""
        return (f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
                f"{len(self.unchanged)} unchanged, {len(self.skipped)} skipped; "
                f"{self.n_chunks} chunks{segments} ({self.embedded_chunks} embedded) in {self.seconds:.1f}s")


def content_hash(doc: Document) -> str:
    h = hashlib.sha256()
    for part in (doc.title, doc.text):
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


class Indexer:
    """Keeps an index directory in step with a set of documents."""

    def __init__(self, config: Config | None = None, embedder: Embedder | None = None):
        self.config = config or Config.load()
        self.embedder = embedder or embedder_for(self.config)
        self.chunker = Chunker(self.config.chunk_tokens, self.config.chunk_overlap, self.config.encoding,
                               fits=self.embedder.fits)

    def index_paths(self, paths: Sequence[str | Path], index_dir: Path | str | None = None, *,
                    rebuild: bool = False, show_progress: bool = False) -> IndexReport:
        """Make the index hold exactly the documents found under `paths`."""
        loaded = load_documents(paths)
        if not loaded.documents and loaded.skipped and not rebuild:
            # Nothing readable: keep what is indexed rather than emptying it.
            raise RagError("no readable documents in " + ", ".join(map(str, paths)) +
                           "; the index was left unchanged")
        # A file that cannot be read now (half-copied, damaged, a bad line in a JSONL corpus) keeps
        # its indexed documents until it is fixed or deleted: dropping them would lose what the
        # index knew. Documents that the file still yields are updated as usual.
        unreadable = {s.doc_id for s in loaded.skipped if s.doc_id}
        unreadable_files = {s.file for s in loaded.skipped if s.file}
        report = self.sync(loaded.documents, index_dir, rebuild=rebuild, show_progress=show_progress,
                           keep=unreadable, keep_files=unreadable_files)
        report.skipped = loaded.skipped
        return report

    def sync(self, documents: Iterable[Document], index_dir: Path | str | None = None, *,
             rebuild: bool = False, show_progress: bool = False, remove_missing: bool = True,
             keep: set[str] | frozenset[str] = frozenset(),
             keep_files: set[str] | frozenset[str] = frozenset()) -> IndexReport:
        """Add new, re-embed changed and (with `remove_missing`) drop absent documents, except
        those in `keep` or read from a file in `keep_files`, which stay as indexed."""
        t0 = time.perf_counter()
        store = IndexStore(index_dir or self.config.index_dir)
        docs = {d.id: d for d in documents}
        with store.lock():
            old_manifest = self._previous(store, rebuild)
            report = IndexReport(index_dir=str(store.root))
            old_docs = old_manifest.documents if old_manifest else {}
            hashes = {doc_id: content_hash(d) for doc_id, d in docs.items()}
            for doc_id in docs:
                if doc_id not in old_docs:
                    report.added.append(doc_id)
                elif old_docs[doc_id]["hash"] != hashes[doc_id]:
                    report.updated.append(doc_id)
                else:
                    report.unchanged.append(doc_id)
            def kept_as_indexed(doc_id: str) -> bool:
                meta = old_docs[doc_id].get("metadata") or {}
                return doc_id in keep or meta.get("path") in keep_files

            report.removed = ([d for d in old_docs if d not in docs and not kept_as_indexed(d)]
                              if remove_missing else [])
            keep_old = set(old_docs) - set(report.removed) - set(report.updated)

            if old_manifest and not report.changed:
                report.n_chunks = old_manifest.n_chunks
                report.seconds = time.perf_counter() - t0
                return report

            new_docs = [docs[d] for d in report.added + report.updated]
            new_chunks = self.chunker.chunk_all(new_docs)
            new_vectors = self.embedder.encode_passages([c.text for c in new_chunks],
                                                        show_progress=show_progress)

            documents_meta = {d: old_docs[d] for d in keep_old}
            per_doc = {}
            for c in new_chunks:
                per_doc[c.doc_id] = per_doc.get(c.doc_id, 0) + 1
            for d in new_docs:
                documents_meta[d.id] = {"hash": hashes[d.id], "title": d.title, "source": d.source,
                                        "n_chunks": per_doc.get(d.id, 0),
                                        "metadata": {k: v for k, v in d.metadata.items()
                                                     if isinstance(v, (str, int, float, bool))}}
            manifest = Manifest(
                embedder={"name": self.embedder.name, "dim": self.embedder.dim, "max_tokens": self.embedder.max_tokens},
                chunker=self.chunker.settings.to_dict(),
                documents=documents_meta,
                n_chunks=sum(int(m.get("n_chunks", 0)) for m in documents_meta.values()),
                index_type=self.config.index_type,
            )
            if old_manifest is None:
                version = store.write(manifest, new_chunks, new_vectors, approx_threshold=self.config.approx_threshold)
            else:
                # Only the new and changed documents are written; the rest stays in its segments.
                version = store.update(manifest, new_chunks, new_vectors, replaced=report.updated,
                                       approx_threshold=self.config.approx_threshold)
                if store.merge(approx_threshold=self.config.approx_threshold):
                    version = store.current_path()
            published = store.version_info(version)
            report.n_chunks = published.n_chunks
            report.segments = len(published.segments)
            report.embedded_chunks = len(new_chunks)
            report.seconds = time.perf_counter() - t0
            log.info("indexed %s: %s", store.root, report.summary())
            return report

    def _previous(self, store: IndexStore, rebuild: bool) -> Manifest | None:
        if rebuild:
            return None
        try:
            # Opened whole, not just its manifest: its segments are carried into the next version,
            # so a damaged one must stop the update rather than be passed on.
            manifest = store.load().manifest
        except IndexNotFoundError:
            return None
        except IndexCorruptError as exc:
            raise IndexCorruptError(f"{exc} (the existing index cannot be updated)") from None
        manifest.check_embedder(self.embedder, self.chunker.settings.to_dict(), store.root)
        return manifest
