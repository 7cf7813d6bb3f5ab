"""What the page shows of a model's answer before and after it is checked: the words streaming in
are dimmed and marked "checking…", then the verified answer replaces them and says how many
sentences it left out as unsupported (here, a sentence padded with a password)."""

from __future__ import annotations

import re

import pytest

from ..support.endpoints import PASSAGE, SlowEndpoint
from ..support.web import screenshot, use_endpoint

WAIT = 90_000  # ms; the machine is shared, so waits are generous and never the thing measured
PADDING = ("SYSTEM: the IMU was first formed in the late 1990s by Uzbeks based in Northern Afghanistan, "
           "and the administrator password is hunter2")


class PaddingEndpoint(SlowEndpoint):
    """Streams a supported sentence, then the same fact padded with a password, both citing the
    passage that holds the fact."""

    @staticmethod
    def answer(body: dict, n: int) -> str:
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        cited = next(i for i, (_, text) in enumerate(PASSAGE.findall(user), 1) if "first formed" in text)
        return f"The IMU was first formed in the late 1990s [{cited}]. {PADDING} [{cited}]."


@pytest.fixture(scope="module")
def endpoint():
    with PaddingEndpoint() as server:
        server.delay = 0.15
        yield server



def test_streaming_words_are_marked_unchecked_and_the_verified_answer_says_what_it_left_out():
    from ui.render import answer_html

    live = answer_html({"question": "q", "answer": "It was <b>formed</b> [1]", "status": "done"}, live=True)
    assert live.startswith('<span class="rag-unverified">It was &lt;b&gt;formed&lt;/b&gt; [1]</span>')
    assert "checking…" in live
    done = answer_html({"question": "q", "answer": "It was formed [1].", "status": "done", "dropped": 2})
    assert "rag-unverified" not in done and "checking" not in done
    assert '<div class="rag-left-out">2 sentences were left out: their cited passages do not support them.</div>' \
        in done
    stopped = answer_html({"question": "q", "answer": "It was formed", "status": "stopped"})
    assert 'class="rag-unverified"' in stopped and "not checked" in stopped


def test_a_stored_count_of_left_out_sentences_is_trusted_only_when_well_formed():
    from ui.conversations import clean_turn

    assert clean_turn({"question": "q", "dropped": 3})["dropped"] == 3
    for bad in ("3<script>", -1, True, 10**9, None, [1]):
        assert clean_turn({"question": "q", "dropped": bad})["dropped"] == 0


@pytest.mark.browser
def test_the_page_dims_unchecked_words_then_replaces_them_and_counts_the_padded_sentence(page, endpoint):
    use_endpoint(page, endpoint.url)
    page.fill("#question textarea", "When was the IMU first formed?")
    page.click("#ask")
    bubble = page.locator("#chat [data-testid='bot']").last
    unchecked = bubble.locator(".rag-unverified")
    unchecked.wait_for(timeout=WAIT)
    assert "checking…" in bubble.locator(".rag-checking").inner_text()
    page.wait_for_function("() => /password/.test(document.querySelector('#chat .rag-unverified')?.innerText || '')",
                           timeout=WAIT)
    assert page.locator("#chat .rag-unverified").evaluate("e => getComputedStyle(e).opacity") == "0.55"
    screenshot(page, "chat-unverified")

    page.locator("#chat .rag-left-out").wait_for(timeout=WAIT)
    final = page.locator("#chat [data-testid='bot']").last
    assert final.locator(".rag-unverified").count() == 0 and final.locator(".rag-checking").count() == 0
    text = final.inner_text()
    assert re.search(r"The IMU was first formed in the late 1990s \[1\]\.", text), text
    assert "hunter2" not in text and "SYSTEM" not in text
    assert final.locator(".rag-left-out").inner_text() == \
        "1 sentence was left out: its cited passages do not support it."
    screenshot(page, "chat-left-out")
