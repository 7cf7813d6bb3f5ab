"""The chat page's controls in a real headless Chromium: text stays text, citations link to their
passages, Stop cancels the model's request, queued questions are answered, retry, conversations
kept across reloads and reopened from the list, all k passages, timings, upload status, page
wording, the language note and accessible names. One app server for the module; a local
OpenAI-compatible endpoint streams answers as slowly as a test needs."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from ..support.endpoints import SlowEndpoint
from ..support.web import MALICIOUS, choose_generator, open_documents, screenshot

pytestmark = pytest.mark.browser
WAIT = 90_000  # ms; the machine is shared, so waits are generous and never the thing measured


@pytest.fixture(scope="module")
def endpoint():
    with SlowEndpoint() as server:
        yield server



def bots(page):
    return page.locator("#chat [data-testid='bot']")


def send(page, question: str, *, press_enter: bool = False) -> None:
    page.fill("#question textarea", question)
    if press_enter:
        page.press("#question textarea", "Enter")
    else:
        page.click("#ask")


def wait_idle(page, answers: int) -> str:
    """Until `answers` answers are complete (Ask is back); the last answer's text."""
    page.wait_for_function(
        """([n]) => document.querySelectorAll("#chat [data-testid='bot']").length >= n
                    && document.querySelector('#ask') && document.querySelector('#ask').offsetParent !== null
                    && !document.querySelector('#sources').innerText.includes('Searching')
                    && !document.querySelector("#chat .rag-queued-q")""",
        arg=[answers], timeout=WAIT)
    page.wait_for_timeout(300)
    return bots(page).last.inner_text()


def use_endpoint(page, endpoint: SlowEndpoint) -> None:
    page.click("text=Settings")
    choose_generator(page, "openai")
    page.locator("#base-url input").click()
    page.get_by_role("option", name=endpoint.url, exact=True).click()
    page.locator("#model textarea").fill("m")
    page.locator("#model textarea").press("Tab")


def test_a_hostile_document_and_question_render_as_text_with_no_request_and_no_dialog(page, tmp_path):
    hostile = tmp_path / "zanzibar.txt"
    hostile.write_text(MALICIOUS + '\nThe Zanzibar lighthouse keeper says <span style="font-size:60px;color:red">'
                       'CALL 555-0100 NOW</span> and <a href="https://evil.example.com/x">click here</a>.\n')
    open_documents(page)
    page.set_input_files("#upload input[type=file]", [str(hostile)])
    page.wait_for_function("() => document.querySelector('#upload-status textarea')?.value.includes('zanzibar')",
                           timeout=WAIT)
    send(page, "Who is the Zanzibar lighthouse keeper?")
    answer = wait_idle(page, 1)
    assert "Omari Juma <script>" in answer  # the document's markup, shown as the text it is

    question = ('<img src=x onerror="alert(1)"> <b>bold</b> <span style="font-size:60px">big</span> '
                '<a href="https://evil.example.com/q">link</a> <script>alert(2)</script> Who keeps the lighthouse?')
    send(page, question)
    wait_idle(page, 2)
    page.wait_for_timeout(500)
    user_bubble = page.locator("#chat [data-testid='user']").last.inner_text()
    assert '<img src=x onerror="alert(1)">' in user_bubble and "<b>bold</b>" in user_bubble
    chat = page.locator("#chat")
    assert chat.locator("img, script, b, span[style], iframe").count() == 0
    assert chat.locator("a:not(.rag-cite)").count() == 0  # the only links are citation markers
    assert page.dialogs == []
    assert page.evaluate("() => window.__pwned") is None
    leaks = [u for u in page.requests if "evil.example.com" in u or re.search(r"/x$", u) or u.endswith("/q")]
    assert leaks == []
    screenshot(page, "chat-hostile-text")


def test_a_citation_marker_reveals_and_highlights_its_passage(page):
    send(page, "When was the IMU first formed?")
    assert "late 1990s" in wait_idle(page, 1)
    send(page, "Where is it based now?")
    assert "North Waziristan" in wait_idle(page, 2)
    latest, earlier = (page.locator(f"#sources .rag-turn[data-turn='{i}']") for i in (1, 0))
    assert latest.is_visible() and not earlier.is_visible()  # the latest answer's passages
    assert "North Waziristan" in latest.inner_text()

    marker = bots(page).first.locator("a.rag-cite").first  # [1] of the *first* answer
    assert marker.inner_text() == "[1]"
    marker.click()
    card = page.locator("#sources .rag-source.rag-flash")
    card.wait_for(timeout=10_000)
    assert card.count() == 1 and "1" in card.get_attribute("data-markers").split()
    assert "late 1990s" in card.locator("mark").first.inner_text()
    assert earlier.is_visible() and not latest.is_visible()  # that answer's passages, not the latest's
    page.wait_for_timeout(800)  # smooth scrolling
    box, viewport = card.bounding_box(), page.viewport_size
    assert box["y"] < viewport["height"] and box["y"] + box["height"] > 0
    screenshot(page, "chat-citation-clicked")


