"""Folders that stay in sync: watch directories and re-sync the index when their files change.

Each batch is one ordinary sync of the watched folders (`Indexer.index_paths`, under the index's
and the upload folders' locks): the folders are listed and read again, and only documents whose
text changed are embedded; removals become tombstones in a new segment. What changes is gathered
first (watchfiles: a batch starts once the folders were quiet for `quiet_ms`, at the latest
`debounce_ms` after its first change), so an editor's save or a `cp -r` of hundreds of files
becomes one or two syncs, and changes made while a sync runs go into the next one.

Names that are never documents start no work: hidden files and folders (the upload folder's
part files and set-aside removals among them), editors' swap, backup and lock files, partial
downloads, and anything inside an index directory.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rag.core.errors import RagError
from rag.indexing.indexer import IndexReport
from rag.ingest.loaders import SUPPORTED_SUFFIXES, SkippedFile
from rag.safety.ownership import is_index_dir

log = logging.getLogger("rag.indexing.watch")

# Names no document has: editors' swap, backup, lock and probe files, partial downloads.
TEMPORARY_SUFFIXES = (".swp", ".swo", ".swx", ".part", ".partial", ".tmp", ".temp", ".crdownload", ".download",
                      ".bak", "~")
TEMPORARY_PREFIXES = (".", "~$", "#")  # hidden (and ".#" Emacs locks), Office owner files, Emacs auto-saves
TEMPORARY_NAMES = ("4913",)  # the file Vim writes to test that a folder is writable
SHOWN_NAMES = 3  # document ids a batch line names per kind before it just counts
ROOT_POLL_SECONDS = 0.5  # how often a watched folder that went away is looked for again


@dataclass(frozen=True)
class WatchSettings:
    """`debounce_ms`: the longest a burst of changes is gathered before its sync starts;
    `quiet_ms`: how long the folders must stay quiet for a burst to end sooner."""

    debounce_ms: int = 1000
    quiet_ms: int = 200


def temporary_name(name: str) -> bool:
    """A file or folder name that is never a document to index."""
    return name.startswith(TEMPORARY_PREFIXES) or name.endswith(TEMPORARY_SUFFIXES) or name in TEMPORARY_NAMES


class ChangeFilter:
    """Which changes under the watched `roots` may change the index."""

    def __init__(self, roots: Sequence[Path], ignore: Sequence[Path] = ()):
        self.roots = [Path(os.path.abspath(r)) for r in roots]
        self.ignore = [Path(os.path.abspath(p)) for p in ignore]

    def __call__(self, change: object, path: str) -> bool:
        p = Path(path)
        root = next((r for r in self.roots if p == r or r in p.parents), None)
        if root is None or any(p == i or i in p.parents for i in self.ignore):
            return False
        parts = p.relative_to(root).parts
        if any(temporary_name(part) for part in parts):
            return False
        for depth in range(len(parts) - 1, 0, -1):  # an index kept inside a watched folder
            if is_index_dir(root.joinpath(*parts[:depth])):
                return False
        if p.is_dir():
            return not is_index_dir(p)  # a folder moved in (or out: then it is no longer there)
        suffix = p.suffix.lower()
        # A deleted folder's name may have no suffix or any: its removal is always looked at.
        return suffix in SUPPORTED_SUFFIXES or not p.exists()


@dataclass
class Batch:
    """One sync: its report (None when it failed), the error, the files newly skipped."""

    report: IndexReport | None
    error: str | None = None
    new_skips: list[SkippedFile] = field(default_factory=list)
    changes: int = 0  # file-system events gathered into it (0 for the first sync)
    at: float = field(default_factory=time.time)

    def lines(self) -> list[str]:
        """One line per newly skipped file, then the batch's own line."""
        stamp = time.strftime("%H:%M:%S", time.localtime(self.at))
        out = [f"{stamp} skipped {s.path}: {s.reason}" for s in self.new_skips]
        if self.report is None:
            return [*out, f"{stamp} {self.error}"]
        r = self.report
        parts = [f"{what} {_names(ids)}" for what, ids in (("added", r.added), ("updated", r.updated),
                                                             ("removed", r.removed)) if ids]
        skipped = shown_skips(r.skipped)
        if skipped:
            parts.append(f"{len(skipped)} skipped")
        what = "; ".join(parts) if parts else "no change"
        chunks = f"{r.n_chunks} chunk{'' if r.n_chunks == 1 else 's'}"
        return [*out, f"{stamp} {what} ({chunks}, {r.embedded_chunks} embedded, {r.seconds:.1f} s)"]


def shown_skips(skipped: Sequence[SkippedFile]) -> list[SkippedFile]:
    """The skipped files worth a line: an editor's swap file sitting in the folder is not news."""
    return [s for s in skipped if not temporary_name(Path(s.path).name)]


def _names(ids: list[str]) -> str:
    shown = ", ".join(ids[:SHOWN_NAMES])
    return shown if len(ids) <= SHOWN_NAMES else f"{len(ids)} ({shown}, …)"


