"""The web chat in a real headless Chromium, and its API through gradio_client."""

from __future__ import annotations

import re

import pytest

from ..support.document_files import velmont_pdf
from ..support.web import DOWN, MALICIOUS, choose_generator, open_documents, screenshot


def ask(page, question: str, expect_messages: int) -> str:
    page.fill("#question textarea", question)
    page.click("#ask")
    bot = page.locator("#chat .bot, #chat [data-testid='bot']")
    page.wait_for_function(
        """([n]) => { const m = document.querySelectorAll("#chat [data-testid='bot']");
                     return m.length >= n && !document.querySelector('#sources')?.innerText.includes('Searching'); }""",
        arg=[expect_messages], timeout=60_000)
    page.wait_for_timeout(300)
    return bot.last.inner_text()


@pytest.mark.browser
def test_a_question_is_answered_with_a_citation_and_the_quote_highlighted(page):
    answer = ask(page, "When was the IMU first formed?", 1)
    assert "late 1990s" in answer and "[1]" in answer
    # The short answer leads, in bold with its marker, before the quote that proves it.
    assert answer.index("late 1990s [1]") < answer.index("The IMU was first formed")
    assert "late 1990s" in page.locator("#chat [data-testid='bot'] strong.rag-short").last.inner_text()
    kind = page.locator("#chat [data-testid='bot'] .rag-kind").last
    assert "rag-kind-short" in kind.get_attribute("class") and kind.inner_text().startswith("Short answer:")
    mark = page.locator("#sources mark").first
    assert "late 1990s" in mark.inner_text()
    source = page.locator("#sources [data-testid='source']").first.inner_text()
    assert "With Recent Attacks" in source and "2014-06-17" in source and "retrieval score" in source
    screenshot(page, "answered-question")

    follow_up = ask(page, "Where is it based now?", 2)
    assert "North Waziristan" in follow_up

    declined = ask(page, "What is the capital of Uzbekistan?", 3)
    assert "documents don't say" in declined
    assert page.locator("#sources [data-testid='abstained']").is_visible()
    assert "rag-kind-none" in page.locator("#chat [data-testid='bot'] .rag-kind").last.get_attribute("class")
    screenshot(page, "declined-question")


@pytest.mark.browser
def test_an_uploaded_document_is_answerable_without_a_restart(page, tmp_path):
    doc = tmp_path / "harbour-notes.md"
    doc.write_text("# Harbour notes\n\nThe Kilwa harbour master is Amina Said. She has kept the harbour since 2009.")
    bad = tmp_path / "blob.pdf"
    bad.write_bytes(b"%PDF-1.4 truncated")
    open_documents(page)
    page.set_input_files("#upload input[type=file]", [str(doc), str(bad)])
    page.wait_for_function("() => document.querySelector('#upload-status textarea')?.value.includes('blob.pdf')",
                           timeout=60_000)
    status = page.input_value("#upload-status textarea")
    assert "✓ uploads/harbour-notes.md: indexed" in status
    assert re.search(r"✗ blob.pdf: .*PDF", status)
    answer = ask(page, "Who is the Kilwa harbour master?", 1)
    assert "Amina Said" in answer


@pytest.mark.browser
def test_document_text_is_shown_as_text_and_never_runs(page, tmp_path):
    hostile = tmp_path / "zanzibar.txt"
    hostile.write_text(MALICIOUS)
    open_documents(page)
    page.set_input_files("#upload input[type=file]", [str(hostile)])
    page.wait_for_function("() => document.querySelector('#upload-status textarea')?.value.includes('zanzibar')",
                           timeout=60_000)
    answer = ask(page, "Who is the Zanzibar lighthouse keeper?", 1)
    assert "Omari Juma" in answer
    page.wait_for_timeout(500)
    sources = page.locator("#sources").inner_text()
    assert "<script>" in sources or "<img" in sources or "evil.example.com" in sources  # shown as text
    assert page.dialogs == []
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("#sources script, #sources img, #sources a, #chat img[src*='evil']").count() == 0
    screenshot(page, "hostile-document")


def test_the_api_answers_from_gradio_client(web):
    from gradio_client import Client

    url, _ = web
    result = Client(url, verbose=False).predict("When was the IMU first formed?", 5, api_name="/ask")
    assert "late 1990s" in result["answer"] and result["abstained"] is False
    assert "late 1990s" in result["short_answer"]["text"] and result["short_answer"]["marker"] == 1
    assert result["kind"] == "short" and "late 1990s" in result["reason"]
    (citation,) = result["citations"]
    assert "late 1990s" in citation["quote"] and citation["doc_id"] == "imu-pakistan-2014.txt"
    assert citation["page_start"] is None and citation["page_end"] is None  # a text file has no pages


@pytest.mark.browser
def test_an_unreachable_endpoint_shows_an_error_in_the_chat_and_the_session_goes_on(page):
    page.click("text=Settings")
    choose_generator(page, "openai")
    page.locator("#base-url input").click()
    page.get_by_role("option", name=DOWN, exact=True).click()
    failed = ask(page, "When was the IMU first formed?", 1)
    assert "unreachable" in failed and failed.startswith("⚠")
    assert page.locator("#sources [data-testid='error']").is_visible()
    choose_generator(page, "extractive")
    recovered = ask(page, "When was the IMU first formed?", 2)
    assert "late 1990s" in recovered


@pytest.mark.browser
def test_a_typed_endpoint_the_operator_did_not_allow_is_refused_with_the_allowed_ones_named(page, web):
    _, config = web
    page.click("text=Settings")
    choose_generator(page, "openai")
    page.locator("#base-url input").fill("http://attacker.example:8000/v1")
    page.locator("#base-url input").press("Enter")
    refused = ask(page, "When was the IMU first formed?", 1)
    assert refused.startswith("⚠") and "does not send its API key to 'http://attacker.example:8000/v1'" in refused
    assert config.openai_base_url in refused and DOWN in refused
    assert "openai_allowed_base_urls" in page.locator("#sources [data-testid='error']").inner_text()
    screenshot(page, "endpoint-refused")