def test_all_k_passages_are_shown_cited_first_and_the_rest_folded(page):
    page.click("text=Settings")
    k = page.locator("#k input[type=number]")
    deadline = time.monotonic() + WAIT / 1000
    while True:  # the slider takes a typed number when its box loses focus; ask once it holds it
        k.fill("7")
        k.press("Tab")
        try:
            page.wait_for_function("() => document.querySelector('#k input[type=range]').value === '7'",
                                   timeout=5_000)
            break
        except PlaywrightTimeoutError:
            if time.monotonic() > deadline:
                raise
    send(page, "When was the IMU first formed?")
    wait_idle(page, 1)
    cards = page.locator("#sources [data-testid='source']")
    assert cards.count() == 7
    assert cards.first.get_attribute("data-markers") == "1"
    folded = page.locator("#sources details[data-testid='more-sources']")
    assert folded.count() == 1 and folded.get_attribute("open") is None
    assert folded.locator("[data-testid='source']").count() == 7 - page.locator("#sources .rag-cited").count()
    assert "answered in" in page.locator("#status").inner_text()
    screenshot(page, "chat-all-passages")


def test_stop_cancels_a_slow_answer_and_the_endpoint_sees_the_request_cancelled(page, endpoint):
    use_endpoint(page, endpoint)
    endpoint.delay = 1.0  # a word a second: the answer would take half a minute
    before = endpoint.requests
    send(page, "When was the IMU first formed?")
    page.locator("#stop").wait_for(state="visible", timeout=WAIT)
    assert not page.locator("#ask").is_visible()  # Ask became Stop
    page.wait_for_function("() => /\\w+ \\w+/.test(document.querySelector(\"#chat [data-testid='bot']\")?.innerText"
                           " || '')", timeout=WAIT)
    assert re.search(r"(Searching|Writing)… \d+ s", page.locator("#status").inner_text())
    assert endpoint.requests == before + 1 and endpoint.finished == 0
    stopped_at = time.monotonic()
    page.click("#stop")
    page.locator("#ask").wait_for(state="visible", timeout=WAIT)
    deadline = time.monotonic() + 20
    while not endpoint.disconnected and time.monotonic() < deadline:
        time.sleep(0.1)
    assert endpoint.disconnected, "the endpoint never saw the request cancelled"
    assert endpoint.disconnected[0] - stopped_at < 15 and endpoint.finished == 0
    bubble = bots(page).last
    bubble.locator(".rag-stopped").wait_for(timeout=10_000)
    assert len(bubble.inner_text().split()) >= 3  # what arrived is kept
    assert not page.locator("#stop").is_visible()
    screenshot(page, "chat-stopped")
    endpoint.delay = 0.05


def test_a_question_sent_while_an_answer_streams_is_queued_and_answered(page, endpoint):
    use_endpoint(page, endpoint)
    endpoint.delay = 0.4
    before = endpoint.requests
    send(page, "When was the IMU first formed?", press_enter=True)
    page.wait_for_function("() => (document.querySelector(\"#chat [data-testid='bot']\")?.innerText || '')"
                           ".split(/\\s+/).length > 2", timeout=WAIT)
    send(page, "Where is it based now?", press_enter=True)
    page.locator("#chat .rag-queued-q").wait_for(timeout=10_000)
    assert page.input_value("#question textarea") == ""
    screenshot(page, "chat-queued")
    wait_idle(page, 2)
    assert endpoint.requests == before + 2
    texts = [b.inner_text() for b in bots(page).all()]
    assert len(texts) == 2 and all("[1]" in t for t in texts)
    users = [u.inner_text() for u in page.locator("#chat [data-testid='user']").all()]
    assert users == ["When was the IMU first formed?", "Where is it based now?"]
    endpoint.delay = 0.05


def test_retry_replaces_the_last_answer_with_a_fresh_one(page, endpoint):
    use_endpoint(page, endpoint)
    send(page, "When was the IMU first formed?")
    first = wait_idle(page, 1)
    page.click("#retry")
    page.wait_for_function("([old]) => { const b = document.querySelectorAll(\"#chat [data-testid='bot']\");"
                           " return b.length === 1 && b[0].innerText !== old && b[0].innerText.includes('[1]')"
                           " && !!document.querySelector('#ask')?.offsetParent; }", arg=[first], timeout=WAIT)
    assert page.locator("#chat [data-testid='user']").count() == 1
    status = page.locator("#status").inner_text()
    assert "first words after" in status and "tokens/s" in status
    screenshot(page, "chat-retried")


