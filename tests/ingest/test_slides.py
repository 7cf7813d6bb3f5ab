"""Slide decks as people make them: titles, bullets, a table, speaker notes, an empty slide.
Each slide is a page, so a citation names its slide."""

from __future__ import annotations

import json

import pytest

from bench.samples import pptx_file
from rag.ingest.chunking import Chunker
from rag.ingest.loaders import load_documents, load_text_document

from ..support.cli import run

DECK = [
    ("Harbour renewal", "Why the old pier must go\nWhat it will cost", "Welcome everyone; introduce the board."),
    ("", "", ""),  # an empty slide still counts
    ("Costs", "", "The insurer asked for the figures by the end of June."),
    ("Timeline", "Dredging starts in autumn", "The diving survey found the wreck of the schooner Marta under berth 4."),
]
TABLES = {2: [["Item", "Cost"], ["New pier", "2.1 million"], ["Dredging", "400,000"]]}


@pytest.fixture
def deck(tmp_path):
    return pptx_file(tmp_path / "harbour.pptx", DECK, tables=TABLES)


def test_each_slide_is_a_page_and_a_section_headed_by_its_title(deck):
    (doc,) = load_documents([deck]).documents
    assert doc.metadata["type"] == "pptx" and doc.metadata["pages"] == 4
    assert doc.title == "Harbour renewal"  # the first slide's title, without a title in the file's properties
    assert [s[2] for s in doc.metadata["sections"]] == ["Harbour renewal", "Costs", "Timeline"]
    chunks = Chunker(chunk_tokens=160, chunk_overlap=0, context=True).chunk(doc)
    by_text = {c.text.split("\n")[0]: c for c in chunks}
    assert set(by_text) == {"Harbour renewal", "Costs", "Timeline"}  # no chunk runs across slides
    assert (by_text["Costs"].metadata["page_start"], by_text["Costs"].metadata["page_end"]) == (3, 3)
    assert by_text["Timeline"].metadata["page_start"] == 4 and by_text["Timeline"].metadata["section"] == "Timeline"
    assert by_text["Timeline"].header == "Harbour renewal · Timeline"


def test_bullets_tables_and_speaker_notes_are_read_in_order(deck):
    doc = load_text_document("harbour.pptx", deck.read_bytes())
    costs = doc.text[doc.text.index("Costs"):doc.text.index("Timeline")].strip()
    assert costs == ("Costs\nItem: New pier; Cost: 2.1 million\nItem: Dredging; Cost: 400,000\n"
                     "Speaker notes: The insurer asked for the figures by the end of June.")
    assert doc.text.startswith("Harbour renewal\nWhy the old pier must go\nWhat it will cost\nSpeaker notes: Welcome")


def test_a_slide_without_a_title_is_named_by_its_number(tmp_path):
    path = pptx_file(tmp_path / "untitled.pptx", [("Opening", "", ""), ("", "A slide with only a body", "")],
                     title="Quarterly review")
    (doc,) = load_documents([path]).documents
    assert doc.title == "Quarterly review"
    assert [s[2] for s in doc.metadata["sections"]] == ["Opening", "Slide 2"]


def test_a_damaged_deck_is_skipped_with_one_reason(tmp_path, deck):
    (tmp_path / "broken.pptx").write_bytes(deck.read_bytes()[:5000])
    result = load_documents([tmp_path / "broken.pptx"])
    assert not result.documents
    (skipped,) = result.skipped
    assert skipped.reason.startswith("unreadable PowerPoint file") and "\n" not in skipped.reason


@pytest.mark.usefixtures("shared_model")
def test_a_sentence_only_in_the_speaker_notes_is_found_and_cited_by_its_slide(tmp_path, monkeypatch, capsys, deck):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "corpus").mkdir()
    deck.rename(tmp_path / "corpus" / "harbour.pptx")
    assert run(capsys, "index", "corpus", "--index", "idx")[0] == 0
    code, out, _ = run(capsys, "ask", "What did the diving survey find under berth 4?", "--json", "--index", "idx")
    answer = json.loads(out)
    cited = answer["citations"][0]
    assert "wreck of the schooner Marta" in cited["quote"]
    assert (cited["doc_id"], cited["page_start"], cited["page_end"]) == ("harbour.pptx", 4, 4)
    code, out, _ = run(capsys, "ask", "What did the diving survey find under berth 4?", "--index", "idx")
    assert "[1] harbour.pptx, p. 4 (Harbour renewal)" in out
