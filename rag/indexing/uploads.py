"""Add documents while the app runs: validate, store safely under the corpus, index incrementally.

Every upload keeps its own file: a name is changed only as far as it must be to be safe, and a
name that had to change, or that would collide with another upload (by case, or by what the
change made of it), gets a short hash of the original name. Re-uploading the same name replaces
that upload and says so. The folder's ledger (rag.safety.ownership) records which files rag stored, so
it never overwrites or removes a file a user put there.
"""

from __future__ import annotations

import hashlib
import os
import time
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rag.core.errors import DocumentError, RagError
from rag.core.records import Document
from rag.ingest.loaders import load_upload
from rag.safety.ownership import OwnedDir, write_error

if TYPE_CHECKING:
    from rag.indexing.indexer import Indexer, IndexReport

UPLOAD_DIR = "uploads"
PART = ".part"  # ".<name>.part": an upload's bytes until its document is indexed
REMOVING = ".removing"  # ".<name>.removing": a removed upload's file until the index no longer lists it
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_NAME_BYTES = 120
_KEEP = set(" ._-()[]+,&@'")


def safe_filename(name: str) -> str:
    """The file's own name only, safe to store: no directories, no hidden files, no control
    characters; letters of any script are kept. Empty results become "upload"."""
    base = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    stem, dot, suffix = base.rpartition(".")
    if not dot or not stem.strip(" ."):
        # ".md" is a hidden file without an extension, but "....txt" is a text file: its
        # extension stays, or `rag index` would skip the stored file and a rebuild lose it.
        stem, suffix = (base, "") if not dot or not stem else ("", suffix)
    stem = "".join(c if c.isalnum() or c in _KEEP else "-" for c in stem).strip(" .-")
    suffix = "".join(c for c in suffix if c.isalnum())[:10]
    stem = _truncate(stem or "upload", MAX_NAME_BYTES - len(suffix) - 1)
    return f"{stem}.{suffix}" if suffix else stem


def _truncate(text: str, max_bytes: int) -> str:
    data = text.encode("utf-8")[:max_bytes]
    return data.decode("utf-8", "ignore").rstrip(" .-") or "upload"


def _with_hash(name: str, original: str, length: int = 8) -> str:
    digest = hashlib.sha256(original.encode("utf-8", "surrogatepass")).hexdigest()[:length]
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    stem = _truncate(stem, MAX_NAME_BYTES - len(suffix) - length - 2)
    return f"{stem}-{digest}.{suffix}" if suffix else f"{stem}-{digest}"


@dataclass(frozen=True)
class Ingested:
    document: Document
    path: Path
    chunks: int  # the document's chunks in the index (embedded now, or already there unchanged)
    replaced: bool = False  # an earlier upload of the same name was replaced
    attachments: int = 0  # an e-mail's attachments indexed as documents of their own

    def status(self) -> str:
        """One line for people: what happened to the upload."""
        s = "" if self.chunks == 1 else "s"
        what = f"replaced the earlier version of {self.document.id}" if self.replaced else "indexed"
        extra = f", with {self.attachments} attachment{'' if self.attachments == 1 else 's'}" if self.attachments else ""
        partial = self.document.metadata.get("partial")
        return f"{self.document.id}: {what} ({self.chunks} chunk{s}{extra})" + (f"; in part: {partial}" if partial else "")


