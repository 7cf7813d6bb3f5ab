"""Web pages as documents: fetched only when they changed, remembered between runs.

Each URL's validators (ETag, Last-Modified) and the hash of the document it gave are kept in
`web.json` in the index directory, written like the index's other files (a temporary name the
ledger lists, fsynced, renamed into place). The next run sends them back (If-None-Match,
If-Modified-Since): a 304 is an unchanged page, neither downloaded nor embedded. Validators are
sent only while the index still holds the document with that very hash, so a page removed or
rebuilt away is fetched whole again rather than answered "unchanged" into nothing.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.core.errors import DocumentError
from rag.core.records import Document
from rag.ingest.fetch import SUFFIXES, Fetcher, FetchError, document_id, expand_sitemap
from rag.ingest.loaders import FileLimits, SkippedFile, load_web_document
from rag.safety.ownership import OwnedDir, write_error

log = logging.getLogger("rag.indexing.web_sources")

STATE_FILE = "web.json"
_STATE_TMP = "tmp-web.json"


@dataclass
class WebLoad:
    documents: list[Document] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # 304: the indexed version stands
    validators: dict[str, dict[str, str]] = field(default_factory=dict)  # doc id -> etag, last_modified


def read_state(index_dir: Path) -> dict[str, dict[str, Any]]:
    """URL -> {etag, last_modified, hash}; empty when there is none or it is unreadable (then
    every page is simply fetched whole)."""
    try:
        data = json.loads((index_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    pages = data.get("pages") if isinstance(data, dict) else None
    return {k: v for k, v in pages.items() if isinstance(v, dict)} if isinstance(pages, dict) else {}


def write_state(index_dir: Path, pages: Mapping[str, Mapping[str, Any]]) -> None:
    """Replace web.json atomically; call with the index's lock held."""
    owned = OwnedDir(index_dir, "index")
    owned.claim(allow_foreign=owned.is_claimed())
    if not (owned.owns(STATE_FILE) and owned.owns(_STATE_TMP)):
        owned.record(STATE_FILE, _STATE_TMP)
    tmp = index_dir / _STATE_TMP
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"format_version": 1, "pages": dict(sorted(pages.items()))}, fh, indent=1, ensure_ascii=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, index_dir / STATE_FILE)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise write_error(index_dir, exc) from None


def load_web(urls: Sequence[str], fetcher: Fetcher, *, limits: FileLimits, state: Mapping[str, Mapping[str, Any]],
             indexed: Mapping[str, Mapping[str, Any]], max_sitemap_urls: int) -> WebLoad:
    """Fetch and read `urls` (a sitemap among them stands for its pages). `state`: what earlier
    runs remembered; `indexed`: the index's documents (id -> manifest entry, with its hash)."""
    result = WebLoad()
    queue = [(u, True) for u in urls]  # (url, may be a sitemap)
    seen: set[str] = set()
    while queue:
        url, top = queue.pop(0)
        doc_id = document_id(url)
        if doc_id in seen:
            continue
        seen.add(doc_id)
        known = state.get(doc_id) or {}
        entry = indexed.get(doc_id)
        conditional = bool(known.get("hash")) and entry is not None and entry.get("hash") == known.get("hash")
        try:
            got = fetcher.fetch(doc_id, etag=str(known.get("etag") or "") if conditional else "",
                                last_modified=str(known.get("last_modified") or "") if conditional else "")
            if got.status == 304:
                result.unchanged.append(doc_id)
                result.validators[doc_id] = {"etag": got.etag, "last_modified": got.last_modified}
                continue
            if got.is_sitemap:
                if not top:
                    raise FetchError("a sitemap listed among a sitemap's pages; not followed")
                pages, failed = expand_sitemap(fetcher, got, max_sitemap_urls)
                for loc, reason in failed:
                    _skip(result, loc, reason)
                queue[:0] = [(p, False) for p in pages]
                log.info("sitemap %s lists %d pages", doc_id, len(pages))
                continue
            suffix = SUFFIXES.get(got.content_type)
            if suffix is None:
                raise FetchError(f"content type {got.content_type!r} is not a page rag reads")
            meta = {"final_url": got.final_url} if got.final_url != doc_id else {}
            doc = load_web_document(doc_id, suffix, got.data, limits=limits, metadata=meta)
        except DocumentError as exc:
            _skip(result, doc_id, str(exc), keep=doc_id)
            continue
        result.documents.append(doc)
        result.validators[doc_id] = {"etag": got.etag, "last_modified": got.last_modified}
    return result


def _skip(result: WebLoad, url: str, reason: str, keep: str | None = None) -> None:
    log.warning("skipped %s: %s", url, reason)
    result.skipped.append(SkippedFile(url, reason, keep))
