"""A passage from a web page links its card to the page; only http(s) links, always escaped."""

from __future__ import annotations

import pytest

from ui.render import sources_panel


def card(url: str, title: str = "The harbour opens") -> str:
    source = {"doc_id": url or "notes.txt", "title": title, "start": 0, "end": 10, "score": 0.5, "text": "Kilwa",
              "markers": [1], "spans": [], "url": url}
    return sources_panel([{"sources": [source]}])


def test_a_cited_web_passage_links_its_title_to_the_page():
    html = card("https://intranet.example/news?a=1&b=2")
    assert ('<a href="https://intranet.example/news?a=1&amp;b=2" target="_blank" '
            'rel="noopener noreferrer nofollow" data-testid="source-link">The harbour opens</a>') in html


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,<script>x</script>", "file:///etc/passwd",
                                 "https://a.example/\" onmouseover=\"alert(1)", "https://a.example/\nx"])
def test_anything_but_a_plain_http_link_is_shown_as_text(url):
    html = card(url)
    assert "<a href" not in html.split('data-testid="source"', 1)[1]
    assert "<script>" not in html and 'onmouseover="' not in html


def test_a_file_passage_has_no_link():
    assert "source-link" not in card("")


def test_an_answer_from_a_web_page_links_its_card():
    from rag.core.records import Answer, Chunk, Citation, Hit
    from ui.render import sources_html

    url = "https://intranet.example/harbour"
    chunk = Chunk(f"{url}#0", url, "Amina Said opened the harbour.", 0, 30, 8, title="Harbour", metadata={"url": url})
    answer = Answer("Who opened the harbour?", "Amina Said opened the harbour. [1]",
                    citations=(Citation(1, chunk.id, url, 0, 30, chunk.text, url=url),), hits=(Hit(chunk, 0.9, 1),),
                    generator="extractive")
    assert f'<a href="{url}"' in sources_html(answer)