class UploadFolder:
    """`<corpus>/uploads`: the files rag stored there, by the names people uploaded them as."""

    def __init__(self, corpus_dir: Path | str):
        self.root = (Path(corpus_dir) / UPLOAD_DIR).resolve()
        self.owned = OwnedDir(self.root, "uploads")

    def sweep(self) -> list[str]:
        """Remove what an interrupted upload or removal left behind; returns the names dropped.

        Call under the lock: every upload and removal holds it from its first file to its last,
        so a part file (or a file set aside for removal) seen then belongs to a process that
        died. The ledger's entries for files that are not there (an upload killed before its
        file was moved into place) go too, so a new upload of that name is not "replaced".
        Only names the ledger lists are touched."""
        entries = self.owned.entries()
        hidden = [n for n in entries if n.startswith(".") and n.endswith((PART, REMOVING))]
        return self.owned.delete(*hidden) + self.owned.forget_missing()

    def sweep_at_start(self) -> list[str]:
        """`sweep` under the folder's lock, for a server starting: what a killed one left is gone
        before anyone uploads or asks (nothing to do when rag never stored an upload here)."""
        if not self.owned.is_claimed():
            return []
        with self.owned.lock():
            return self.sweep()

    def name_for(self, original: str) -> tuple[str, bool]:
        """(stored name, replaces an earlier upload of this same name). Call under the lock."""
        base = _base_name(original)
        entries = self.owned.entries()
        name = safe_filename(base)
        if name != base:
            name = _with_hash(name, base)
        for length in (8, 16, 64):
            candidate = name if length == 8 else _with_hash(safe_filename(base), base, length)
            if self._free_for(candidate, base, entries):
                return candidate, candidate in entries
        raise DocumentError(f"{original}: no free name for this upload; rename the file and try again")

    def _free_for(self, name: str, original: str, entries: dict[str, dict]) -> bool:
        """The name is free, or holds an earlier upload of the very same original name."""
        if name in entries:
            return entries[name].get("original") == original
        if os.path.lexists(self.root / name):
            return False  # a file someone else put here: never overwritten
        # Names that differ only by case are one file on some file systems: keep them apart.
        folded = name.casefold()
        others = set(entries) | set(_listing(self.root))
        return not any(o.casefold() == folded and o != name for o in others)

    def remove(self, name: str) -> bool:
        """Delete an upload rag stored (and nothing else). True when it was one of ours."""
        if not self.owned.is_claimed():
            return False
        with self.owned.lock():
            return bool(self.owned.delete(name))

    def stored_name(self, doc_id: str) -> str | None:
        """The file an upload stored for this document id, when the ledger says rag stored it."""
        prefix = f"{UPLOAD_DIR}/"
        if not doc_id.startswith(prefix) or not self.owned.is_claimed():
            return None
        name = doc_id[len(prefix):]
        return name if self.owned.owns(name) and (self.root / name).is_file() else None

    @contextmanager
    def changing(self) -> Iterator[None]:
        """Hold the folder's lock (when it exists) while files are set aside, restored or discarded."""
        if not self.owned.is_claimed():
            yield
            return
        with self.owned.lock():
            self.sweep()
            yield

    def set_aside(self, name: str) -> str:
        """Hide an upload (loaders skip hidden files) until the index update removing its
        document is committed; `restore` undoes it, `discard` completes it."""
        hidden = f".{name}{REMOVING}"
        self.owned.record(hidden)
        os.replace(self.root / name, self.root / hidden)
        return hidden

    def restore(self, hidden: str, name: str) -> None:
        os.replace(self.root / hidden, self.root / name)
        self.owned.forget(hidden)

    def discard(self, hidden: str, name: str) -> None:
        self.owned.delete(hidden)
        self.owned.forget(name)


def upload_folders_under(paths: Sequence[str | Path], corpus_dir: Path | str) -> list[UploadFolder]:
    """The upload folders (those with a ledger) that a walk of `paths` reads, in one fixed order:
    a path that is one, each path's `uploads/`, and the corpus's own when it lies under a path."""
    roots = [Path(p).resolve() for p in paths if Path(p).is_dir()]
    candidates = {*(r for r in roots if r.name == UPLOAD_DIR), *(r / UPLOAD_DIR for r in roots),
                  (Path(corpus_dir) / UPLOAD_DIR).resolve()}
    found = []
    for folder in sorted(candidates):
        inside = any(folder == r or r in folder.parents for r in roots)
        if inside and OwnedDir(folder, "uploads").kind_on_disk() == "uploads":
            found.append(UploadFolder(folder.parent))
    return found


def _listing(folder: Path) -> list[str]:
    try:
        return [p.name for p in folder.iterdir()]
    except OSError:
        return []


