from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.core.records import Document
from rag.ingest.chunking import Chunker
from rag.text.sentences import split_sentences

from ..conftest import ARTICLE

ARTICLE_TEXT = ARTICLE.read_text(encoding="utf-8")

sentences = st.lists(
    st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N", "Zs", "P")), min_size=1, max_size=120),
    min_size=1, max_size=30,
).map(lambda parts: ". ".join(parts))


def covered(text: str, spans: list[tuple[int, int]]) -> set[int]:
    return {i for s, e in spans for i in range(s, e)}


def test_sentences_of_the_article_split_where_a_reader_would():
    spans = split_sentences(ARTICLE_TEXT)
    texts = [ARTICLE_TEXT[s:e] for s, e in spans]
    assert "The IMU was first formed in the late 1990s by Uzbeks based in Northern Afghanistan" in texts[9]
    assert texts[9].endswith("extends to Kyrgyzstan and Tajikistan.")
    assert any(t.startswith("The group's founders were driven from Uzbekistan") and "U.S.-led invasion in 2001." in t
               for t in texts), "U.S. must not end a sentence"
    assert any("really in charge . . . in order to kind of embellish" in t for t in texts)


def test_chunk_spans_map_back_to_the_document_exactly():
    doc = Document("a", "A", ARTICLE_TEXT)
    for chunk in Chunker(64, 16).chunk(doc):
        assert doc.text[chunk.start:chunk.end] == chunk.text
        assert chunk.doc_id == "a"


def test_chunks_cover_every_sentence_of_the_text():
    doc = Document("a", "A", ARTICLE_TEXT)
    chunks = Chunker(64, 16).chunk(doc)
    in_chunks = covered(doc.text, [(c.start, c.end) for c in chunks])
    for s, e in split_sentences(doc.text):
        assert set(range(s, e)) <= in_chunks


def test_consecutive_chunks_overlap_by_whole_sentences_within_the_budget():
    doc = Document("a", "A", ARTICLE_TEXT)
    chunker = Chunker(80, 40)
    chunks = chunker.chunk(doc)
    overlaps = 0
    for prev, nxt in zip(chunks, chunks[1:]):
        assert nxt.start > prev.start, "every chunk must move forward"
        if nxt.start < prev.end:
            overlaps += 1
            assert chunker.count(doc.text[nxt.start:prev.end]) <= 40
    assert overlaps > 0


def test_no_overlap_when_configured_off():
    doc = Document("a", "A", ARTICLE_TEXT)
    chunks = Chunker(80, 0).chunk(doc)
    assert all(nxt.start >= prev.end for prev, nxt in zip(chunks, chunks[1:]))


def test_chunks_never_exceed_the_token_budget():
    doc = Document("a", "A", ARTICLE_TEXT)
    chunker = Chunker(50, 10)
    assert all(c.n_tokens <= 50 for c in chunker.chunk(doc))


def test_a_sentence_longer_than_a_chunk_is_cut_at_token_boundaries():
    text = "word " * 500 + "end."
    chunks = Chunker(64, 0).chunk(Document("long", "", text))
    assert len(chunks) > 5
    assert all(c.n_tokens <= 64 and text[c.start:c.end] == c.text for c in chunks)


def test_chunks_never_exceed_embedder_limit(embedder):
    # Digits and rare words cost the WordPiece tokenizer far more than tiktoken.
    text = " ".join(f"x{i}q{i * 7919}z" for i in range(400)) + ". " + ARTICLE_TEXT
    chunks = Chunker(250, 0, fits=embedder.fits).chunk(Document("d", "", text))
    assert all(embedder.count_tokens(c.text) <= embedder.max_tokens for c in chunks)
    assert all(text[c.start:c.end] == c.text for c in chunks)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=sentences, size=st.integers(8, 80), overlap_share=st.floats(0, 0.9))
def test_chunking_invariants_hold_for_any_text(text, size, overlap_share):
    overlap = int(size * overlap_share)
    chunker = Chunker(size, overlap)
    doc = Document("p", "", text)
    chunks = chunker.chunk(doc)
    for c in chunks:
        assert doc.text[c.start:c.end] == c.text
        assert c.text.strip() == c.text and c.text
    for s, e in split_sentences(text):
        # every sentence is inside some chunk, whole or in token windows
        assert set(range(s, e)) - covered(text, [(c.start, c.end) for c in chunks]) <= {
            i for i in range(s, e) if text[i].isspace()}
    assert all(b.start > a.start for a, b in zip(chunks, chunks[1:]))


def test_invalid_settings_are_rejected():
    with pytest.raises(ValueError):
        Chunker(100, 100)


def test_with_context_every_chunk_names_its_document_and_section_within_the_budget(embedder):
    sections = [[0, 1, "Origins"], [ARTICLE_TEXT.index("Thereafter"), 2, "In Pakistan"]]
    doc = Document("imu", "Pakistan's IMU pledges allegiance to Islamic State", ARTICLE_TEXT,
                   metadata={"date": "2014-10-06", "sections": sections})
    chunker = Chunker(120, 16, fits=embedder.fits, context=True)
    chunks = chunker.chunk(doc)
    for c in chunks:
        assert doc.text[c.start:c.end] == c.text  # the span stays exact; the header is not in it
        assert c.header.startswith("Pakistan's IMU pledges allegiance to Islamic State · 2014-10-06 · ")
        assert c.header.endswith(c.metadata["section"])
        assert c.indexed_text == c.header + "\n" + c.text
        assert c.n_tokens <= 120 and embedder.fits(c.indexed_text)  # nothing the embedder would cut
    assert {c.header.rsplit(" · ", 1)[1] for c in chunks} == {"Origins", "In Pakistan"}
    assert chunker.settings.to_dict()["context"] is True


def test_a_header_leaves_the_passages_as_they_were_and_a_long_title_is_cut(embedder):
    plain = Chunker(160, 32, fits=embedder.fits).chunk(Document("a", "A title", ARTICLE_TEXT))
    titled = Chunker(160, 32, fits=embedder.fits, context=True).chunk(
        Document("a", "Pakistan's IMU pledges allegiance to Islamic State", ARTICLE_TEXT))
    assert [(c.start, c.end) for c in titled] == [(c.start, c.end) for c in plain]  # what the generator reads
    long = Chunker(64, 0, context=True).chunk(Document("t", "An endless headline " * 40, ARTICLE_TEXT))
    assert all(Chunker().count(c.header) == 32 for c in long)


def test_without_context_chunks_have_no_header_and_settings_match_older_indexes():
    doc = Document("a", "A title", ARTICLE_TEXT, metadata={"date": "2014-10-06"})
    chunker = Chunker(64, 16)
    assert all(c.header == "" and c.indexed_text == c.text for c in chunker.chunk(doc))
    assert "context" not in chunker.settings.to_dict()
    untitled = Chunker(64, 16, context=True).chunk(Document("b", "", ARTICLE_TEXT))
    assert all(c.header == "" for c in untitled)  # nothing to name: no header, the full budget
    assert [(c.start, c.end) for c in untitled] == [(c.start, c.end) for c in chunker.chunk(doc)]
