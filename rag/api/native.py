"""The routes OpenAI's shape has no room for: search with exact spans, collections, documents,
and the server's health and readiness."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, File, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from rag.api.auth import Caller
from rag.api.errors import APIError
from rag.api.scope import model_name, service, visible
from rag.app.access import Principal
from rag.app.documents import chunks_of, document_text
from rag.app.web import MAX_UPLOAD_BYTES
from rag.safety.redact import redact_data

router = APIRouter()
DEFAULT = "default"


class Filters(BaseModel):
    doc_ids: list[str] | None = None
    date_from: str | None = Field(None, description="YYYY-MM-DD, inclusive")
    date_to: str | None = Field(None, description="YYYY-MM-DD, inclusive")


class SearchRequest(BaseModel):
    query: str
    collection: str = DEFAULT
    k: int | None = None
    mode: Literal["hybrid", "dense", "bm25"] | None = None
    filters: Filters = Field(default_factory=Filters)


class NewCollection(BaseModel):
    name: str


class Removal(BaseModel):
    ids: list[str] = Field(min_length=1)


def hit(h) -> dict:
    meta = h.chunk.metadata
    return {"rank": h.rank, "score": round(float(h.score), 6), "doc_id": h.doc_id, "chunk_id": h.chunk.id,
            "title": h.title, "text": h.text, "start": h.start, "end": h.end,
            "page": meta.get("page_start"), "page_end": meta.get("page_end"),
            "scores": {k: round(float(v), 6) for k, v in h.scores_by_retriever.items()}}


@router.get("/health", tags=["server"], summary="The server is up (no key needed)")
def health():
    return {"status": "ok"}


@router.get("/ready", tags=["server"], summary="The default collection's index is loaded and its model warm")
def ready(request: Request, who: Caller):
    state = request.app.state
    warm = bool(state.warm.is_set())
    collections = [{"name": n, "documents": len(state.collections.service(n).retriever.documents)}
                   for n in visible(request, who)]
    body = {"ready": warm, "model_warm": warm, "collections": collections}
    if not warm:
        raise APIError(503, "the embedding model is still loading; try again in a few seconds", code="not_ready")
    return body


@router.post("/search", tags=["native"], summary="The passages that best match a query, with exact spans")
async def search(request: Request, req: SearchRequest, who: Caller):
    who.check("search")
    chat = service(request, who, req.collection)
    hits = await run_in_threadpool(chat.retriever.search, req.query, req.k, mode=req.mode,
                                   doc_ids=req.filters.doc_ids, date_from=req.filters.date_from,
                                   date_to=req.filters.date_to)
    return redact_data({"object": "list", "collection": req.collection, "data": [hit(h) for h in hits]})


@router.get("/collections", tags=["native"], summary="The collections this key may see")
def collections(request: Request, who: Caller):
    data = []
    for name in visible(request, who):
        data.append({"name": name, "model": model_name(name),
                     "documents": len(request.app.state.collections.service(name).retriever.documents)})
    return {"object": "list", "data": data}


@router.post("/collections", tags=["native"], status_code=201, summary="Create a collection (admin)")
async def create_collection(request: Request, req: NewCollection, who: Caller):
    who.check("manage")
    if not who.sees(req.name):
        raise APIError(403, "this key may only create the collections it is limited to", code="collection_not_allowed")
    await run_in_threadpool(request.app.state.collections.create, req.name)
    return {"name": req.name, "model": model_name(req.name), "documents": 0}


@router.delete("/collections/{name}", tags=["native"], summary="Delete a collection and its index (admin)")
async def delete_collection(request: Request, name: str, who: Caller):
    service(request, who, name)  # 404 before 403: a name the key cannot see is not confirmed
    who.check("manage")
    await run_in_threadpool(request.app.state.collections.delete, name)
    return {"name": name, "deleted": True}


@router.get("/collections/{name}/documents", tags=["native"], summary="The collection's documents")
async def list_documents(request: Request, name: str, who: Caller):
    chat = service(request, who, name)
    who.check("read")
    docs = await run_in_threadpool(chat.list_documents)
    return redact_data({"object": "list", "data": [_info(d) for d in docs]})


@router.post("/collections/{name}/documents", tags=["native"], status_code=201,
             summary="Upload documents (multipart, field `files`; any supported format)")
async def upload(request: Request, name: str, files: Annotated[list[UploadFile], File()],
                 who: Caller):
    chat = service(request, who, name)
    who.check("upload")
    done = []
    for f in files:
        data = await f.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise APIError(413, f"{f.filename}: file too large (the limit is {MAX_UPLOAD_BYTES // 1_000_000} MB)",
                           param="files")
        result = await run_in_threadpool(chat.upload, f.filename or "upload", data)
        done.append({"id": result.document.id, "title": result.document.title, "chunks": result.chunks,
                     "replaced": result.replaced, "status": result.status()})
    return {"object": "list", "data": done}


@router.delete("/collections/{name}/documents", tags=["native"], summary="Remove documents by id")
async def remove_documents(request: Request, name: str, req: Annotated[Removal, Body()],
                           who: Caller):
    return await _remove(request, name, req.ids, who)


@router.get("/collections/{name}/documents/{doc_id:path}", tags=["native"],
            summary="One document: its metadata and its text as indexed")
async def get_document(request: Request, name: str, doc_id: str, who: Caller):
    chat = service(request, who, name)
    who.check("read")
    info = chat.retriever.get_document(doc_id)  # DocumentNotFoundError: 404
    chunks = await run_in_threadpool(chunks_of, chat.retriever, doc_id)
    return redact_data({**_info(info), "text": document_text(chunks),
                        "passages": [{"chunk_id": c.id, "start": c.start, "end": c.end} for c in chunks]})


@router.delete("/collections/{name}/documents/{doc_id:path}", tags=["native"], summary="Remove one document")
async def remove_document(request: Request, name: str, doc_id: str, who: Caller):
    return await _remove(request, name, [doc_id], who)


async def _remove(request: Request, name: str, ids: list[str], who: Principal) -> dict:
    chat = service(request, who, name)
    who.check("remove")
    removal = await run_in_threadpool(chat.remove_documents, ids)
    return {"removed": list(removal.removed), "chunks": removal.n_chunks,
            "messages": removal.messages(full_paths=False)}


def _info(d) -> dict:
    return {"id": d.id, "title": d.title, "type": d.type, "pages": d.pages, "chunks": d.chunks, "size": d.size,
            "added": d.added_at, "updated": d.updated_at}