@pytest.mark.browser
def test_an_unusable_question_gets_its_reason_in_the_page_and_from_the_api(page, web):
    page.fill("#question textarea", "   ")
    page.click("#ask")
    page.wait_for_selector("#sources [data-testid='error']")
    assert "Type a question first" in page.locator("#sources").inner_text()

    refused = ask(page, "why " * 2500, 1)
    assert refused.startswith("⚠") and "characters long" in refused
    assert "late 1990s" in ask(page, "When was the IMU first formed?", 2)  # the session goes on

    from gradio_client import Client

    with pytest.raises(Exception, match="question is empty"):
        Client(web[0], verbose=False).predict(" ", 5, api_name="/ask")


@pytest.mark.browser
def test_a_shared_server_asks_for_a_login_and_binds_to_this_machine_by_default(web, embedder):
    import urllib.error
    import urllib.request

    from gradio_client import Client

    from rag.app.service import ChatService
    from rag.cli import build_parser
    from rag.core.errors import ConfigError
    from rag.generators.local_server import free_port
    from ui.app import serve

    assert build_parser().parse_args(["serve"]).host == "127.0.0.1"
    _, config = web
    with pytest.raises(ConfigError, match="USER:PASSWORD"):
        serve(config, auth="no-colon", block=False, service=ChatService(config, embedder=embedder))
    port = free_port()
    app = serve(config, port=port, auth="ann:s3cret", block=False, service=ChatService(config, embedder=embedder))
    try:
        assert app.server_name == "127.0.0.1"
        url = f"http://127.0.0.1:{port}/"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url + "config", timeout=10)
        assert refused.value.code == 401
        with pytest.raises(ValueError, match="Could not login"):  # gradio_client's refusal, any status
            Client(url, verbose=False, auth=("ann", "wrong"))
        answer = Client(url, verbose=False, auth=("ann", "s3cret")).predict("When was the IMU first formed?", 5,
                                                                             api_name="/ask")
        assert "late 1990s" in answer["answer"]
    finally:
        app.close()


@pytest.mark.browser
def test_a_pdf_is_uploaded_cited_by_page_and_removed_in_the_documents_panel(page, tmp_path):
    pdf = velmont_pdf(tmp_path / "velmont.pdf")
    open_documents(page)
    page.set_input_files("#upload input[type=file]", [str(pdf)])
    page.wait_for_function("() => document.querySelector('#upload-status textarea')?.value.includes('velmont')",
                           timeout=60_000)
    assert "✓ uploads/velmont.pdf: indexed" in page.input_value("#upload-status textarea")
    row = page.locator("#doc-list [data-doc-id='uploads/velmont.pdf']")
    row.wait_for()  # the list follows the upload without a reload
    assert "Velmont Observatory Annual Report" in row.inner_text() and "2 pages" in row.inner_text()

    question = "What is the annual budget of the Velmont Observatory?"
    answer = ask(page, question, 1)
    assert "1.3 million euros" in answer
    card = page.locator("#sources [data-testid='source']").first
    assert "p. 2" in card.locator("[data-testid='pages']").inner_text()
    assert "Velmont Observatory Annual Report" in card.inner_text()
    screenshot(page, "pdf-cited-by-page")

    page.locator("#remove-choice input").click()
    page.get_by_role("option", name="Velmont Observatory Annual Report (uploads/velmont.pdf)").click()
    page.click("#remove")
    page.locator("#confirm-row").get_by_text("Remove", exact=False).first.wait_for()
    assert page.locator("#doc-list [data-doc-id='uploads/velmont.pdf']").count() == 1  # not before confirming
    screenshot(page, "remove-confirmation")
    page.click("#confirm-remove")
    page.wait_for_function("() => document.querySelector('#upload-status textarea')?.value.includes('removed')",
                           timeout=60_000)
    page.locator("#doc-list [data-doc-id='uploads/velmont.pdf']").wait_for(state="detached")
    status = page.input_value("#upload-status textarea")
    assert "deleted the uploaded file velmont.pdf" in status and str(tmp_path) not in status and "/" not in status.split("file ")[-1]

    after = ask(page, question, 2)
    assert "The documents don't say." in after
    screenshot(page, "pdf-removed")


@pytest.mark.browser
def test_a_read_only_server_lists_documents_but_takes_no_uploads_or_removals(browser, web, embedder):
    from rag.app.service import ChatService
    from rag.core.errors import ReadOnlyError
    from rag.generators.local_server import free_port
    from ui.app import serve

    _, config = web
    service = ChatService(config.replace(read_only=True), embedder=embedder)
    port = free_port()
    app = serve(service.config, port=port, block=False, service=service)
    try:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_selector("#question textarea")
        open_documents(page)
        assert "imu-pakistan-2014.txt" in page.locator("#doc-list").inner_text()
        assert page.locator("#upload, #remove, #confirm-remove").count() == 0
        assert "read-only" in page.locator("#read-only-note").inner_text()
        screenshot(page, "read-only-documents")
        context.close()
    finally:
        app.close()
    with pytest.raises(ReadOnlyError, match="read-only"):
        service.upload("notes.txt", b"The lighthouse keeper is Omari Juma.")
    with pytest.raises(ReadOnlyError, match="read-only"):
        service.remove_documents(["imu-pakistan-2014.txt"])
    assert "imu-pakistan-2014.txt" in [d.id for d in service.list_documents()]
