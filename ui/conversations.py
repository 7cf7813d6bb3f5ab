"""The conversations a browser keeps: plain JSON (it lives in the browser's localStorage), so every
function here takes and returns dicts and trusts nothing it reads back — a stored value may be
from an older version of the page or edited by hand.

    store = {"current": id, "conversations": [{"id", "title", "updated", "collection", "turns": [turn, ...]}, ...]}
    turn  = {"question", "answer", "status", "abstained", "sources", "meta", "note", "short", "dropped", "kind",
             "reason"}

`collection` is the document collection the conversation asks (its first question's; follow-ups
stay in it), "" for one stored before collections. `status` is "done", "stopped" or "error". `sources` are the retrieved passages as shown in the
sources panel (see `sources_of`), so a reopened conversation shows what its answers cited.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from rag.app.web import without_bidi
from rag.core.collections import DEFAULT_COLLECTION, is_name
from rag.core.pages import pages_label
from rag.core.records import ANSWER_KIND_LABELS, Answer

MAX_CONVERSATIONS = 30  # localStorage holds ~5 MB; the oldest conversations make room
MAX_TITLE = 60
STATUSES = {"done", "stopped", "error"}


def empty_store() -> dict:
    return {"current": "", "conversations": []}


def new_conversation() -> dict:
    return {"id": uuid.uuid4().hex[:12], "title": "", "updated": time.time(), "collection": "", "turns": []}


def clean_store(value: Any) -> dict:
    """A usable store from whatever the browser sent back; anything malformed is dropped."""
    if not isinstance(value, dict) or not isinstance(value.get("conversations"), list):
        return empty_store()
    conversations = []
    for conv in value["conversations"]:
        if not isinstance(conv, dict) or not isinstance(conv.get("id"), str) or not isinstance(conv.get("turns"), list):
            continue
        turns = [clean_turn(t) for t in conv["turns"] if isinstance(t, dict)]
        updated = conv.get("updated")
        conversations.append({"id": conv["id"][:40], "title": str(conv.get("title", ""))[:MAX_TITLE],
                              "updated": float(updated) if isinstance(updated, (int, float)) else 0.0,
                              "collection": conv["collection"] if is_name(conv.get("collection")) else "",
                              "turns": [t for t in turns if t["question"]]})
    current = value.get("current") if isinstance(value.get("current"), str) else ""
    return {"current": current, "conversations": conversations[:MAX_CONVERSATIONS]}


def clean_turn(turn: dict) -> dict:
    sources = turn.get("sources")
    return {"question": str(turn.get("question", "")), "answer": str(turn.get("answer", "")),
            "status": turn.get("status") if turn.get("status") in STATUSES else "done",
            "abstained": bool(turn.get("abstained")),
            "sources": [s for s in sources if isinstance(s, dict)] if isinstance(sources, list) else [],
            "meta": str(turn.get("meta", "")), "note": str(turn.get("note", "")),
            "short": _short(turn.get("short")), "dropped": _count(turn.get("dropped")),
            "kind": turn.get("kind") if turn.get("kind") in ANSWER_KIND_LABELS else "", "reason": str(turn.get("reason", ""))}


def _count(value: object) -> int:
    """A stored count of left-out sentences (0 when missing or not a small whole number)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1000 else 0


def _short(value: object) -> dict | None:
    """A stored short answer, if it is well formed (the browser's copy may be edited by hand)."""
    if not isinstance(value, dict) or not isinstance(value.get("text"), str):
        return None
    try:
        return {"text": value["text"], "marker": int(value.get("marker", 0))}
    except (TypeError, ValueError):
        return None


def short_of(answer: Answer) -> dict | None:
    s = answer.short_answer
    return None if s is None or answer.abstained else {"text": s.text, "marker": s.marker}


def current(store: dict) -> dict | None:
    for conv in store["conversations"]:
        if conv["id"] == store["current"]:
            return conv
    return None


def current_or_new(store: dict) -> dict:
    """The open conversation; a new one (first in the list) when none is open."""
    conv = current(store)
    if conv is None:
        conv = new_conversation()
        store["conversations"].insert(0, conv)
        store["current"] = conv["id"]
        del store["conversations"][MAX_CONVERSATIONS:]
    return conv


def start_new(store: dict) -> None:
    """'New chat': an empty conversation replaces an empty open one rather than piling up."""
    store["conversations"] = [c for c in store["conversations"] if c["turns"]]
    store["current"] = ""


