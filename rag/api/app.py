"""The /v1 application: the routes, their errors in OpenAI's shape, and the body size limit.
Mounted at /v1 by rag.api.server, so its schema is /v1/openapi.json and its docs /v1/docs."""

from __future__ import annotations

import json
import threading

from fastapi import FastAPI

from rag.api import chat, errors, native, sources
from rag.api.auth import AccessPolicy
from rag.api.limits import BodyLimit
from rag.app.web import MAX_UPLOAD_BYTES

# A multipart upload carries its file and a little framing; ten files fit in one request.
UPLOAD_REQUEST_LIMIT = 10 * (MAX_UPLOAD_BYTES + 1024 * 1024)


class BoundCollections:
    """The server's collections, each service taking its answers' turns from the shared slots."""

    def __init__(self, collections, policy: AccessPolicy):
        self._collections, self._policy = collections, policy

    def __getattr__(self, name):
        return getattr(self._collections, name)

    def service(self, name: str):
        service = self._collections.service(name)
        service.slots = self._policy.slots
        return service

    def create(self, name: str):
        service = self._collections.create(name)
        service.slots = self._policy.slots
        return service


def _is_upload(method: str, path: str) -> bool:
    return method == "POST" and path.rstrip("/").endswith("/documents")


async def _too_large(send, limit: int) -> None:
    data = json.dumps(errors.body(413, f"the request body is over the limit of {limit:,} bytes",
                                  code="request_too_large")).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


def build_api(collections, policy: AccessPolicy, *, max_request_bytes: int,
              warm: threading.Event | None = None) -> FastAPI:
    api = FastAPI(title="rag HTTP API", version="1",
                  description="Question answering over your documents, with citations: OpenAI-compatible chat "
                              "completions and models, plus search, collections and documents. Send "
                              "`Authorization: Bearer KEY` (keys: `rag keys create`).",
                  docs_url="/docs", redoc_url=None, openapi_url="/openapi.json")
    api.state.collections = BoundCollections(collections, policy)
    api.state.access = policy
    api.state.warm = warm or threading.Event()
    errors.install(api)
    api.include_router(chat.router)
    api.include_router(sources.router)  # before native's catch-all GET of a document
    api.include_router(native.router)
    api.add_middleware(BodyLimit, limit=max_request_bytes, upload_limit=UPLOAD_REQUEST_LIMIT, is_upload=_is_upload,
                       refuse=_too_large)
    return api