def ingest(name: str, data: bytes, *, corpus_dir: Path, index_dir: Path, indexer: Indexer,
           max_bytes: int = MAX_UPLOAD_BYTES) -> Ingested:
    """Parse first (nothing is stored when a file is bad), then store and index just this document.

    The bytes go to a hidden part file, the index is updated, and the part file is renamed into
    place before the index's lock is released: a full disk or a failed index write leaves neither
    a file nor a document, and a concurrent `rag index` of the corpus sees both or neither.
    The document is read as `rag index` will read the stored file (its id and, when the text has
    no title of its own, the title made from its name), so the next run finds it unchanged.
    """
    if len(data) > max_bytes:
        raise DocumentError(f"{name}: file too large ({len(data) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB)")
    original = _base_name(name) or "upload"
    folder = UploadFolder(corpus_dir)

    def parse(filename: str) -> list[Document]:
        # The file's own document is read under its bare name, so a title made from the name is
        # the name; an e-mail's attachments are named after the id the file will have.
        return load_upload(original, data, doc_id=filename if not original.lower().endswith(".eml")
                           else f"{UPLOAD_DIR}/{filename}", max_bytes=max_bytes, limits=indexer.settings.limits)

    expected = folder.name_for(original)[0]  # read without the lock: parsing may take a while
    parsed = parse(expected)
    folder.owned.claim(allow_foreign=True)
    with folder.owned.lock():
        folder.sweep()  # no upload is under way now: what an interrupted one left goes
        filename, replaced = folder.name_for(original)
        target = folder.root / filename
        if target.parent != folder.root:  # belt and braces: the name cannot climb out of the folder
            raise DocumentError(f"{name}: not a usable file name")
        if Path(filename).suffix.lower() != Path(original).suffix.lower():
            raise DocumentError(f"{name}: no safe file name keeps its extension; rename the file and try again")
        if filename != expected:  # another upload took the name meanwhile
            parsed = parse(filename)
        doc_id = f"{UPLOAD_DIR}/{filename}"
        own, attachments = parsed[0], parsed[1:]
        document = Document(id=doc_id, title=own.title, text=own.text, source=str(target),
                            metadata={**own.metadata, "path": doc_id})
        # A replaced e-mail's attachments that the new version no longer has leave with it.
        gone = _attachments_of(indexer, index_dir, doc_id) - {a.id for a in attachments}
        part = folder.root / f".{filename}{PART}"
        # Listed before they exist, so whatever a crash leaves behind is known to be ours.
        folder.owned.record(part.name)
        folder.owned.record(filename, original=original, sha256=hashlib.sha256(data).hexdigest(),
                            size=len(data), uploaded_at=time.time())

        def store(report: IndexReport) -> None:
            if not any(s.doc_id == doc_id for s in report.skipped):
                os.replace(part, target)

        try:
            _write_synced(part, data)
            report = indexer.sync([document, *attachments], index_dir, remove_missing=False, remove=sorted(gone),
                                  on_commit=store)
            over = [s for s in report.skipped if s.doc_id == doc_id]
            if over:  # over a per-file limit (max_file_chunks): not indexed, so not stored either
                raise DocumentError(f"{original}: {over[0].reason}")
        except BaseException as exc:
            if not replaced:
                folder.owned.forget(filename)
            if isinstance(exc, OSError):
                raise write_error(folder.root, exc) from None
            raise
        finally:
            folder.owned.delete(part.name)
    chunks = sum(report.document_chunks.get(d.id, 0) for d in (document, *attachments))
    return Ingested(document, target, chunks or report.embedded_chunks, replaced,
                    attachments=len([a for a in attachments if a.id in report.document_chunks]))


def _attachments_of(indexer: Indexer, index_dir: Path, doc_id: str) -> set[str]:
    """The indexed documents read from the stored file `doc_id` besides its own (an e-mail's attachments)."""
    try:
        indexed = indexer.backend(index_dir).read_manifest().documents
    except RagError:
        return set()
    return {d for d, entry in indexed.items()
            if d != doc_id and (entry.get("metadata") or {}).get("corpus_file") == doc_id}


def _base_name(name: str) -> str:
    """The name as uploaded, without any directories a browser or client put in front of it."""
    return unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()


def _write_synced(path: Path, data: bytes) -> None:
    try:
        with open(path, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError:
        path.unlink(missing_ok=True)
        raise
