"""The source viewer in a real headless Chromium, over real files made here: a cited marker [n] or a
card's Open control opens the document at its quote — a PDF drawn by pdf.js on the cited page with
the quote's words marked, a Word or Markdown file as its text with exactly the quote marked, a
scanned page with its OCR'd words marked — for earlier answers too and after a reload."""

from __future__ import annotations

import pytest

from bench.samples import scanned_page_lines, text_pdf
from rag.app import factory
from rag.core.config import Config
from ui.pdfjs import installed

from ..support.document_files import harbour_docx
from ..support.files import write
from ..support.web import screenshot

pytestmark = pytest.mark.browser

PDF_PAGES = [["The Velmont report covers the old port.", "Fishing boats leave at dawn."],
             ["The Velmont observatory opened in 1923.", "Astronomers from Oslo visited each winter."]]
NOTES = ("# Lighthouse\n\nThe Zanzibar lighthouse keeper is named Omari Juma.\n\n"
         "## Lamps\n\nHe lights the lamp every night at dusk.\n")
SCAN = ["The Tarvel granary stores millet.", "It was built beside the river."]
WAIT = 60_000


def layout_ready() -> bool:
    """Whether the boxes of a quote on a page can be found (rag.ingest.layout.locate_span)."""
    from rag.ingest.layout import locate_span

    try:
        locate_span(".pdf", b"", "x", [1])
    except NotImplementedError:
        return False
    except Exception:  # noqa: BLE001 - an empty file is refused by a working locate_span
        return True
    return True


needs_layout = pytest.mark.skipif(not layout_ready(), reason="rag.ingest.layout.locate_span is not built yet "
                                                             "(raises NotImplementedError): no boxes to check")
