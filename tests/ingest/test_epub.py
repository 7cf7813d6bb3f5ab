"""E-books (.epub): chapters in reading order as sections, the book's metadata, and the bad ones
refused with one reason."""

from __future__ import annotations

import zipfile

from bench.samples import epub_file
from rag.ingest.loaders import load_documents

CHAPTERS = [("The Harbour", "Ships came in at dawn.\n\nThe harbour master counted every mast."),
            ("The Caravan", "The caravan left Kilwa on the third day of the rains.")]


def _section_at(doc, offset: int) -> str:
    return [heading for start, _, heading in doc.metadata["sections"] if start <= offset][-1]


def test_each_chapter_is_a_section_titled_by_the_table_of_contents(tmp_path):
    book = epub_file(tmp_path / "salt-road.epub", "The Salt Road", CHAPTERS, author="Ann Writer", language="en",
                     date="2024-05-01")
    [doc] = load_documents([book]).documents
    assert doc.title == "The Salt Road"
    assert doc.metadata["byline"] == "Ann Writer"
    assert doc.metadata["language"] == "en" and doc.metadata["date"] == "2024-05-01"
    assert doc.metadata["chapters"] == 2
    sentence = "The caravan left Kilwa on the third day of the rains."
    assert _section_at(doc, doc.text.index(sentence)) == "The Caravan"
    assert _section_at(doc, doc.text.index("counted every mast")) == "The Harbour"
    assert doc.text.index("Ships came in") < doc.text.index(sentence)  # spine order
    assert doc.text.count("The Caravan") == 1  # the chapter's own heading is its title, not a second copy


def test_scripts_styles_and_the_table_of_contents_are_never_read(tmp_path):
    [doc] = load_documents([epub_file(tmp_path / "b.epub", "B", CHAPTERS)]).documents
    assert "never read" not in doc.text and "color" not in doc.text
    assert "Contents" not in doc.text


def test_a_chapter_without_a_heading_takes_its_title_from_the_table_of_contents(tmp_path):
    book = epub_file(tmp_path / "b.epub", "B", CHAPTERS)
    with zipfile.ZipFile(book) as original:
        parts = {i.filename: original.read(i) for i in original.infolist()}
    parts["OEBPS/chapter-2.xhtml"] = parts["OEBPS/chapter-2.xhtml"].replace(b"<h1>The Caravan</h1>", b"")
    with zipfile.ZipFile(book, "w") as rewritten:
        for name, data in parts.items():
            rewritten.writestr(name, data)
    [doc] = load_documents([book]).documents
    assert "The Caravan" not in doc.text
    assert _section_at(doc, doc.text.index("The caravan left")) == "The Caravan"


def test_a_corrupt_epub_is_skipped_with_one_reason(tmp_path):
    data = epub_file(tmp_path / "b.epub", "B", CHAPTERS).read_bytes()
    (tmp_path / "b.epub").write_bytes(data[: len(data) // 2])
    result = load_documents([tmp_path / "b.epub"])
    assert not result.documents
    [skipped] = result.skipped
    assert "e-book" in skipped.reason and "\n" not in skipped.reason


def test_an_epub_that_unpacks_a_thousandfold_is_refused_before_it_is_read(tmp_path):
    book = epub_file(tmp_path / "bomb.epub", "B", CHAPTERS)
    with zipfile.ZipFile(book, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("OEBPS/filler.xhtml", b"<p>a</p>" * (2 * 2**20))
    result = load_documents([book])
    assert not result.documents
    assert "max_zip_ratio" in result.skipped[0].reason