class FolderWatch:
    """Keeps an index in step with `roots` until `stop` is set.

    `sync()` brings the index up to date with the folders and returns its report (the caller
    decides how: `Indexer.index_paths`, or a server's own path that also reloads its readers);
    `on_batch` hears of every sync, the first one included. A sync that fails (a folder with no
    readable file, a full disk) is reported and the watch goes on; the index keeps its last
    committed version, since every update is published atomically."""

    def __init__(self, roots: Sequence[Path | str], sync: Callable[[], IndexReport],
                 on_batch: Callable[[Batch], None], *, settings: WatchSettings | None = None,
                 ignore: Sequence[Path | str] = (), ready: Callable[[], object] | None = None):
        """`ready`: runs once, after the first sync, with changes already being gathered; the
        place to load the embedding model (a first sync with nothing new never loads it, and the
        first change should not wait for it) and to say that the watch has begun."""
        self.roots = [Path(os.path.abspath(r)) for r in roots]
        for root in self.roots:
            if not root.is_dir():
                raise RagError(f"{root} is not a directory; --watch watches directories")
        self.settings = settings or WatchSettings()
        self._sync = sync
        self._on_batch = on_batch
        self._filter = ChangeFilter(self.roots, [Path(p) for p in ignore])
        self._ready = ready
        self._skipped: set[tuple[str, str]] = set()
        self.batches = 0

    def run(self, stop: threading.Event) -> None:
        """Sync once, then after every batch of changes, until `stop` is set."""
        try:
            import watchfiles  # only a watching command needs it
        except ImportError as exc:
            raise RagError(f"watching folders needs watchfiles ({exc}); install it with pip install "
                           "'rag[watch]'") from None
        due = True  # a sync is due: the first one, or one after a folder came back
        while not stop.is_set():
            missing = self._missing()
            if missing:
                self._wait_for(missing, stop)
                due = True
                continue
            # The watcher is live from the generator's first step on, and a sync runs between two
            # steps: whatever changes meanwhile is kept for the next step, never missed.
            pending, burst = 0, None
            for changes in watchfiles.watch(
                    *self.roots, watch_filter=self._filter, debounce=self.settings.debounce_ms,
                    step=self.settings.quiet_ms, stop_event=stop, rust_timeout=self.settings.quiet_ms,
                    yield_on_timeout=True, raise_interrupt=False, ignore_permission_denied=True):
                if stop.is_set() or self._missing():
                    break  # a watched folder went away: the watcher saw its last event
                if any(Path(path) in self.roots for _, path in changes):
                    due = True  # a folder moved away and back: its old watch is not to be trusted
                    break
                if changes:
                    # watchfiles ends a step when its set of changes stops growing, and a file
                    # written again and again is the same change each time: the burst ends only
                    # at a step with no change at all (an empty yield), or at debounce_ms.
                    pending += len(changes)
                    burst = burst if burst is not None else time.monotonic()
                    if time.monotonic() - burst < self.settings.debounce_ms / 1000:
                        continue
                if due or pending:
                    self.sync(pending)
                    pending, burst, due = 0, None, False
                    if self._ready is not None:
                        self._ready()
                        self._ready = None

    def sync(self, changes: int = 0) -> Batch:
        with _quiet_skips():
            try:
                report = self._sync()
            except RagError as exc:
                batch = Batch(None, error=str(exc), changes=changes)
            except OSError as exc:
                batch = Batch(None, error=f"the index was not updated: {exc.strerror or exc} "
                                          f"({exc.filename or 'index'}); the watch goes on", changes=changes)
            except Exception as exc:  # noqa: BLE001 - one batch failing must not end the watch
                log.debug("a watch batch failed", exc_info=True)
                batch = Batch(None, error=f"the index was not updated: unexpected {type(exc).__name__}: "
                                          f"{str(exc)[:160]}; the watch goes on", changes=changes)
            else:
                skipped = shown_skips(report.skipped)
                now = {(s.path, s.reason) for s in skipped}
                batch = Batch(report, new_skips=[s for s in skipped if (s.path, s.reason) not in self._skipped],
                              changes=changes)
                self._skipped = now
        self.batches += 1
        self._on_batch(batch)
        return batch

    def _missing(self) -> list[Path]:
        return [r for r in self.roots if not r.is_dir()]

    def _wait_for(self, missing: list[Path], stop: threading.Event) -> None:
        """A watched folder is gone: the index keeps its documents (a folder unmounted or moved
        away for a moment must not empty it) until it is back; then the watch resumes."""
        names = ", ".join(map(str, missing))
        self._on_batch(Batch(None, error=f"{names} is gone; its documents stay indexed and the watch waits for it "
                                         "(stop it and run `rag index` on the other folders to drop them)"))
        while not stop.wait(ROOT_POLL_SECONDS) and self._missing():
            pass


_QUIET_LOGGERS = ("rag.ingest.loaders", "rag.indexing.indexer")


class _SkipsOfThisThread(logging.Filter):
    """The watch reports skipped files itself, once each; their log warnings would repeat every batch."""

    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.thread == self.thread and record.levelno == logging.WARNING)


@contextmanager
def _quiet_skips() -> Iterator[None]:
    quiet = _SkipsOfThisThread()
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).addFilter(quiet)
    try:
        yield
    finally:
        for name in _QUIET_LOGGERS:
            logging.getLogger(name).removeFilter(quiet)


def watch_until_signalled(watch: FolderWatch, on_stop_requested: Callable[[], None],
                          on_abandon: Callable[[], None]) -> None:
    """Run `watch` in this (main) thread until Ctrl-C or SIGTERM: the first signal lets the batch
    under way finish and stops; a second one abandons it and exits at once (130).

    Abandoning is an exit, not an exception: a process that ends mid-update is what the index's
    commit protocol is built for (the live version is the old one or the new one, and the next
    writer sweeps the temporaries), while an exception unwinding through the update's own
    clean-up could land between the pointer's rename and the note that it happened."""
    import signal

    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        if stop.is_set():
            on_abandon()
            os._exit(130)
        stop.set()
        on_stop_requested()

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        watch.run(stop)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
