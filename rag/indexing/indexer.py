"""Build or update the index from documents, embedding only what changed."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.backends import Backend, local_backend
from rag.core.errors import DocumentNotFoundError, RagError
from rag.core.records import Document
from rag.embedders import Embedder, load_embedder
from rag.embedders.precision import DEFAULT_VARIANT
from rag.index.library import DocumentInfo, Removal, find_document, list_documents, source_file, with_children
from rag.index.sentence_vectors import encode_chunks
from rag.index.store import Manifest
from rag.indexing.uploads import UploadFolder, upload_folders_under
from rag.indexing.web_sources import WebLoad, load_web, read_state, write_state
from rag.ingest.chunking import Chunker, ChunkerSettings
from rag.ingest.fetch import Fetcher, WebSettings
from rag.ingest.loaders import FileLimits, LoadResult, SkippedFile, load_documents

if TYPE_CHECKING:
    from rag.indexing.ray_indexing import RayIndexing

log = logging.getLogger("rag.indexing.indexer")


@dataclass
class IndexReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    n_chunks: int = 0
    embedded_chunks: int = 0
    document_chunks: dict[str, int] = field(default_factory=dict)  # each given document's chunks, as indexed
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


def too_many_chunks(n_chunks: int, limit: int) -> str:
    return f"too many chunks: {n_chunks:,} > max_file_chunks ({limit:,}); raise max_file_chunks to index it"


def content_hash(doc: Document) -> str:
    h = hashlib.sha256()
    for part in (doc.title, doc.text):
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


def file_changed(entry: dict, doc: Document) -> bool:
    """The file's bytes changed though its text did not (a PDF saved again): the document is
    indexed again all the same, so the index's record of its file (size, hash) is the file's own
    and the file can still be served as the original the answers quote."""
    old, new = entry.get("metadata") or {}, doc.metadata
    if new.get("url") or old.get("url"):  # a web page has no file to serve, and its bytes vary by visit
        return False
    if old.get("sha256") and new.get("sha256"):
        return old["sha256"] != new["sha256"]
    return old.get("bytes") is not None and new.get("bytes") is not None and old["bytes"] != new["bytes"]


@dataclass(frozen=True)
class IndexerSettings:
    """How documents become an index: the chunker's settings, what one file may cost (`limits`,
    and `max_file_chunks`), the vector index type (`index_type`, with IVF from `approx_threshold`
    vectors under "auto"), the default index directory, the corpus folder uploads go to, and
    how web pages are fetched (`web`)."""

    chunking: ChunkerSettings = ChunkerSettings()
    limits: FileLimits = FileLimits()
    max_file_chunks: int = 10_000
    index_type: str = "auto"
    approx_threshold: int = 200_000
    index_dir: Path = Path(".rag/index")
    corpus_dir: Path = Path("corpus")
    web: WebSettings = WebSettings()


class Indexer:
    """Keeps an index (a directory, or a Milvus collection with `backend = "milvus"`) in step
    with a set of documents.

    It reads no configuration: `rag.app.factory.indexer(config)` builds one from rag.toml and
    RAG_* settings; `Indexer()` indexes into local directories with the default settings."""

    def __init__(self, settings: IndexerSettings | None = None, embedder: Embedder | None = None, *,
                 open_backend: Callable[[Path | str | None], Backend] | None = None,
                 ray: RayIndexing | None = None):
        """`embedder`: the model (default: the default model, loaded on first use);
        `open_backend(index_dir)`: where an index lives (default: the local directory
        `index_dir`, or the settings' one for None); `ray`: chunk and embed on a Ray cluster
        instead of in this process (same result)."""
        self.settings = settings or IndexerSettings()
        self.ray = ray
        self.embedder = embedder or load_embedder()
        self._open_backend = open_backend
        self.chunker = Chunker.from_settings(self.settings.chunking, fits=self.embedder.fits)

    def index_paths(self, paths: Sequence[str | Path], index_dir: Path | str | None = None, *,
                    urls: Sequence[str] = (), rebuild: bool = False, show_progress: bool = False) -> IndexReport:
        """Make the index hold exactly the documents found under `paths`, plus the web pages at
        `urls` (a sitemap stands for its pages).

        The corpus is listed, read and compared with the index under the index's lock and the
        lock of every upload folder inside it (taken in that folder-first order, as uploads and
        removals take them). An upload under way is thus either finished, its file in the
        listing, or not yet in the index: never in the index but missing from the listing, which
        would remove it.

        Web pages are fetched before the lock is taken (the network's pace never holds other
        writers back), and only when they changed. Pages indexed earlier stay however the folders
        change: a page leaves the index only by name (`remove_documents`) or with `rebuild`. With
        `urls` and no `paths`, no folder is synchronised."""
        store = self.backend(index_dir)
        state_dir = Path(index_dir or self.settings.index_dir)
        web = self._fetch(urls, store, state_dir, rebuild) if urls else None
        with ExitStack() as held:
            for folder in upload_folders_under(paths, self.settings.corpus_dir):
                held.enter_context(folder.owned.lock())
                folder.sweep()  # no upload is under way now: what an interrupted one left goes
            held.enter_context(store.lock())
            loaded = load_documents(paths, limits=self.settings.limits) if paths else LoadResult()
            pages = web.documents if web else []
            skipped = loaded.skipped + (web.skipped if web else [])
            if not loaded.documents and not pages and skipped and not rebuild and not (web and web.unchanged):
                # Nothing readable: keep what is indexed rather than emptying it.
                raise RagError("no readable documents in " + ", ".join(map(str, [*paths, *urls])) +
                               "; the index was left unchanged")
            # A file that cannot be read now (half-copied, damaged, a bad line in a JSONL corpus) keeps
            # its indexed documents until it is fixed or deleted: dropping them would lose what the
            # index knew. Documents that the file still yields are updated as usual.
            unreadable = {s.doc_id for s in loaded.skipped if s.doc_id}
            unreadable_files = {s.file for s in loaded.skipped if s.file}
            report = self._sync(store, [*loaded.documents, *pages], rebuild=rebuild, show_progress=show_progress,
                                remove_missing=bool(paths), keep=unreadable, keep_files=unreadable_files, remove=())
            if web is not None:
                self._remember(web, store, state_dir, report)
        report.skipped[:0] = skipped
        return report

    def _fetch(self, urls: Sequence[str], store: Backend, state_dir: Path, rebuild: bool) -> WebLoad:
        try:
            indexed = {} if rebuild else store.read_manifest().documents
        except RagError:
            indexed = {}
        with Fetcher(self.settings.web) as fetcher:
            return load_web(urls, fetcher, limits=self.settings.limits, state={} if rebuild else read_state(state_dir),
                            indexed=indexed, max_sitemap_urls=self.settings.web.max_sitemap_urls)

    def _remember(self, web: WebLoad, store: Backend, state_dir: Path, report: IndexReport) -> None:
        """Keep each indexed page's validators and hash for the next run (with the lock held)."""
        try:
            indexed = store.read_manifest().documents
        except RagError:
            indexed = {}
        pages = {doc_id: entry for doc_id, entry in read_state(state_dir).items() if doc_id in indexed}
        for doc in web.documents:
            if doc.id in indexed and indexed[doc.id].get("hash") == content_hash(doc):
                pages[doc.id] = {**web.validators.get(doc.id, {}), "hash": content_hash(doc)}
        for doc_id in web.unchanged:
            if doc_id in indexed:
                report.unchanged.append(doc_id)
            else:
                reason = "removed from the index while it was fetched; index it again"
                log.warning("skipped %s: %s", doc_id, reason)
                report.skipped.append(SkippedFile(doc_id, reason))
        write_state(state_dir, pages)

    def sync(self, documents: Iterable[Document], index_dir: Path | str | None = None, *,
             rebuild: bool = False, show_progress: bool = False, remove_missing: bool = True,
             keep: set[str] | frozenset[str] = frozenset(),
             keep_files: set[str] | frozenset[str] = frozenset(), remove: Collection[str] = (),
             on_commit: Callable[[IndexReport], None] | None = None) -> IndexReport:
        """Add new, re-embed changed and (with `remove_missing`) drop absent documents, except
        those in `keep` or read from a file in `keep_files`, which stay as indexed; the ids in
        `remove` are dropped in any case. Web pages (documents with a `url`) are never dropped
        as absent: they belong to no folder, and leave only by name.

        `on_commit(report)` runs once the update is live (or found unnecessary), before the
        index's lock is released: what must change together with the index (an upload's file
        moved into place) is then seen together with it by every other writer."""
        store = self.backend(index_dir)
        with store.lock():
            return self._sync(store, documents, rebuild=rebuild, show_progress=show_progress,
                              remove_missing=remove_missing, keep=keep, keep_files=keep_files, remove=remove,
                              on_commit=on_commit)

    def _sync(self, store: Backend, documents: Iterable[Document], *, rebuild: bool, show_progress: bool,
              remove_missing: bool, keep: set[str] | frozenset[str], keep_files: set[str] | frozenset[str],
              remove: Collection[str], on_commit: Callable[[IndexReport], None] | None = None) -> IndexReport:
        """`sync`, with the index's lock held by the caller."""
        t0 = time.perf_counter()
        docs = {d.id: d for d in documents}
        old_manifest = self._previous(store, rebuild)
        report = IndexReport(index_dir=store.where)
        old_docs = old_manifest.documents if old_manifest else {}
        hashes = {doc_id: content_hash(d) for doc_id, d in docs.items()}
        for doc_id in docs:
            if doc_id not in old_docs:
                report.added.append(doc_id)
            elif old_docs[doc_id]["hash"] != hashes[doc_id] or file_changed(old_docs[doc_id], docs[doc_id]):
                report.updated.append(doc_id)
            else:
                report.unchanged.append(doc_id)
        to_embed = [docs[d] for d in report.added + report.updated]
        prepared = self.ray.prepare(to_embed, show_progress=show_progress) if self.ray and to_embed else None
        chunked, too_big = (prepared.chunks, prepared.too_big) if prepared else self._chunk_within_limit(to_embed)
        if too_big:  # skipped like an unreadable file: an indexed version stays
            over = {s.doc_id for s in too_big}
            report.skipped.extend(too_big)
            report.added = [d for d in report.added if d not in over]
            report.updated = [d for d in report.updated if d not in over]
            docs = {d: doc for d, doc in docs.items() if d not in over}
            keep = set(keep) | over

        def kept_as_indexed(doc_id: str) -> bool:
            if doc_id in keep:
                return True
            meta = old_docs[doc_id].get("metadata") or {}
            if meta.get("url"):
                return True  # a web page is not in any folder: it leaves by name only
            if "corpus_file" in meta:
                return meta["corpus_file"] in keep_files
            # Indexed before documents recorded their corpus file: match the path it was read from.
            path = str(meta.get("path", ""))
            return any(path == f or path.endswith("/" + f) for f in keep_files)

        report.removed = ([d for d in old_docs if d not in docs and not kept_as_indexed(d)]
                          if remove_missing else [])
        report.removed += [d for d in dict.fromkeys(remove) if d in old_docs and d not in report.removed]
        keep_old = set(old_docs) - set(report.removed) - set(report.updated)

        if old_manifest and not report.changed:
            report.n_chunks = old_manifest.n_chunks
            report.document_chunks = {d: int(old_docs[d].get("n_chunks", 0)) for d in docs if d in old_docs}
            report.seconds = time.perf_counter() - t0
            if on_commit is not None:
                on_commit(report)
            return report

        new_docs = [docs[d] for d in report.added + report.updated]
        new_chunks = [c for d in new_docs for c in chunked[d.id]]
        sentences = None
        variants = old_manifest.variants if old_manifest else []
        if new_chunks:
            variant = getattr(self.embedder, "variant", DEFAULT_VARIANT)
            if old_manifest:
                old_manifest.check_variant(variant, store.where)
            variants = sorted({*variants, variant})
        if new_chunks and prepared:
            new_vectors = prepared.vectors_for(new_chunks)
        elif new_chunks:
            new_vectors, sentences = encode_chunks(self.embedder, new_chunks, show_progress=show_progress)
        else:  # only removals: nothing to embed, and no reason to load the model
            dim = int(old_manifest.embedder["dim"]) if old_manifest else self.embedder.dim
            new_vectors = np.zeros((0, dim), dtype=np.float32)

        documents_meta = {d: old_docs[d] for d in keep_old}
        per_doc = {}
        for c in new_chunks:
            per_doc[c.doc_id] = per_doc.get(c.doc_id, 0) + 1
        now = time.time()
        for d in new_docs:
            added = old_docs[d.id].get("added_at") if d.id in old_docs else now
            documents_meta[d.id] = {"hash": hashes[d.id], "title": d.title, "source": d.source,
                                    "n_chunks": per_doc.get(d.id, 0), "added_at": added, "updated_at": now,
                                    "metadata": {k: v for k, v in d.metadata.items()
                                                 if isinstance(v, (str, int, float, bool))}}
        manifest = Manifest(
            embedder={"name": self.embedder.name, "dim": self.embedder.dim, "max_tokens": self.embedder.max_tokens,
                      "variants": variants or [DEFAULT_VARIANT]},
            chunker=self.chunker.settings.to_dict(),
            documents=documents_meta,
            n_chunks=sum(int(m.get("n_chunks", 0)) for m in documents_meta.values()),
            index_type=self.settings.index_type,
        )
        report.n_chunks, report.segments = store.publish(
            manifest, new_chunks, new_vectors, added=report.added, updated=report.updated,
            removed=report.removed, rebuild=old_manifest is None, approx_threshold=self.settings.approx_threshold,
            sentences=sentences)
        report.embedded_chunks = len(new_chunks)
        report.document_chunks = {d: int(documents_meta[d].get("n_chunks", 0)) for d in docs if d in documents_meta}
        report.seconds = time.perf_counter() - t0
        log.info("indexed %s: %s", store.where, report.summary())
        if on_commit is not None:
            on_commit(report)
        return report

    def _chunk_within_limit(self, docs: list[Document]) -> tuple[dict[str, list], list[SkippedFile]]:
        """Each document's chunks, except for documents over `max_file_chunks`, which are skipped."""
        chunked: dict[str, list] = {}
        over: list[SkippedFile] = []
        limit = self.settings.max_file_chunks
        for doc in docs:
            chunks = self.chunker.chunk(doc)
            if len(chunks) <= limit:
                chunked[doc.id] = chunks
                continue
            reason = too_many_chunks(len(chunks), limit)
            log.warning("skipped %s: %s", doc.source, reason)
            over.append(SkippedFile(doc.source, reason, doc.id))
        return chunked, over

    def list_documents(self, index_dir: Path | str | None = None) -> list[DocumentInfo]:
        """The indexed documents, by id."""
        return list_documents(self.backend(index_dir).read_manifest())

    def get_document(self, doc_id: str, index_dir: Path | str | None = None) -> DocumentInfo:
        return find_document(self.backend(index_dir).read_manifest(), doc_id)

    def backend(self, index_dir: Path | str | None = None) -> Backend:
        """Where this indexer writes: the configured backend (`index_dir` is the local one's)."""
        if self._open_backend is not None:
            return self._open_backend(index_dir)
        return local_backend(index_dir or self.settings.index_dir)

    def remove_documents(self, doc_ids: Collection[str], index_dir: Path | str | None = None) -> Removal:
        """Drop documents from the index in one atomic update. Files that uploads stored under
        `<corpus>/uploads/` are deleted with them; other files are left alone (and reported, since
        the next `rag index` of their folder would add them again). Unknown ids change nothing."""
        store = self.backend(index_dir)
        manifest = store.read_manifest()
        ids = list(dict.fromkeys(doc_ids))
        if not ids:
            raise DocumentNotFoundError("no document ids given; `rag docs` lists them")
        unknown = [d for d in ids if d not in manifest.documents]
        if unknown:
            raise DocumentNotFoundError(f"no document {', '.join(map(repr, unknown))} in the index "
                                        f"(nothing was removed); `rag docs` lists the ids")
        ids = with_children(manifest, ids)
        infos = [find_document(manifest, d) for d in ids]
        folder = UploadFolder(self.settings.corpus_dir)
        # Only files the upload folder's ledger lists are rag's to delete; they are set aside
        # (hidden, so no `rag index` reads them) until the index update is committed.
        uploads = {i.id: folder.stored_name(i.id) for i in infos}
        with folder.changing():
            hidden: dict[str, str] = {}
            try:
                for name in uploads.values():
                    if name is not None:
                        hidden[name] = folder.set_aside(name)
                report = self.sync([], index_dir, remove_missing=False, remove=ids)
            except BaseException:
                for name, aside in hidden.items():
                    folder.restore(aside, name)
                raise
            for name, aside in hidden.items():
                folder.discard(aside, name)
        kept = dict.fromkeys(source_file(i) for i in infos if uploads[i.id] is None)  # an e-mail's, once
        return Removal(removed=tuple(report.removed),
                       deleted_files=tuple(str(folder.root / name) for name in hidden),
                       kept_files=tuple(str(p) for p in kept if p is not None), n_chunks=report.n_chunks)

    def _previous(self, store: Backend, rebuild: bool) -> Manifest | None:
        if rebuild:
            return None
        manifest = store.previous()
        if manifest is not None:
            manifest.check_embedder(self.embedder, self.chunker.settings.to_dict(), store.where)
        return manifest
