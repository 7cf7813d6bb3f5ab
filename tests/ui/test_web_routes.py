"""The web server's routes as any program can call them, and the removal question in a real
headless Chromium: no upload outlives its handling, a read-only server and another site's page
cannot upload, logins cannot be guessed at speed, a bad call is one line, and a title's Markdown
fetches nothing."""

from __future__ import annotations

import logging
import os
import time
import uuid
from pathlib import Path

import httpx
import pytest

from ..support.web import call_event, file_data, open_documents, screenshot, upload


def cached_copies(data: bytes) -> list[Path]:
    """Files under the page's upload cache that hold `data`."""
    root = Path(os.environ["GRADIO_TEMP_DIR"])
    return [p for p in root.rglob("*") if p.is_file() and data in p.read_bytes()]


def fetch(url: str, path: str) -> int:
    return httpx.get(f"{url.rstrip('/')}/gradio_api/file={path}", timeout=30).status_code


def test_a_stored_then_removed_upload_leaves_no_copy_to_fetch(web):
    url, config = web
    data = f"The Kilwa harbour master is Amina Said ({uuid.uuid4().hex}).".encode()
    (path,) = upload(url, "kilwa-notes.txt", data).json()
    assert fetch(url, path) == 200  # what Gradio serves while the upload is being handled

    session = uuid.uuid4().hex[:12]
    call_event(url, None, "listing", ["default"], session)
    stored = call_event(url, "upload", "upload", [[file_data(path, "kilwa-notes.txt")], "default"], session)
    assert "✓ uploads/kilwa-notes.txt: indexed" in stored["output"]["data"][0]
    assert fetch(url, path) != 200 and cached_copies(data) == []

    removed = call_event(url, "confirm-remove", "click", ["uploads/kilwa-notes.txt", "default"], session)
    assert "removed" in removed["output"]["data"][0]
    assert fetch(url, path) != 200 and cached_copies(data) == []
    assert not any(data in p.read_bytes() for p in Path(config.corpus_dir).rglob("*") if p.is_file())


def test_a_refused_upload_leaves_no_copy_to_fetch(web):
    url, _ = web
    data = b"%PDF-1.4 truncated " + uuid.uuid4().hex.encode()
    (path,) = upload(url, "blob.pdf", data).json()
    refused = call_event(url, "upload", "upload", [[file_data(path, "blob.pdf")], "default"])
    assert "✗ blob.pdf" in refused["output"]["data"][0]
    assert fetch(url, path) != 200 and cached_copies(data) == []


def test_uploads_come_from_this_servers_own_page_only(web):
    url, _ = web
    data = uuid.uuid4().hex.encode()
    refused = upload(url, "notes.txt", data, headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403 and "own page" in refused.json()["detail"]
    assert cached_copies(data) == []
    origin = url.rstrip("/")
    assert upload(url, "notes.txt", data, headers={"Origin": origin}).status_code == 200


def test_a_file_over_the_upload_limit_is_refused_at_the_door(web):
    from rag.app.web import MAX_UPLOAD_BYTES

    url, _ = web
    big = upload(url, "huge.txt", b"x" * (MAX_UPLOAD_BYTES + 2 * 1024 * 1024))
    assert big.status_code == 413


def test_a_read_only_server_takes_no_upload_at_any_route(web, embedder):
    from rag.app.service import ChatService
    from rag.generators.local_server import free_port
    from ui.app import serve

    _, config = web
    service = ChatService(config.replace(read_only=True), embedder=embedder)
    port = free_port()
    app = serve(service.config, port=port, block=False, service=service)
    try:
        data = uuid.uuid4().hex.encode()
        refused = upload(f"http://127.0.0.1:{port}/", "notes.txt", data)
        assert refused.status_code == 403 and "read-only" in refused.json()["detail"]
        assert cached_copies(data) == []
    finally:
        app.close()


def test_logins_guessed_at_speed_are_held_back(web, embedder):
    from rag.app.service import ChatService
    from rag.generators.local_server import free_port
    from ui.app import serve
    from ui.guard import FREE_TRIES

    _, config = web
    port = free_port()
    app = serve(config, port=port, auth="ann:s3cret", block=False, service=ChatService(config, embedder=embedder))
    try:
        login = f"http://127.0.0.1:{port}/login"
        codes = []
        t0 = time.monotonic()
        with httpx.Client() as client:
            while time.monotonic() - t0 < 2.0:
                codes.append(client.post(login, data={"username": "ann", "password": f"guess{len(codes)}"}).status_code)
            checked = sum(code == 400 for code in codes)
            assert FREE_TRIES < checked <= FREE_TRIES + 2  # free tries, then 1 s, 2 s ... apart
            assert codes[-1] == 429
            locked = client.post(login, data={"username": "ann", "password": "s3cret"})
            assert locked.status_code == 429 and "try again in" in locked.json()["detail"]
    finally:
        app.close()


def test_a_bad_call_is_one_log_line_and_a_clear_refusal(web, caplog, capfd):
    url, _ = web
    session = uuid.uuid4().hex[:12]
    call_event(url, None, "listing", ["default"], session)
    with caplog.at_level(logging.WARNING, logger="rag.ui"):
        listed = call_event(url, "confirm-remove", "click", [["imu-pakistan-2014.txt"] * 2, "default"], session)
        huge = call_event(url, "confirm-remove", "click", ["x" * 100_000, "default"], session)
    assert "✗ choose one document to remove" in listed["output"]["data"][0]
    assert huge["success"] is False and "refused" in huge["output"]["error"]
    assert len(huge["output"]["error"]) < 400
    err = capfd.readouterr().err
    assert "Traceback" not in err and "x" * 1000 not in err
    refusals = [r.getMessage() for r in caplog.records if "refused a call" in r.getMessage()]
    assert len(refusals) == 1 and len(refusals[0]) < 400


@pytest.mark.browser
def test_a_titles_markdown_in_the_removal_question_fetches_nothing_and_links_nowhere(page, tmp_path):
    pixel = "http://127.0.0.1:9/pixel.png"
    doc = tmp_path / "beacon.md"
    doc.write_text(f'---\ntitle: "![x]({pixel}) [click me](http://127.0.0.1:9/go) \u202etxt.exe"\n---\n\n'
                   "The Mafia Island beacon is kept by Halima Ali.\n")
    open_documents(page)
    page.set_input_files("#upload input[type=file]", [str(doc)])
    page.wait_for_function("() => document.querySelector('#upload-status textarea')?.value.includes('beacon')",
                           timeout=60_000)
    assert "✓ uploads/beacon.md: indexed" in page.input_value("#upload-status textarea")
    page.locator("#remove-choice input").click()
    option = page.get_by_role("option").filter(has_text="uploads/beacon.md")
    label = option.inner_text()
    option.click()
    page.click("#remove")
    question = page.locator("#confirm-text")
    question.get_by_text("from the index", exact=False).first.wait_for()
    page.wait_for_timeout(500)
    assert not [r for r in page.requests if "127.0.0.1:9" in r]
    assert page.locator("#confirm-text img, #confirm-text a").count() == 0
    assert f"![x]({pixel})" in question.inner_text()
    assert "\u202e" not in question.inner_text() + label
    screenshot(page, "remove-confirmation-hostile-title")
    page.click("#cancel-remove")
