"""What a card tells the source viewer: where each marker's quote is in its document (document
offsets, first page), in the conversation's collection; turns saved before that open at their
passage; a stored value is trusted only as far as it is well formed."""

from __future__ import annotations

import re

from rag.core.records import Answer, Chunk, Citation, Hit
from ui.conversations import sources_of
from ui.render import cites_of, sources_panel

TEXT = "Intro line.\n\nThe harbour of Kilwa opened in 1923. Ships came weekly."


def answer() -> Answer:
    chunk = Chunk("report.pdf#1", "report.pdf", TEXT[13:], 13, len(TEXT), 12, title="Report",
                  metadata={"page_start": 2, "page_end": 2})
    start = TEXT.index("The harbour")
    citation = Citation(1, chunk.id, "report.pdf", start, start + 36, TEXT[start:start + 36], page_start=2, page_end=2)
    return Answer("When did the harbour open?", f"{citation.quote} [1]", citations=(citation,),
                  hits=(Hit(chunk, 0.9, 1),), generator="extractive")


def test_a_cited_passage_carries_its_quote_in_document_offsets_and_page():
    (source,) = sources_of(answer())
    start = TEXT.index("The harbour")
    assert source["cites"] == [{"marker": 1, "start": start, "end": start + 36, "page": 2}]
    assert TEXT[source["cites"][0]["start"]:source["cites"][0]["end"]] == "The harbour of Kilwa opened in 1923."


def test_the_card_opens_its_document_in_the_conversations_collection():
    html = sources_panel([{"sources": sources_of(answer())}], "reports")
    start = TEXT.index("The harbour")
    button = re.search(r'<button [^>]*data-testid="open-source"[^>]*>', html).group(0)
    assert f'data-collection="reports" data-doc="report.pdf" data-start="{start}" data-end="{start + 36}" ' \
           'data-page="2"' in button
    assert f'data-cites="1:{start}:{start + 36}:2"' in html  # what a click on [1] opens


def test_a_turn_saved_before_cites_opens_at_its_quote_in_the_passage():
    old = {"doc_id": "notes.md", "start": 100, "end": 180, "markers": [2], "spans": [[5, 20]], "text": "x" * 80,
           "score": 0.5}
    assert cites_of(old) == [(2, 105, 120, None)]
    assert cites_of({**old, "spans": []}) == [(2, 100, 180, None)]
    assert cites_of({**old, "markers": [], "spans": []}) == [(0, 100, 180, None)]


def test_stored_cites_that_are_not_offsets_are_ignored():
    bad = {"doc_id": 'a"><script>', "start": 0, "end": 10, "markers": [1], "spans": [], "text": "t", "score": 0.1,
           "cites": [{"marker": 1, "start": "0", "end": 5}, {"marker": 1, "start": 9, "end": 3},
                     {"marker": True, "start": 1, "end": 2}, "junk"]}
    assert cites_of(bad) == [(1, 0, 10, None)]
    html = sources_panel([{"sources": [bad]}], "default")
    assert "<script>" not in html and 'data-doc="a&quot;&gt;&lt;script&gt;"' in html
