"""A document's original file and where a span sits in it, for viewers: the file is found from
the index's record of the document and served only when it is still the file indexed. Every
"no" (a collection the key cannot see, an id not in the collection, a file gone or changed) is a
404, so a key learns nothing of other collections' documents or of the server's files."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from rag.api.auth import Caller
from rag.api.scope import service
from rag.safety.redact import redact_data

router = APIRouter()


@router.get("/collections/{name}/documents/{doc_id:path}/file", tags=["native"],
            summary="The document's original file (inline; `download=1` for an attachment)",
            response_class=FileResponse)
async def document_file(request: Request, name: str, doc_id: str, who: Caller, download: bool = False):
    chat = service(request, who, name)
    who.check("read")
    original = await run_in_threadpool(chat.original, doc_id)  # 404 unless verified
    return FileResponse(original.path, media_type=original.media_type, headers=original.headers(download=download))


@router.get("/collections/{name}/documents/{doc_id:path}/highlights", tags=["native"],
            summary="Where the span [start, end) of a document is: its quote, pages and boxes on the page")
async def document_highlights(request: Request, name: str, doc_id: str, start: int, end: int, who: Caller):
    chat = service(request, who, name)
    who.check("read")
    found = await run_in_threadpool(chat.highlights, doc_id, start, end)
    return redact_data(found.to_dict())
