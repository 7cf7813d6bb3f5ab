"""The native routes: search with exact spans, documents uploaded, asked about and removed
through the API (and seen in the page's Documents panel), collections, health and readiness."""

from __future__ import annotations

import time

import httpx
import pytest

from ..support.api import start_api, stop_api
from ..support.web import call_event

LIGHTHOUSE = "Notes on the Zanzibar lighthouse.\n\nThe Zanzibar lighthouse keeper is named Omari Juma.\n"
ASK_KEEPER = "Who is the Zanzibar lighthouse keeper?"


@pytest.fixture(scope="module")
def live(tmp_path_factory, embedder, monkeypatch_module):
    live = start_api(tmp_path_factory, embedder, monkeypatch_module,
                     keys={"editor": ("editor", None), "admin": ("admin", None)})
    yield live
    stop_api(live)


def ask(live, question: str) -> dict:
    r = httpx.post(f"{live.api}/chat/completions", headers=live.headers("editor"), timeout=60,
                   json={"model": "rag/default", "messages": [{"role": "user", "content": question}]})
    r.raise_for_status()
    return r.json()


def page_documents(live) -> str:
    """The Documents panel's list, as the page loads it."""
    return call_event(live.url, None, "listing", ["default"])["output"]["data"][0]


def test_search_returns_exact_spans_with_scores(live):
    r = httpx.post(f"{live.api}/search", headers=live.headers("editor"),
                   json={"query": "IMU founded Uzbeks", "k": 3, "mode": "hybrid"})
    hits = r.json()["data"]
    assert len(hits) == 3 and hits[0]["rank"] == 1
    text = httpx.get(f"{live.api}/collections/default/documents/{hits[0]['doc_id']}",
                     headers=live.headers("editor")).json()["text"]
    for h in hits:
        assert text[h["start"]:h["end"]] == h["text"]
        assert h["score"] > 0 and set(h["scores"]) <= {"dense", "bm25"}


def test_search_filters_by_document(live):
    r = httpx.post(f"{live.api}/search", headers=live.headers("editor"),
                   json={"query": "IMU", "filters": {"doc_ids": ["no-such-doc"]}})
    assert r.status_code == 200 and r.json()["data"] == []


def test_upload_ask_remove_then_the_documents_dont_say(live):
    files = {"files": ("lighthouse.md", LIGHTHOUSE.encode(), "text/markdown")}
    r = httpx.post(f"{live.api}/collections/default/documents", headers=live.headers("editor"), files=files,
                   timeout=60)
    assert r.status_code == 201, r.text
    doc_id = r.json()["data"][0]["id"]
    listed = httpx.get(f"{live.api}/collections/default/documents", headers=live.headers("editor")).json()["data"]
    row = next(d for d in listed if d["id"] == doc_id)
    assert row["chunks"] >= 1 and row["added"]
    assert doc_id in page_documents(live)  # the page's Documents panel shows it too

    answer = ask(live, ASK_KEEPER)
    assert "Omari Juma" in answer["choices"][0]["message"]["content"]
    assert answer["citations"][0]["doc_id"] == doc_id

    r = httpx.request("DELETE", f"{live.api}/collections/default/documents/{doc_id}", headers=live.headers("editor"))
    assert r.status_code == 200 and r.json()["removed"] == [doc_id]
    answer = ask(live, ASK_KEEPER)
    assert answer["choices"][0]["message"]["content"] == "The documents don't say."
    assert answer["citations"] == [] and answer["rag"]["abstained"]
    assert doc_id not in page_documents(live)


def test_a_document_shows_its_metadata_and_text(live):
    r = httpx.get(f"{live.api}/collections/default/documents/imu-pakistan-2014.txt", headers=live.headers("editor"))
    doc = r.json()
    assert doc["title"].startswith("With Recent Attacks") and doc["chunks"] == len(doc["passages"])
    assert "IMU was first formed" in doc["text"]
    missing = httpx.get(f"{live.api}/collections/default/documents/nope.txt", headers=live.headers("editor"))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "document_not_found"


def test_an_upload_of_an_unreadable_type_is_refused_in_words(live):
    files = {"files": ("tool.exe", b"MZ\x90\x00", "application/octet-stream")}
    r = httpx.post(f"{live.api}/collections/default/documents", headers=live.headers("editor"), files=files)
    assert r.status_code == 400 and r.json()["error"]["message"]


def test_admins_create_and_delete_collections(live):
    r = httpx.post(f"{live.api}/collections", headers=live.headers("admin"), json={"name": "team-b"})
    assert r.status_code == 201
    names = [c["name"] for c in httpx.get(f"{live.api}/collections", headers=live.headers("admin")).json()["data"]]
    assert names == ["default", "team-b"]
    again = httpx.post(f"{live.api}/collections", headers=live.headers("admin"), json={"name": "team-b"})
    assert again.status_code == 409
    bad = httpx.post(f"{live.api}/collections", headers=live.headers("admin"), json={"name": "../etc"})
    assert bad.status_code == 400
    assert httpx.delete(f"{live.api}/collections/team-b", headers=live.headers("admin")).status_code == 200
    assert httpx.get(f"{live.api}/collections/team-b/documents", headers=live.headers("admin")).status_code == 404


def test_an_editor_cannot_manage_collections(live):
    r = httpx.post(f"{live.api}/collections", headers=live.headers("editor"), json={"name": "team-c"})
    assert r.status_code == 403 and r.json()["error"]["type"] == "permission_error"


def test_health_needs_no_key_and_ready_says_when_the_model_is_warm(live):
    assert httpx.get(f"{live.api}/health").json() == {"status": "ok"}
    deadline = time.monotonic() + 30
    while (r := httpx.get(f"{live.api}/ready", headers=live.headers("editor"))).status_code == 503:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert r.json()["ready"] and r.json()["collections"][0]["name"] == "default"


def test_the_schema_and_docs_are_under_v1(live):
    schema = httpx.get(f"{live.api}/openapi.json").json()
    assert {"/chat/completions", "/models", "/search", "/collections"} <= set(schema["paths"])
    assert httpx.get(f"{live.api}/docs").status_code == 200


def test_a_body_over_the_limit_is_413(live):
    r = httpx.post(f"{live.api}/search", headers=live.headers("editor"),
                   content=b'{"query": "' + b"x" * (2 * 1024 * 1024) + b'"}')
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"
