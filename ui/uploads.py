"""The folder the page's uploads arrive in, owned by this server.

Gradio's upload route writes each file it receives to its cache and serves it back at
`/gradio_api/file=…` for as long as it is there; its default cache is a folder shared by every
Gradio app on the machine, emptied by nobody. The page's uploads go to a private folder this
process makes instead (inside GRADIO_TEMP_DIR when the operator set one), each file is deleted as
soon as it is stored in the index or refused, what no event ever took is swept after
`MAX_AGE` seconds, and the folder goes when the process ends. So a removed or refused document
leaves no copy here that a URL could fetch. A process killed before it could clean up leaves its
folder with its pid in OWNER; the next server in the same place removes it once that process is
gone, and touches no folder it cannot prove was a server's.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

MAX_AGE = 900  # seconds an upload no event took may stay (a queued upload waits for the one before it)
SWEEP_EVERY = 300
PREFIX = "rag-web-uploads-"
OWNER = "owner.pid"

_lock = threading.Lock()
_process_cache: UploadCache | None = None


class UploadCache:
    """A private folder for received uploads; only files inside it are ever deleted."""

    def __init__(self, parent: str | os.PathLike | None = None):
        if parent is not None:
            Path(parent).mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent)).resolve()  # mode 0700
        (self.path / OWNER).write_text(str(os.getpid()))

    def owns(self, path: str | os.PathLike) -> bool:
        try:
            return Path(path).resolve().is_relative_to(self.path) and Path(path).resolve() != self.path
        except (OSError, ValueError):
            return False

    def discard(self, path: str | os.PathLike) -> None:
        """Delete one received file, and the folder Gradio made for it once that is empty."""
        if not self.owns(path):
            return
        target = Path(path).resolve()
        target.unlink(missing_ok=True)
        folder = target.parent
        while folder != self.path and self.owns(folder):
            try:
                folder.rmdir()
            except OSError:  # not empty: another upload is in it
                break
            folder = folder.parent

    def sweep(self, max_age: float = MAX_AGE) -> int:
        """Delete received files older than `max_age` seconds; how many went."""
        cutoff, gone = time.time() - max_age, 0
        for p in sorted(self.path.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if p == self.path / OWNER:
                continue
            try:
                if p.is_file() and not p.is_symlink() and p.stat().st_mtime < cutoff:
                    self.discard(p)
                    gone += 1
                elif p.is_dir() and not any(p.iterdir()) and p.stat().st_mtime < cutoff:
                    p.rmdir()
            except OSError:
                continue
        return gone

    def close(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def remove_abandoned(parent: Path) -> list[Path]:
    """Remove the upload folders in `parent` whose server process has ended (killed before it
    could remove its own); the ones removed."""
    gone = []
    for folder in parent.glob(f"{PREFIX}*"):
        try:
            pid = int((folder / OWNER).read_text())
        except (OSError, ValueError):  # no owner recorded: not provably a server's folder
            continue
        if pid == os.getpid() or _alive(pid):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        gone.append(folder)
    return gone


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def process_cache() -> UploadCache:
    """This process's upload cache, made on first use. Gradio reads GRADIO_TEMP_DIR whenever it
    checks where an upload is, so there is one folder per process, shared by its apps."""
    global _process_cache
    with _lock:
        if _process_cache is None:
            cache = UploadCache(os.environ.get("GRADIO_TEMP_DIR") or None)
            remove_abandoned(cache.path.parent)
            os.environ["GRADIO_TEMP_DIR"] = str(cache.path)
            atexit.register(cache.close)
            threading.Thread(target=_sweeper, args=(cache,), daemon=True, name="rag-upload-sweeper").start()
            _process_cache = cache
        return _process_cache


def _sweeper(cache: UploadCache) -> None:
    while True:
        time.sleep(SWEEP_EVERY)
        cache.sweep()
