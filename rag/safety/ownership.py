"""Directories the tool writes into, and the exact entries in them that it created.

A ledger file inside the directory (`.rag-owned.json`) lists, by exact name, every file or
folder the tool made there. Nothing is ever deleted or overwritten unless the ledger lists it:
a user's `vendor/`, `venv/` or `notes.md` beside them are never touched, whatever their names.
A directory is claimed when it is new or empty; one that already holds other things and no
ledger is refused (for an index) or its existing files are left as they are (for uploads).

The ledger is replaced atomically (written to its own exact temporary name, fsynced, renamed),
and an entry is added *before* the thing it names is created, so a crash can leave a listed
entry that does not exist (harmless, dropped later) but never an unlisted one the tool made.
Writers serialise through an exclusive lock on a file of the directory's own (`.rag-owned.lock`).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shutil
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rag.core.errors import IndexCorruptError, IndexWriteError, NotOwnedError

LEDGER = ".rag-owned.json"
LEDGER_TMP = ".rag-owned.json.tmp"
LOCK = ".rag-owned.lock"
_OWN_FILES = (LEDGER, LEDGER_TMP, LOCK)


class OwnedDir:
    """The ledger of one directory. `kind` says what the directory is ("index", "uploads")."""

    def __init__(self, root: Path | str, kind: str):
        self.root = Path(root)
        self.kind = kind

    # --- reading ---

    def is_claimed(self) -> bool:
        return (self.root / LEDGER).is_file()

    def entries(self) -> dict[str, dict[str, Any]]:
        """Name → what was recorded when the entry was made. Empty when there is no ledger."""
        return self._read().get("entries", {})

    def kind_on_disk(self) -> str | None:
        """What the ledger says the directory is ("index", "uploads"), or None without a ledger."""
        try:
            kind = self._read().get("kind")
        except IndexCorruptError:
            return None  # a damaged ledger says nothing
        return kind if isinstance(kind, str) else None

    def owns(self, name: str) -> bool:
        return name in self.entries()

    def unlisted(self) -> list[str]:
        """Names in the directory that are neither the ledger's own files nor entries it lists."""
        try:
            present = [p.name for p in self.root.iterdir()]
        except OSError:
            return []
        try:
            listed = self.entries()
        except IndexCorruptError:
            listed = {}
        return sorted(n for n in present if n not in _OWN_FILES and n not in listed)

    # --- claiming ---

    def claim(self, *, adopt: Iterable[str] = (), allow_foreign: bool = False) -> None:
        """Make this directory ours: create it, or take it over when it is empty.

        `adopt`: existing entries known to be the tool's own (an index written before ledgers).
        `allow_foreign`: a non-empty directory is claimed without owning what is already in it
        (an uploads folder the user also put files into). Otherwise such a directory is refused.
        """
        try:
            if self.root.exists() and not self.root.is_dir():
                raise NotOwnedError(f"{self.root} is a file, not a directory; choose a directory for the {self.kind}")
            if self.is_claimed():
                return
            self.root.mkdir(parents=True, exist_ok=True)
            present = sorted(p.name for p in self.root.iterdir() if p.name not in _OWN_FILES)
            adopted = [n for n in adopt if n in present]
            foreign = [n for n in present if n not in adopted]
            if foreign and not allow_foreign:
                shown = ", ".join(foreign[:5]) + (", …" if len(foreign) > 5 else "")
                raise NotOwnedError(
                    f"{self.root} is not an {self.kind} directory: it already holds {shown}. rag only writes "
                    f"into a new or empty directory it can own; choose another one (for example "
                    f"{self.root / ('.rag-' + self.kind)}).")
            now = time.time()
            self._write({"kind": self.kind, "format_version": 1, "created_at": now,
                         "entries": {n: {"created_at": now, "adopted": True} for n in adopted}})
        except OSError as exc:
            raise write_error(self.root, exc) from None

    # --- changing ---

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive, across processes: one writer at a time changes the directory."""
        try:
            fh = open(self.root / LOCK, "a")  # noqa: SIM115 - held for the lock's lifetime
        except OSError as exc:
            raise write_error(self.root, exc) from None
        with fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def record(self, *names: str, **info: Any) -> None:
        """List entries as ours before creating them (call under `lock()`)."""
        data = self._read()
        now = time.time()
        for name in names:
            _check_name(name)
            data.setdefault("entries", {})[name] = {"created_at": now, **info}
        self._write(data)

    def forget(self, *names: str) -> None:
        data = self._read()
        for name in names:
            data.get("entries", {}).pop(name, None)
        self._write(data)

    def forget_missing(self) -> list[str]:
        """Drop entries whose files are gone (a crash between listing and creating them); call
        under `lock()`, where no writer is between the two. Returns the names dropped."""
        gone = [n for n in self.entries() if not os.path.lexists(self.root / n)]
        if gone:
            self.forget(*gone)
        return gone

    def delete(self, *names: str) -> list[str]:
        """Remove entries the ledger lists (and nothing else); returns the names removed."""
        owned = self.entries()
        gone = []
        for name in names:
            if name not in owned:
                continue
            path = self.root / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            if not os.path.lexists(path):
                gone.append(name)
        if gone:
            self.forget(*gone)
        return gone

    # --- the ledger file ---

    def _read(self) -> dict[str, Any]:
        path = self.root / LEDGER
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            # A damaged ledger proves nothing: own nothing, so nothing gets deleted.
            raise IndexCorruptError(f"{path} is damaged ({exc}); it lists what rag may delete there, so "
                                    f"nothing was changed. Move the directory away and build a new one") from None
        if not isinstance(data, dict) or not isinstance(data.get("entries", {}), dict):
            raise IndexCorruptError(f"{path} is damaged (not a ledger); nothing was changed. Move the directory "
                                    f"away and build a new one")
        return data

    def _write(self, data: dict[str, Any]) -> None:
        tmp = self.root / LEDGER_TMP
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=1, ensure_ascii=False)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.root / LEDGER)
        except OSError as exc:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
            raise write_error(self.root, exc) from None


def _nearly_full(path: Path) -> bool:
    try:
        return shutil.disk_usage(path).free < 1024 * 1024
    except OSError:
        return False


def _check_name(name: str) -> None:
    if not name or name in (".", "..") or "/" in name or "\\" in name or name in _OWN_FILES:
        raise ValueError(f"not an entry name: {name!r}")


def write_error(root: Path, exc: OSError) -> IndexWriteError:
    reason = exc.strerror or str(exc)
    if exc.errno is None and _nearly_full(root):  # a short write (numpy, faiss) carries no errno
        exc = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        reason = exc.strerror
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EROFS):
        hint = "make it writable or choose another directory"
    elif exc.errno in (errno.ENOSPC, errno.EDQUOT):
        hint = "free some disk space and run again"
    else:
        hint = "check the path and run again"
    where = exc.filename or root
    return IndexWriteError(f"cannot write {where}: {reason}; {hint}. Nothing was changed")


# The index directory's commit point, manifest and version names (rag.index.store writes them),
# known here so that a corpus walk recognises an index written before ledgers existed without
# importing the index package.
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
VERSION_NAME = re.compile(r"v\d+-[0-9a-f]{6}")


def is_index_dir(path: Path) -> bool:
    """An index directory, ledgered or written before ledgers (a CURRENT naming a version), or the
    folder of named collections (rag.app.collections), which holds indexes and their uploads."""
    kind = OwnedDir(path, "index").kind_on_disk() if (path / LEDGER).is_file() else None
    if kind is not None:
        return kind in ("index", "collections")  # an upload folder keeps a ledger too
    try:
        name = (path / CURRENT).read_text(encoding="utf-8").strip()
    except (OSError, ValueError):
        return False
    return bool(VERSION_NAME.fullmatch(name)) and (path / name / MANIFEST).is_file()
