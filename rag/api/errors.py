"""Errors in the shape OpenAI's clients read: `{"error": {"message", "type", "param", "code"}}`
with the status code that goes with it. Messages are masked (no key ever leaves in an error)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.core.errors import (
    AccessError,
    CollectionExistsError,
    CollectionNameError,
    CollectionNotFoundError,
    DocumentError,
    DocumentNotFoundError,
    EndpointNotAllowedError,
    GeneratorError,
    OriginalNotFoundError,
    QueryError,
    QuestionError,
    RagError,
    ReadOnlyError,
    SpanError,
)
from rag.safety.redact import redact

log = logging.getLogger("rag.api")

# (status, code) for the errors the library raises; the first match wins (subclasses first).
STATUS: tuple[tuple[type[Exception], int, str | None], ...] = (
    (CollectionNotFoundError, 404, "collection_not_found"),
    (CollectionExistsError, 409, "collection_exists"),
    (CollectionNameError, 400, "invalid_collection_name"),
    (OriginalNotFoundError, 404, "original_not_found"),
    (DocumentNotFoundError, 404, "document_not_found"),
    (SpanError, 422, "invalid_span"),
    (AccessError, 403, "insufficient_role"),
    (ReadOnlyError, 403, "read_only"),
    (EndpointNotAllowedError, 400, "endpoint_not_allowed"),
    (QuestionError, 400, "invalid_question"),
    (QueryError, 400, "invalid_query"),
    (DocumentError, 400, "invalid_document"),
    (GeneratorError, 502, "generator_failed"),
)
TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
         404: "not_found_error", 405: "invalid_request_error", 409: "invalid_request_error",
         413: "invalid_request_error", 422: "invalid_request_error", 429: "rate_limit_exceeded",
         503: "server_error"}


class APIError(Exception):
    def __init__(self, status: int, message: str, *, code: str | None = None, param: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.param, self.headers = status, message, code, param, headers or {}


def body(status: int, message: str, code: str | None = None, param: str | None = None) -> dict:
    return {"error": {"message": redact(message), "type": TYPES.get(status, "api_error"), "param": param,
                      "code": code}}


def response(status: int, message: str, code: str | None = None, param: str | None = None,
             headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body(status, message, code, param), status_code=status, headers=headers)


def from_rag_error(exc: RagError) -> APIError:
    for kind, status, code in STATUS:
        if isinstance(exc, kind):
            return APIError(status, str(exc), code=code)
    return APIError(400, str(exc))


def install(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def api_error(request: Request, exc: APIError):
        return response(exc.status, exc.message, exc.code, exc.param, exc.headers)

    @app.exception_handler(RagError)
    async def rag_error(request: Request, exc: RagError):
        err = from_rag_error(exc)
        return response(err.status, err.message, err.code, err.param)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        return response(400, f"{where or 'request'}: {first.get('msg', 'invalid request')}", param=where)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return response(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("the API request %s %s failed", request.method, request.url.path)
        return response(500, "something went wrong on the server; see its log")
