"""pdf.js for the source viewer, served by the app itself (no CDN): `python -m ui.pdfjs` fetches one
pinned release of pdfjs-dist from the npm registry, checks it against the hash the registry
published for it, and unpacks only the files the viewer loads into ui/static/pdfjs/ (not kept in
git; `make setup` runs this). Without them the viewer shows a PDF as its indexed text.
"""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

VERSION = "6.5.438"
URL = f"https://registry.npmjs.org/pdfjs-dist/-/pdfjs-dist-{VERSION}.tgz"
INTEGRITY = "sha512-vg8Pw1x+AFKy4AMDvhuWl5cOYV8d698UoEANoFFhc79hqXDnZQqnOXoxw3HG907WHOg1JYOvLhP756boddFxpA=="
ASSETS = Path(__file__).with_name("static") / "pdfjs"
# What the viewer loads: the library, its worker, the fonts and character maps PDFs refer to by
# name, the decoders built as WebAssembly, and the licence that must travel with them.
FILES = ("build/pdf.min.mjs", "build/pdf.worker.min.mjs", "LICENSE")
FOLDERS = ("standard_fonts/", "cmaps/", "wasm/")
MAX_DOWNLOAD = 64 * 1024 * 1024
TIMEOUT = 60


class PdfjsError(Exception):
    """The release could not be fetched or is not the one pinned."""


def installed(folder: Path = ASSETS) -> bool:
    return (folder / "pdf.min.mjs").is_file() and (folder / "pdf.worker.min.mjs").is_file()


def _version(folder: Path) -> str:
    try:
        return (folder / ".version").read_text().strip()
    except OSError:
        return ""


def verify(data: bytes, integrity: str = INTEGRITY) -> None:
    algorithm, _, expected = integrity.partition("-")
    digest = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if digest != expected:
        raise PdfjsError(f"pdfjs-dist {VERSION}: the download does not match its published {algorithm} hash; "
                         "nothing was installed")


def target_of(name: str) -> str | None:
    """Where a member of the package goes under the assets folder (None: not wanted). build/ files
    land at the top, so the page asks for /rag-source/pdfjs/pdf.min.mjs."""
    name = name.removeprefix("package/")
    parts = name.split("/")
    if name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        return None
    if name in FILES:
        return parts[-1]
    if any(name.startswith(folder) for folder in FOLDERS):
        return name
    return None


def unpack(data: bytes, folder: Path = ASSETS) -> int:
    """The wanted files of the verified archive `data` into `folder`, replacing what was there;
    the number of files written."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".pdfjs-", dir=folder.parent))
    staging.chmod(0o755)  # mkdtemp's folder is private; the assets are served to every page
    try:
        count = 0
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for member in archive:
                target = target_of(member.name)
                if target is None or not member.isfile():
                    continue
                path = staging / target
                path.parent.mkdir(parents=True, exist_ok=True)
                with archive.extractfile(member) as src, open(path, "wb") as out:
                    shutil.copyfileobj(src, out)
                count += 1
        if not installed(staging):
            raise PdfjsError(f"pdfjs-dist {VERSION}: the archive lacks build/pdf.min.mjs or its worker")
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.rename(old)
        staging.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
        return count
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def fetch(url: str = URL) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:  # noqa: S310 - a fixed https URL
            data = response.read(MAX_DOWNLOAD + 1)
    except OSError as exc:
        raise PdfjsError(f"could not download pdfjs-dist {VERSION} from {url}: {exc}") from None
    if len(data) > MAX_DOWNLOAD:
        raise PdfjsError(f"pdfjs-dist {VERSION}: the download is larger than expected; nothing was installed")
    return data


def install(folder: Path = ASSETS, *, force: bool = False) -> str:
    if not force and installed(folder) and _version(folder) == VERSION:
        (folder / ".version").touch()  # make's mark that this release is in place
        return f"pdf.js {VERSION} is already in {folder}"
    data = fetch()
    verify(data)
    count = unpack(data, folder)
    (folder / ".version").write_text(VERSION + "\n")
    return f"pdf.js {VERSION}: {count} files in {folder}"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        print(install(force="--force" in argv))
    except PdfjsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
