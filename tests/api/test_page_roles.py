"""Page users from a users file: a reader signs in and sees no upload or remove control, and the
server refuses an upload the reader sends by hand; an editor may upload."""

from __future__ import annotations

import httpx
import pytest

from ..support.api import start_api, stop_api
from ..support.web import upload

USERS = {"rita": ("reader-pass-1", "reader"), "ed": ("editor-pass-1", "editor")}


@pytest.fixture(scope="module")
def live(tmp_path_factory, embedder, monkeypatch_module):
    live = start_api(tmp_path_factory, embedder, monkeypatch_module, users=USERS)
    yield live
    stop_api(live)


def signed_in(live, name: str) -> dict[str, str]:
    """The headers of a request made by `name` after signing in on the page's login form."""
    with httpx.Client(base_url=live.url, timeout=30) as client:
        r = client.post("login", data={"username": name, "password": USERS[name][0]})
        assert r.status_code == 200, r.text
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in client.cookies.items())}


def test_a_reader_upload_sent_by_hand_is_refused(live):
    r = upload(live.url, "a.txt", b"The sky is green here.", headers=signed_in(live, "rita"))
    assert r.status_code == 403 and "role" in r.json()["detail"]


def test_an_editor_upload_is_taken(live):
    r = upload(live.url, "a.txt", b"The sky is green here.", headers=signed_in(live, "ed"))
    assert r.status_code == 200


def test_nobody_signed_in_cannot_upload(live):
    assert upload(live.url, "a.txt", b"The sky is green here.").status_code in (401, 403)


@pytest.mark.browser
def test_a_reader_sees_no_upload_or_remove_control(live, browser):
    from ..support.web import open_documents

    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(live.url)
        page.fill("input[type=text]", "rita")
        page.fill("input[type=password]", "reader-pass-1")
        page.keyboard.press("Enter")
        page.wait_for_selector("#question textarea", timeout=30_000)
        open_documents(page)
        page.wait_for_selector("#reader-note", state="visible")
        assert not page.locator("#upload").is_visible()
        assert not page.locator("#remove").is_visible()
    finally:
        context.close()
