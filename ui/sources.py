"""The page's routes for the source viewer: a document's original file, its text as indexed, the
boxes of a cited span, an image document's page as PNG, and pdf.js itself.

    GET /rag-source/file?collection=C&doc=ID[&download=1]
    GET /rag-source/view?collection=C&doc=ID
    GET /rag-source/highlights?collection=C&doc=ID&start=S&end=E
    GET /rag-source/page.png?collection=C&doc=ID&page=N
    GET /rag-source/pdfjs/<asset>

An ASGI middleware beside ui.guard's Guard, so it answers the same whether Gradio serves the page
alone or it is mounted in the HTTP API's server. A document is named by its id in a collection,
never by a path: the service finds its file from the index's own record and serves it only when
it is still the file that was indexed. Every "no" about a collection or a document is the same
404, so a request learns nothing about what it may not see; with a login, a request not signed
in gets 401 before anything is looked up.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, Response

from rag.app.collections import DEFAULT_COLLECTION
from rag.core.collections import is_name
from rag.core.errors import CollectionError, DocumentNotFoundError, RagError, SpanError
from ui.guard import signed_in
from ui.pdfjs import ASSETS

PREFIX = "/rag-source/"
NOT_FOUND = "no such document in this collection"
# Served types of pdf.js's own files (Python's table lacks some of them on some systems).
ASSET_TYPES = {".mjs": "text/javascript; charset=utf-8", ".js": "text/javascript; charset=utf-8",
               ".wasm": "application/wasm", ".bcmap": "application/octet-stream",
               ".pfb": "application/octet-stream", ".ttf": "font/ttf", ".otf": "font/otf"}
# What every answer carries: a document's bytes are never read as another type than the one
# sent, and the text and boxes of a private document are not kept by shared caches.
PRIVATE = {"x-content-type-options": "nosniff", "cache-control": "private, no-store",
           "referrer-policy": "same-origin"}


class Sources:
    """The middleware. `collections`: what the page serves (`service(name)`); `login`: whether the
    page has a login (then a request must be signed in); `sees(user, collection)`: whether a
    signed-in user may read a collection (None: every user may)."""

    def __init__(self, app, *, collections, login: bool = False,
                 sees: Callable[[str | None, str], bool] | None = None, assets: Path = ASSETS):
        self.app, self.collections, self.login, self.sees, self.assets = app, collections, login, sees, assets

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = route_path(scope)
        if not path.startswith(PREFIX):
            return await self.app(scope, receive, send)
        response = await self.answer(scope, path[len(PREFIX):])
        await response(scope, receive, send)

    async def answer(self, scope, name: str) -> Response:
        if scope["method"] not in ("GET", "HEAD"):
            return problem(405, "only GET is served here", {"allow": "GET, HEAD"})
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        user = signed_in(scope, headers)
        if self.login and user is None:
            return problem(401, "sign in to the page first")
        if name.startswith("pdfjs/"):
            return self.asset(name[len("pdfjs/"):])
        query = {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1"),
                                                keep_blank_values=True).items()}
        collection = query.get("collection") or DEFAULT_COLLECTION
        doc = query.get("doc", "")
        if not doc or not is_name(collection) or (self.sees is not None and not self.sees(user, collection)):
            return problem(404, NOT_FOUND)
        try:
            service = self.collections.service(collection)
            if name == "file":
                original = await run_in_threadpool(service.original, doc)
                return file_response(original, download=query.get("download") in ("1", "true", "yes"))
            if name == "view":
                view = await run_in_threadpool(service.source_view, doc)
                return data(view.to_dict())
            if name == "highlights":
                start, end = whole(query.get("start")), whole(query.get("end"))
                if start is None or end is None:
                    return problem(422, "start and end must be whole numbers (document offsets)")
                found = await run_in_threadpool(service.highlights, doc, start, end)
                return data(found.to_dict())
            if name == "page.png":
                page = whole(query.get("page", "1"))
                if page is None:
                    return problem(422, "page must be a whole number")
                png = await run_in_threadpool(service.page_image, doc, page)
                return Response(png, media_type="image/png", headers=PRIVATE)
        except (CollectionError, DocumentNotFoundError):
            return problem(404, NOT_FOUND)
        except SpanError as exc:
            return problem(422, str(exc))
        except RagError as exc:
            return problem(503, str(exc))
        return problem(404, "no such route")

    def asset(self, name: str) -> Response:
        """One of pdf.js's files, only from the assets folder: a name with `..`, a backslash or an
        absolute path is refused before the disk is looked at, and what it resolves to must still
        lie inside the folder (no link leads out)."""
        parts = name.split("/")
        if not name or "\\" in name or "\x00" in name or any(p in ("", ".", "..") for p in parts):
            return problem(404, "no such file")
        root = self.assets.resolve()
        path = (root / name).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return problem(404, "no such file")
        kind = ASSET_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=kind, headers={"x-content-type-options": "nosniff",
                                                            "cache-control": "public, max-age=86400"})


def route_path(scope) -> str:
    """The request's path inside the app (a root path the app is mounted under taken off)."""
    path, root = scope.get("path", ""), scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


def whole(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 12 else None


def data(payload: dict) -> Response:
    return Response(json.dumps(payload, ensure_ascii=False), media_type="application/json", headers=PRIVATE)


def problem(status: int, message: str, extra: dict | None = None) -> Response:
    return Response(json.dumps({"detail": message}), status_code=status, media_type="application/json",
                    headers={**PRIVATE, **(extra or {})})


def file_response(original, *, download: bool) -> Response:
    """The original file with the API's own headers (its name, no sniffing, a sandbox); a type a
    browser would run (HTML, SVG…) always as a download."""
    return FileResponse(original.path, media_type=original.media_type,
                        headers={**PRIVATE, **{k.lower(): v for k, v in original.headers(download=download).items()}})