def test_a_reload_keeps_the_conversation_and_the_list_reopens_an_earlier_one(page):
    send(page, "When was the IMU first formed?")
    first = wait_idle(page, 1)
    page.click("#new-chat")
    page.wait_for_function("() => document.querySelectorAll(\"#chat [data-testid='bot']\").length === 0")
    assert page.locator("#sources [data-testid='source']").count() == 0  # clearing empties the sources
    screenshot(page, "chat-new-chat")
    send(page, "How many fighters does the IMU have?")
    second = wait_idle(page, 1)

    page.reload()
    page.wait_for_function("([t]) => (document.querySelector(\"#chat [data-testid='bot']\")?.innerText || '')"
                           ".includes(t)", arg=[second[:30]], timeout=WAIT)
    assert page.locator("#sources [data-testid='source']").count() > 0
    screenshot(page, "chat-after-reload")

    entries = page.locator("#conversations label")
    assert entries.count() == 2
    page.locator("#conversations label", has_text="When was the IMU first formed?").click()
    page.wait_for_function("([t]) => (document.querySelector(\"#chat [data-testid='bot']\")?.innerText || '')"
                           ".includes(t)", arg=[first[:30]], timeout=WAIT)
    assert page.locator("#chat [data-testid='user']").inner_text() == "When was the IMU first formed?"
    screenshot(page, "chat-reopened-from-list")

    page.click("#delete-chat")
    page.wait_for_function("() => document.querySelectorAll('#conversations label').length === 1", timeout=WAIT)
    assert bots(page).count() == 0 and "How many fighters" in page.locator("#conversations").inner_text()


def test_conversations_stay_in_their_own_browser(browser, web, page):
    send(page, "When was the IMU first formed?")
    wait_idle(page, 1)
    other = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        stranger = other.new_page()
        stranger.goto(web[0])
        stranger.wait_for_selector("#question textarea")
        stranger.wait_for_timeout(1500)
        assert stranger.locator("#chat [data-testid='user']").count() == 0
        assert stranger.locator("#conversations label").count() == 0
    finally:
        other.close()


def test_upload_errors_stay_in_the_status_box(page, tmp_path):
    wrong = tmp_path / "setup.exe"
    wrong.write_bytes(b"MZ\x90\x00 a program")
    big = tmp_path / "huge.txt"
    big.write_bytes(b"word " * 2_200_000)  # 11 MB
    open_documents(page)
    page.set_input_files("#upload input[type=file]", [str(wrong), str(big)])
    page.wait_for_function("() => document.querySelector('#upload-status textarea')?.value.includes('huge.txt')",
                           timeout=WAIT)
    status = page.input_value("#upload-status textarea")
    assert "✗ setup.exe: not a supported type" in status
    assert "✗ huge.txt: file too large" in status
    page.wait_for_timeout(6000)  # a toast would have faded by now; the status box keeps it
    assert page.input_value("#upload-status textarea") == status
    screenshot(page, "chat-upload-errors")


def test_errors_are_worded_for_the_page(page):
    page.click("text=Settings")
    choose_generator(page, "openai")
    page.locator("#base-url input").fill("htp:/not a url")
    page.locator("#base-url input").press("Enter")
    send(page, "When was the IMU first formed?")
    failed = wait_idle(page, 1)
    assert failed.startswith("⚠") and "is not a URL" in failed and "API key" not in failed
    page.locator("#base-url input").fill("https://api.example.invalid/v1")
    page.locator("#base-url input").press("Enter")
    send(page, "When was the IMU first formed?")
    failed = wait_idle(page, 2)
    assert "--" not in failed and "openai_allowed_base_urls" in failed  # refused, the allowed ones named
    screenshot(page, "chat-page-worded-error")


def test_a_question_in_another_language_gets_a_note(page):
    send(page, "¿Cuándo se formó el IMU por primera vez?")
    wait_idle(page, 1)
    note = bots(page).last.locator(".rag-note")
    assert "searched with an English-only model" in note.inner_text()
    send(page, "When was the IMU first formed?")
    wait_idle(page, 2)
    assert bots(page).last.locator(".rag-note").count() == 0
    screenshot(page, "chat-language-note")


def test_every_input_and_button_has_an_accessible_name(page):
    send(page, "When was the IMU first formed?")
    wait_idle(page, 1)
    page.click("text=Settings")
    open_documents(page)
    assert page.get_by_role("textbox", name="Question").count() == 1
    for name in ("Ask", "Retry", "New chat"):
        assert page.get_by_role("button", name=name, exact=True).count() == 1
    snapshot = page.locator("body").aria_snapshot()
    unnamed = [line.strip() for line in snapshot.splitlines()
               if re.match(r"^\s*- (button|textbox|combobox|slider|spinbutton|checkbox|radio|listbox)\s*(\[.*\])?:?$",
                           line)]
    assert unnamed == [], snapshot