def open_conversation(store: dict, conv_id: str) -> bool:
    if any(c["id"] == conv_id for c in store["conversations"]):
        store["current"] = conv_id
        return True
    return False


def delete_current(store: dict) -> None:
    store["conversations"] = [c for c in store["conversations"] if c["id"] != store["current"]]
    store["current"] = ""


def collection_of(conv: dict | None) -> str:
    """The collection a conversation asks (the default one for a new or older conversation)."""
    return (conv or {}).get("collection") or DEFAULT_COLLECTION


def add_turn(store: dict, turn: dict, collection: str = "") -> None:
    """`collection`: where the turn was answered; a conversation keeps its first one's."""
    conv = current_or_new(store)
    if not conv.get("collection"):
        conv["collection"] = collection
    conv["turns"].append(turn)
    if not conv["title"]:
        title = " ".join(turn["question"].split())
        conv["title"] = title if len(title) <= MAX_TITLE else title[:MAX_TITLE - 1] + "…"
    touch(store, conv)


def touch(store: dict, conv: dict) -> None:
    """Most recently used first."""
    conv["updated"] = time.time()
    store["conversations"].remove(conv)
    store["conversations"].insert(0, conv)


def choices(store: dict) -> list[tuple[str, str]]:
    """(label, id) for the list; labels are shown as text by the page, without the controls that
    would reorder it."""
    out = []
    for conv in store["conversations"]:
        if conv["turns"]:
            when = time.strftime("%d %b %H:%M", time.localtime(conv["updated"]))
            out.append((without_bidi(f"{conv['title']} · {when}"), conv["id"]))
    return out


def history(conv: dict | None) -> list[dict]:
    """The conversation as role/content messages, for resolving follow-up questions."""
    messages: list[dict] = []
    for turn in (conv or {}).get("turns", []):
        if turn["status"] == "error":
            continue
        messages += [{"role": "user", "content": turn["question"]},
                     {"role": "assistant", "content": turn["answer"]}]
    return messages


def sources_of(answer: Answer) -> list[dict]:
    """Every retrieved passage, cited ones first with their markers and quote spans (chunk offsets),
    and "cites": each marker's quote in document offsets with its first page (what the source
    viewer opens at)."""
    markers: dict[str, list[int]] = {}
    spans: dict[str, list[list[int]]] = {}
    for c in answer.citations:
        markers.setdefault(c.chunk_id, []).append(c.marker)
    hits = {h.chunk.id: h for h in answer.hits}
    for c in answer.citations:
        hit = hits.get(c.chunk_id)
        if hit is not None:
            spans.setdefault(c.chunk_id, []).append([c.start - hit.chunk.start, c.end - hit.chunk.start])
    # A cited passage shows the pages its quotes are on; another shows the pages the passage spans.
    pages: dict[str, str] = {}
    for chunk_id in markers:
        cites = [c for c in answer.citations if c.chunk_id == chunk_id and c.page_start is not None]
        if cites:
            pages[chunk_id] = pages_label(min(c.page_start for c in cites),
                                          max(c.page_end or c.page_start for c in cites))
    # Where each marker's quote is in its document, for the source viewer.
    cites: dict[str, list[dict]] = {}
    for c in answer.citations:
        cites.setdefault(c.chunk_id, []).append({"marker": c.marker, "start": c.start, "end": c.end,
                                                 "page": c.page_start})
    ordered = sorted(answer.hits, key=lambda h: (min(markers.get(h.chunk.id, [10**6])), h.rank))
    return [{"doc_id": h.chunk.doc_id, "title": h.chunk.title, "date": str(h.chunk.metadata.get("date") or ""),
             "start": h.chunk.start, "end": h.chunk.end, "score": round(float(h.score), 4), "rank": h.rank,
             "text": h.chunk.text, "markers": sorted(set(markers.get(h.chunk.id, []))),
             "spans": spans.get(h.chunk.id, []),
             "cites": cites.get(h.chunk.id, []),
             "pages": pages.get(h.chunk.id) or pages_label(h.chunk.metadata.get("page_start"),
                                                            h.chunk.metadata.get("page_end")),
             "section": str(h.chunk.metadata.get("section") or ""),
             "url": str(h.chunk.metadata.get("url") or "")}
            for h in ordered]