needs_pdfjs = pytest.mark.skipif(not installed(), reason="pdf.js is not in ui/static/pdfjs (python -m ui.pdfjs)")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A two-page PDF, a Word file, Markdown and a scanned page; where the PDF's and the scan's
    lines were drawn."""
    folder = tmp_path_factory.mktemp("viewer") / "corpus"
    folder.mkdir()
    drawn = {"pdf": text_pdf(folder / "velmont.pdf", PDF_PAGES), "scan": scanned_page_lines(folder / "granary.png", SCAN)}
    harbour_docx(folder / "handbook.docx")
    write(folder / "notes.md", NOTES)
    return folder, drawn


@pytest.fixture(scope="module")
def drawn(corpus):
    return corpus[1]


@pytest.fixture(scope="module")
def web(corpus, embedder, monkeypatch_module):
    """`rag serve` over the corpus (the page tests' `page` fixture opens it)."""
    from rag.api.server import serve
    from rag.app.collections import Collections
    from rag.generators.local_server import free_port

    folder, _ = corpus
    config = Config(corpus_dir=folder, index_dir=folder.parent / "index")
    factory.indexer(config, embedder).index_paths([folder], config.index_dir)
    monkeypatch_module.setattr("rag.app.factory.load_embedder", lambda *a, **k: embedder)
    running = serve(config, port=free_port(), block=False, collections=Collections(config, embedder=embedder),
                    announce=lambda line: None)
    yield running.url, config
    running.close()


def ask(page, question: str, answers: int) -> None:
    page.fill("#question textarea", question)
    page.click("#ask")
    page.wait_for_function(
        """([n]) => document.querySelectorAll("#chat [data-testid='bot']").length >= n
                    && document.querySelectorAll("#chat [data-testid='bot']")[n - 1].querySelector("a.rag-cite")
                    && !document.querySelector('#sources')?.innerText.includes('Searching')""",
        arg=[answers], timeout=WAIT)
    page.wait_for_timeout(300)


def marker(page, answer: int = -1):
    return page.locator("#chat [data-testid='bot']").nth(answer).locator("a.rag-cite").first


def viewer(page):
    return page.locator("[data-testid='source-viewer']")


def wait_shown(page) -> None:
    page.wait_for_function("""() => { const v = document.querySelector("[data-testid='source-viewer']");
                                      return v && !v.hidden && ['ready', 'error'].includes(v.dataset.state); }""",
                           timeout=WAIT)
    assert viewer(page).get_attribute("data-state") == "ready", viewer(page).inner_text()


def marks_text(page) -> str:
    return "".join(page.locator("[data-testid='source-highlight']").all_text_contents())


def quote_of_card(page, n: int = 1) -> str:
    """The quote marker [n] cites, as its card shows it (highlighted in the passage)."""
    card = page.locator(f"#sources .rag-turn:not(.rag-hidden) .rag-source[data-markers~='{n}']")
    return "".join(card.locator(".rag-passage mark").all_text_contents())


def drawn_line(lines, quote: str):
    """The line the quote was drawn on (each line of the samples is one sentence)."""
    words = " ".join(quote.split()).rstrip(".")
    found = [line for line in lines if words and (words in line.text or line.text.rstrip(".") in words)]
    assert found, f"the quote {quote!r} is none of the lines drawn"
    return found[0]


def union(rects: list[dict]) -> tuple[float, float, float, float]:
    return (min(r["x"] for r in rects), min(r["y"] for r in rects),
            max(r["x"] + r["width"] for r in rects), max(r["y"] + r["height"] for r in rects))


def on_screen(box: tuple[float, float, float, float], page_rect: dict) -> tuple[float, float, float, float]:
    """A box in fractions of the page, where it lands on the drawn page."""
    x, y, w, h = page_rect["x"], page_rect["y"], page_rect["width"], page_rect["height"]
    return (x + box[0] * w, y + box[1] * h, x + box[2] * w, y + box[3] * h)


def overlap(a, b) -> float:
    """The share of `b`'s area that `a` covers."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(0.0, w) * max(0.0, h) / ((b[2] - b[0]) * (b[3] - b[1]))


@needs_pdfjs
def test_a_marker_opens_the_pdf_drawn_on_the_cited_page(page):
    ask(page, "When did the Velmont observatory open?", 1)
    assert "1923" in quote_of_card(page)
    marker(page).click()
    wait_shown(page)
    panel = viewer(page)
    assert panel.get_attribute("data-page") == "2" and panel.get_attribute("data-rendered-page") == "2"
    assert panel.get_attribute("data-view") == "pdf" and panel.get_attribute("role") == "dialog"
    assert panel.locator("canvas").bounding_box()["height"] > 300
    assert "page 2 of 2" in panel.inner_text()
    assert page.locator("#sources .rag-source.rag-flash").count() == 1  # the card still flashes
    panel.get_by_role("button", name="Previous page").click()
    page.wait_for_function("() => document.querySelector(\"[data-testid='source-viewer']\").dataset.renderedPage === '1'")
    assert "page 1 of 2" in panel.inner_text()


@needs_pdfjs
@needs_layout
def test_the_pdf_highlight_covers_the_cited_sentence_on_the_page_and_follows_the_zoom(page, drawn):
    ask(page, "When did the Velmont observatory open?", 1)
    sentence = drawn_line(drawn["pdf"], quote_of_card(page))
    page.locator("#sources [data-testid='open-source']").first.click()
    wait_shown(page)
    for zoomed in (False, True):  # as drawn, then zoomed in: the marks are placed again over the new page
        canvas = viewer(page).locator("canvas").bounding_box()
        marks = [m.bounding_box() for m in page.locator("[data-testid='source-highlight']").all()]
        assert marks, "no highlight on the page"
        truth = on_screen(sentence.box, canvas)
        assert overlap(union(marks), truth) > 0.5
        assert union(marks)[1] < truth[3] and union(marks)[3] > truth[1]  # on the sentence's line
        if not zoomed:
            screenshot(page, "source-viewer-pdf")
            viewer(page).get_by_role("button", name="Zoom in").click()
            page.wait_for_function("""() => document.querySelector("[data-testid='viewer-zoom']").textContent === '110%'
                                            && document.querySelector("[data-testid='source-viewer']").dataset.state
                                               === 'ready'""", timeout=WAIT)
            assert viewer(page).locator("canvas").bounding_box()["width"] > canvas["width"] * 1.05


@pytest.mark.parametrize(("question", "doc", "shot"), [
    ("Who is the Kilwa harbour master?", "handbook.docx", "source-viewer-docx"),
    ("Who is the Zanzibar lighthouse keeper?", "notes.md", "source-viewer-markdown"),
])
def test_a_text_documents_highlight_is_exactly_the_quote(page, question, doc, shot):
    ask(page, question, 1)
    quote = quote_of_card(page)
    assert quote
    marker(page).click()
    wait_shown(page)
    panel = viewer(page)
    assert panel.get_attribute("data-doc") == doc and panel.get_attribute("data-view") == "text"
    assert marks_text(page) == quote
    mark = page.locator("[data-testid='source-highlight']").first.bounding_box()
    body = panel.locator(".rag-viewer-body").bounding_box()
    assert body["y"] <= mark["y"] <= body["y"] + body["height"]  # scrolled into view
    screenshot(page, shot)


@needs_layout
def test_a_scanned_page_highlights_its_ocr_words(page, drawn):
    ask(page, "What does the Tarvel granary store?", 1)
    line = drawn_line(drawn["scan"], quote_of_card(page))
    marker(page).click()
    wait_shown(page)
    assert viewer(page).get_attribute("data-view") == "image"
    image = viewer(page).locator("img").bounding_box()
    marks = [m.bounding_box() for m in page.locator("[data-testid='source-highlight']").all()]
    assert marks
    assert overlap(union(marks), on_screen(line.box, image)) > 0.3
    screenshot(page, "source-viewer-scan")


def test_esc_closes_the_viewer_and_gives_focus_back(page):
    ask(page, "Who is the Zanzibar lighthouse keeper?", 1)
    button = page.locator("#sources [data-testid='open-source']").first
    button.focus()
    page.keyboard.press("Enter")
    wait_shown(page)
    assert page.evaluate("() => document.querySelector(\"[data-testid='source-viewer']\").contains(document.activeElement)")
    page.keyboard.press("Escape")
    assert viewer(page).is_hidden()
    assert page.evaluate("() => document.activeElement.dataset.testid") == "open-source"
    # the close button, reached by the keyboard, does the same
    page.keyboard.press("Enter")
    wait_shown(page)
    viewer(page).get_by_role("button", name="Close the source viewer").press("Enter")
    assert viewer(page).is_hidden()


def test_an_earlier_answers_marker_opens_its_own_source(page):
    ask(page, "Who is the Zanzibar lighthouse keeper?", 1)
    ask(page, "Who is the Kilwa harbour master?", 2)
    marker(page, 0).click()
    wait_shown(page)
    assert viewer(page).get_attribute("data-doc") == "notes.md"
    assert "Omari Juma" in marks_text(page)
    marker(page, 1).click()
    wait_shown(page)
    assert viewer(page).get_attribute("data-doc") == "handbook.docx"


def test_after_a_reload_the_marker_still_opens_the_viewer(page):
    ask(page, "Who is the Kilwa harbour master?", 1)
    quote = quote_of_card(page)
    page.reload()
    page.wait_for_selector("#chat [data-testid='bot'] a.rag-cite", timeout=WAIT)
    marker(page).click()
    wait_shown(page)
    assert viewer(page).get_attribute("data-doc") == "handbook.docx" and marks_text(page) == quote


@needs_pdfjs
def test_without_pdfjs_a_pdf_is_shown_as_its_text_with_a_note(page):
    page.route("**/rag-source/pdfjs/**", lambda route: route.fulfill(status=404, body="gone"))
    ask(page, "When did the Velmont observatory open?", 1)
    quote = quote_of_card(page)
    marker(page).click()
    wait_shown(page)
    assert viewer(page).get_attribute("data-view") == "text" and marks_text(page) == quote
    assert "pdf.js is not installed" in viewer(page).locator("[data-testid='viewer-note']").inner_text()
    assert viewer(page).get_attribute("data-page") == "2"
