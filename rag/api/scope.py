"""The collections a principal may see. One it may not see answers exactly as one that does not
exist (404), so a key learns no names beyond its own."""

from __future__ import annotations

from fastapi import Request

from rag.api.errors import APIError
from rag.app.access import Principal
from rag.app.service import ChatService

MODEL_PREFIX = "rag/"


def visible(request: Request, who: Principal) -> list[str]:
    return [name for name in request.app.state.collections.names() if who.sees(name)]


def service(request: Request, who: Principal, name: str, *, code: str = "collection_not_found",
            what: str = "collection") -> ChatService:
    collections = request.app.state.collections
    if not who.sees(name) or not collections.exists(name):
        raise APIError(404, f"no {what} named {name!r}" + (" (GET /v1/models lists them)" if what == "model" else ""),
                       code=code)
    return collections.service(name)


def model_name(collection: str) -> str:
    return f"{MODEL_PREFIX}{collection}"


def collection_of_model(model: str) -> str:
    return model[len(MODEL_PREFIX):] if model.startswith(MODEL_PREFIX) else model
