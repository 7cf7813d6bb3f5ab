"""The collection picker in a real headless Chromium: a question and the Documents panel act on the
collection picked, a conversation keeps its collection, and with one collection there is no picker."""

from __future__ import annotations

import pytest

from ..support.web import open_documents, screenshot, start_web

pytestmark = pytest.mark.browser
WAIT = 90_000  # ms; the machine is shared, so waits are generous and never the thing measured
TRAINS = b"The Shinkansen high-speed railway opened in Japan in 1964, between Tokyo and Osaka."


@pytest.fixture(scope="module")
def web(tmp_path_factory, embedder, monkeypatch_module):
    """The article in the default collection and a `trains` collection holding one upload."""
    from rag.app.collections import Collections

    url, config, app = start_web(tmp_path_factory, embedder, monkeypatch_module,
                                 collections=["trains"])
    Collections(config, embedder=embedder).service("trains").upload("trains.txt", TRAINS)
    yield url, config
    app.close()


def pick(page, name: str) -> None:
    page.locator("#collection input").click()
    page.get_by_role("option", name=name, exact=True).click()
    page.wait_for_function("([v]) => document.querySelector('#collection input').value === v", arg=[name])


def ask(page, question: str, answers: int) -> str:
    page.fill("#question textarea", question)
    page.click("#ask")
    page.wait_for_function(
        """([n]) => document.querySelectorAll("#chat [data-testid='bot']").length >= n
                    && document.querySelector('#ask') && document.querySelector('#ask').offsetParent !== null
                    && !document.querySelector('#sources').innerText.includes('Searching')""",
        arg=[answers], timeout=WAIT)
    page.wait_for_timeout(300)
    return page.locator("#chat [data-testid='bot']").last.inner_text()


def wait_listed(page, doc_id: str) -> None:
    page.wait_for_function("([id]) => [...document.querySelectorAll(\"#doc-list [data-testid='doc-row']\")]"
                           ".some(r => r.dataset.docId === id)", arg=[doc_id], timeout=WAIT)


def listed(page) -> list[str]:
    rows = page.locator("#doc-list [data-testid='doc-row']")
    return [rows.nth(i).get_attribute("data-doc-id") for i in range(rows.count())]


def test_a_picked_collection_answers_and_lists_its_own_documents(page):
    assert page.locator("#collection input").input_value() == "default"
    open_documents(page)
    wait_listed(page, "imu-pakistan-2014.txt")
    assert listed(page) == ["imu-pakistan-2014.txt"]

    pick(page, "trains")
    wait_listed(page, "uploads/trains.txt")
    assert listed(page) == ["uploads/trains.txt"]
    answer = ask(page, "When did the Shinkansen open?", 1)
    screenshot(page, "collections-picked")
    assert "1964" in answer
    assert "uploads/trains.txt" in page.locator("#sources").inner_text()


def test_a_conversation_stays_in_its_collection_and_another_pick_starts_a_new_one(page):
    pick(page, "trains")
    assert "1964" in ask(page, "When did the Shinkansen open?", 1)
    pick(page, "default")  # a conversation in another collection is left for a new one
    page.wait_for_function("() => document.querySelectorAll(\"#chat [data-testid='bot']\").length === 0",
                           timeout=WAIT)
    assert "1964" not in ask(page, "When did the Shinkansen open?", 1)  # the article does not say
    # Reopening the first conversation brings its collection back, and a follow-up is asked there.
    page.locator("#conversations label").filter(has_text="When did the Shinkansen open?").last.click()
    page.wait_for_function("() => document.querySelector('#collection input').value === 'trains'", timeout=WAIT)
    assert "Tokyo" in ask(page, "Between which cities did it open?", 2)
    assert "uploads/trains.txt" in page.locator("#sources").inner_text()


def test_an_upload_goes_to_the_picked_collection(page, tmp_path, web, embedder):
    from rag.app.collections import Collections

    _, config = web
    pick(page, "trains")
    open_documents(page)
    notes = tmp_path / "maglev.txt"
    notes.write_text("The Chuo Shinkansen maglev line is planned to open after 2034.")
    page.set_input_files("#upload input[type=file]", [str(notes)])
    page.wait_for_function("() => document.querySelector('#upload-status textarea')?.value.includes('maglev')",
                           timeout=WAIT)
    wait_listed(page, "uploads/maglev.txt")
    collections = Collections(config, embedder=embedder)
    assert (collections.config_for("trains").corpus_dir / "uploads" / "maglev.txt").is_file()
    assert not (config.corpus_dir / "uploads" / "maglev.txt").exists()


def test_with_one_collection_there_is_no_picker(page, web, embedder):
    from rag.app.collections import Collections

    _, config = web
    Collections(config, embedder=embedder).delete("trains")
    page.reload()
    page.wait_for_selector("#question textarea")
    page.wait_for_timeout(1000)  # the load event hides it
    assert not page.locator("#collection").is_visible()
