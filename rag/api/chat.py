"""The OpenAI-compatible routes: GET /v1/models (one model per collection) and
POST /v1/chat/completions, streamed (server-sent events ending in `data: [DONE]`) or not.

The answer text keeps its [n] markers; what each marker cites goes in a `citations` array, on the
response and on the last chunk of a stream. The generator answers at temperature 0 and within the
server's answer budget, because its sentences are checked against the passages they cite;
`temperature` and `max_tokens` are accepted and ignored, and the response says so under `rag.notes`.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from rag.api.auth import Caller
from rag.api.errors import APIError, body, from_rag_error
from rag.api.scope import collection_of_model, model_name, service, visible
from rag.api.streaming import pump
from rag.core.errors import RagError
from rag.core.records import Answer
from rag.safety.redact import redact, redact_data

router = APIRouter(tags=["OpenAI-compatible"])
IGNORED = {
    "temperature": "temperature is ignored: answers are generated at temperature 0 so their citations can be checked",
    "top_p": "top_p is ignored: answers are generated at temperature 0 so their citations can be checked",
    "max_tokens": "max_tokens is ignored: the server's answer budget (answer_tokens) applies",
    "max_completion_tokens": "max_completion_tokens is ignored: the server's answer budget (answer_tokens) applies",
}


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = Field(description="rag/<collection>, as GET /v1/models lists them")
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    k: int | None = Field(None, description="passages to retrieve (default: the server's k)")


def text_of(message: Message) -> str:
    content = message.content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type", "text") == "text")
    return content or ""


def citation(c, url: str | None = None) -> dict[str, Any]:
    return {"marker": c.marker, "doc_id": c.doc_id, "title": c.title, "quote": c.quote, "start": c.start,
            "end": c.end, "page": c.page_start, "page_end": c.page_end, "url": url}


def citations_of(answer: Answer, collection: str) -> list[dict[str, Any]]:
    return [citation(c, f"/v1/collections/{collection}/documents/{c.doc_id}") for c in answer.citations]


def extra_of(answer: Answer, notes: list[str]) -> dict[str, Any]:
    return redact_data({"answer": answer.text, "kind": answer.kind, "abstained": answer.abstained,
                        "reason": answer.reason,
                        "short_answer": answer.short_answer.to_dict() if answer.short_answer else None,
                        "generator": answer.generator, "dropped": answer.dropped, "notes": notes})


def usage_of(answer: Answer) -> dict[str, int]:
    prompt = int(answer.usage.get("prompt_tokens", 0))
    completion = int(answer.usage.get("completion_tokens", 0)) or len(answer.text.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


@router.get("/models", summary="The collections, one model each")
def models(request: Request, who: Caller):
    return {"object": "list", "data": [{"id": model_name(name), "object": "model", "created": 0, "owned_by": "rag"}
                                       for name in visible(request, who)]}


@router.post("/chat/completions", summary="Answer the last user message from the collection's documents")
async def chat_completions(request: Request, req: ChatRequest, who: Caller):
    who.check("ask")
    collection = collection_of_model(req.model)
    chat = service(request, who, collection, code="model_not_found", what="model")
    question = next((text_of(m) for m in reversed(req.messages) if m.role == "user"), "")
    if not question.strip():
        raise APIError(400, "the messages hold no user message to answer", param="messages")
    last = max(i for i, m in enumerate(req.messages) if m.role == "user")
    history = [{"role": m.role, "content": text_of(m)} for m in req.messages[:last] if m.role in ("user", "assistant")]
    notes = [note for name, note in IGNORED.items() if getattr(req, name) is not None]
    config = chat.config
    k = req.k if req.k is not None else config.k

    def events():  # the service takes its turn among the answers computed at once (page and API)
        return chat.ask_stream(question, history, config.generator, k)

    ident, created, model = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time()), model_name(collection)
    headers = {"X-Rag-Ignored": ", ".join(n for n in IGNORED if getattr(req, n) is not None)} if notes else {}
    if not req.stream:
        answer = None
        async for event in pump(events):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None
        return _json({"id": ident, "object": "chat.completion", "created": created, "model": model,
                      "choices": [{"index": 0, "message": {"role": "assistant", "content": redact(answer.text)},
                                   "finish_reason": "stop"}],
                      "usage": usage_of(answer), "citations": citations_of(answer, collection),
                      "rag": extra_of(answer, notes)}, headers)

    # The first event is awaited before the response starts, so a refusal (a bad question) is an
    # error with its status code, not a stream that ends at once.
    stream = pump(events)
    try:
        first = await anext(stream)
    except StopAsyncIteration:
        first = None

    def chunk(delta: dict, finish: str | None = None, **extra) -> str:
        data = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(data)}\n\n"

    async def sse():
        yield chunk({"role": "assistant", "content": ""})
        event = first
        try:
            while event is not None:
                if isinstance(event, Answer):
                    yield chunk({}, "stop", usage=usage_of(event), citations=citations_of(event, collection),
                                rag=extra_of(event, notes))
                elif event:
                    yield chunk({"content": redact(event)})
                event = await anext(stream, None)
        except RagError as exc:
            err = from_rag_error(exc)
            yield f"data: {json.dumps(body(err.status, err.message, err.code))}\n\n"
        finally:
            await stream.aclose()  # a client gone mid-answer stops the generation here
        yield "data: [DONE]\n\n"

    return StreamingResponse(sse(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **headers})


def _json(data: dict, headers: dict[str, str]) -> JSONResponse:
    return JSONResponse(data, headers=headers)

