"""Documents as people bring them: PDFs and Word files built in the test, Markdown and HTML
structure, page-aware citations, and the document library (`rag docs`, Indexer, Retriever)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from rag.app import factory
from rag.cli import main
from rag.core.config import Config
from rag.core.errors import DocumentNotFoundError
from rag.indexing.uploads import ingest
from rag.ingest.chunking import Chunker
from rag.ingest.loaders import load_documents, load_text_document

from ..conftest import ARTICLE
from ..support.cli import run
from ..support.document_files import FOOTER_URL, HEADER, browser_printed_pdf, harbour_docx, velmont_pdf

# In-process commands reuse the session's model instead of loading their own.
pytestmark = pytest.mark.usefixtures("shared_model")


@pytest.fixture
def library(tmp_path, monkeypatch):
    """A corpus in the working directory: the article, a Word file, and an uploaded PDF."""
    monkeypatch.chdir(tmp_path)
    corpus = tmp_path / "corpus"
    (corpus / "uploads").mkdir(parents=True)
    shutil.copy(ARTICLE, corpus / ARTICLE.name)
    harbour_docx(corpus / "harbour.docx")
    assert main(["index", "corpus", "--index", "idx"]) == 0
    # The PDF arrives as the page uploads it, so the upload folder's ledger knows rag stored it.
    pdf = velmont_pdf(tmp_path / "velmont.pdf").read_bytes()
    config = Config.load(index_dir="idx", corpus_dir="corpus")
    ingest("velmont.pdf", pdf, corpus_dir=corpus, index_dir=Path("idx"), indexer=factory.indexer(config))
    return tmp_path


def ask_json(capsys, question: str) -> dict:
    code, out, _ = run(capsys, "ask", question, "--json", "--index", "idx")
    assert code == 0
    return json.loads(out)


# PDF


def test_pdf_text_keeps_wrapped_and_hyphenated_sentences_whole_and_drops_running_lines(tmp_path):
    (doc,) = load_documents([velmont_pdf(tmp_path / "velmont.pdf")]).documents
    assert "Its main telescope, named Aurora, is a 2.4 metre reflector" in doc.text
    assert "after a long campaign by local amateurs" in doc.text  # "cam-" + "paign"
    # The sentence that runs from page 1 onto page 2 is one sentence.
    assert "is Dr. Ingrid Halvorsen, the author of the northern survey" in doc.text
    for furniture in (HEADER, "10:24 AM", FOOTER_URL, "1/2", "2/2"):
        assert furniture not in doc.text
    # Headings stay their own paragraphs, and the title comes from the PDF's properties.
    assert "\n\nPeople\n\n" in doc.text and doc.title == "Velmont Observatory Annual Report"
    assert doc.metadata["pages"] == 2
    page_2 = doc.metadata["page_starts"][1]
    assert doc.text[page_2:].startswith("Halvorsen")


def test_pdf_chunks_record_their_pages_and_never_hold_header_or_footer_text(tmp_path):
    (doc,) = load_documents([velmont_pdf(tmp_path / "velmont.pdf")]).documents
    chunks = Chunker(chunk_tokens=40, chunk_overlap=8).chunk(doc)
    for c in chunks:
        assert c.text == doc.text[c.start:c.end]
        assert "10:24" not in c.text and "file://" not in c.text
        assert 1 <= c.metadata["page_start"] <= c.metadata["page_end"] <= 2
    budget = next(c for c in chunks if "1.3 million euros" in c.text)
    assert (budget.metadata["page_start"], budget.metadata["page_end"]) == (2, 2)
    assert budget.metadata["section"] == "Funding"
    assert [s[2] for s in doc.metadata["sections"]] == ["Velmont Observatory", "People", "Funding"]
    telescope = next(c for c in chunks if "named Aurora" in c.text)
    assert telescope.metadata["page_end"] == 1


def test_line_ends_are_joined_by_what_the_lines_show_not_by_a_word_list():
    from rag.ingest.anchors import locate
    from rag.ingest.pdf import join_pages

    pages = [["The survey is a well-known reference and the team that wrote it is well-",
              "known too. Its chapters were written by the obser-",
              "vatory staff over many years of careful work on the",
              "Summary of results",
              "Results improved every year."],
             ["A new page starts a paragraph, but only when the line before ends a sentence.",
              "Short end."]]
    text, sections = join_pages(pages)
    text, anchors = locate(text)
    assert "the team that wrote it is well-known too." in text  # the compound keeps its hyphen
    assert "written by the observatory staff" in text  # the broken word loses it
    assert "careful work on the Summary of results" in text  # a full line runs on
    assert "Results improved every year.\n\nA new page starts" in text
    assert text[anchors[("p", 1)]:].startswith("A new page")
    assert sections == []


@pytest.mark.browser
def test_a_web_page_printed_by_chromium_reads_as_written(tmp_path):
    chromium = "/usr/bin/chromium"
    if not os.path.exists(chromium):
        pytest.skip("Debian's chromium is not installed")
    pdf = browser_printed_pdf(tmp_path / "report.pdf", chromium)
    (doc,) = load_documents([pdf]).documents
    assert doc.metadata["pages"] >= 2
    assert "file:" not in doc.text and "Annual Report" not in doc.text  # the print header and footer
    assert not re.search(r"\d+/\d+/\d+, \d+:\d+", doc.text)
    assert "Its main telescope, named Aurora, is a 2.4 metre reflector that was commissioned in 1988" in doc.text
    notes = re.findall(r"Survey note \d+: the observers recorded steady skies over the ridge on most nights\.",
                       doc.text)
    assert len(notes) == 90  # none cut where a line or a page ended
    budget = doc.text.index("The annual budget")
    assert budget >= doc.metadata["page_starts"][-1]  # on the last page
    assert [s[2] for s in doc.metadata["sections"]] == ["Velmont Observatory", "Funding"]


def test_a_line_repeated_on_only_one_page_is_text_not_a_header(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for n, body in enumerate(["The quarry opened in 1901.", "The quarry closed in 1954.", "It is a park now."], 1):
        pdf.add_page()
        pdf.cell(0, 6, f"Quarry history - page {n} of 3", new_x="LMARGIN", new_y="NEXT")
        pdf.cell(0, 6, "Summary" if n == 1 else body, new_x="LMARGIN", new_y="NEXT")
        pdf.cell(0, 6, body if n == 1 else "Notes", new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(tmp_path / "quarry.pdf"))
    (doc,) = load_documents([tmp_path / "quarry.pdf"]).documents
    assert "page" not in doc.text.lower()  # "page 1 of 3", "page 2 of 3": one running line
    assert "Summary" in doc.text  # on one page only
    assert "Notes" not in doc.text  # at the page edge of two pages of three: furniture
    assert "opened in 1901" in doc.text and "closed in 1954" in doc.text


def test_the_wrapped_sentence_is_answered_whole_and_cited_by_page(library, capsys):
    answer = ask_json(capsys, "Who is the director of the Velmont Observatory?")
    assert "is Dr. Ingrid Halvorsen" in answer["answer"]
    (citation,) = answer["citations"]
    assert citation["doc_id"] == "uploads/velmont.pdf"
    assert (citation["page_start"], citation["page_end"]) == (1, 2)

    answer = ask_json(capsys, "What is the name of the main telescope at Velmont?")
    assert "named Aurora" in answer["answer"]
    assert answer["citations"][0]["page_start"] == 1

    code, out, _ = run(capsys, "ask", "What is the annual budget of the observatory?", "--index", "idx")
    assert code == 0 and "1.3 million euros" in out
    assert "[1] uploads/velmont.pdf, p. 2 (Velmont Observatory Annual Report)" in out


def test_documents_without_pages_are_cited_by_characters(library, capsys):
    answer = ask_json(capsys, "When was the IMU first formed?")
    assert answer["citations"][0]["page_start"] is None
    code, out, _ = run(capsys, "ask", "When was the IMU first formed?", "--index", "idx")
    assert re.search(r"\[1\] imu-pakistan-2014.txt, characters \d+-\d+", out)


# Word, Markdown, HTML, text


def test_word_files_give_headings_paragraphs_and_tables_as_text(tmp_path):
    (doc,) = load_documents([harbour_docx(tmp_path / "harbour.docx")]).documents
    assert doc.title == "Kilwa Harbour Handbook"
    assert "The Kilwa harbour master is Amina Said." in doc.text
    assert "Eastern pier | 40 shillings" in doc.text
    assert doc.metadata["type"] == "docx"
    chunks = Chunker(chunk_tokens=24, chunk_overlap=0).chunk(doc)
    moorings = next(c for c in chunks if "eastern pier, where" in c.text)
    assert moorings.metadata["section"] == "Moorings"
    titled = load_text_document("h.docx", harbour_docx(tmp_path / "h.docx", core_title="Harbour rules").read_bytes())
    assert titled.title == "Harbour rules"


def test_a_damaged_word_file_is_skipped_with_its_reason(tmp_path):
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    result = load_documents([tmp_path / "broken.docx"])
    assert not result.documents and "unreadable Word file" in result.skipped[0].reason


def test_markdown_headings_become_title_and_sections_not_hash_marked_text():
    md = ("# Harbour notes\n\nThe harbour master is Amina Said.\n\n## Moorings ##\n\n"
          "Boats moor at the eastern pier.\n\nFees\n----\n\nForty shillings a day.\n\n"
          "```\n# a comment in code\n```\n")
    doc = load_text_document("notes.md", md.encode())
    assert doc.title == "Harbour notes"
    assert "# Harbour" not in doc.text and "## Moorings" not in doc.text and "----" not in doc.text
    assert "Moorings\n\nBoats moor" in doc.text
    assert "# a comment in code" in doc.text  # code is kept as written
    assert [s[2] for s in doc.metadata["sections"]] == ["Harbour notes", "Moorings", "Fees"]
    chunks = Chunker(chunk_tokens=16, chunk_overlap=0).chunk(doc)
    assert next(c for c in chunks if "Forty shillings" in c.text).metadata["section"] == "Fees"
    assert next(c for c in chunks if "eastern pier" in c.text).metadata["section"] == "Moorings"


def test_html_headings_are_sections_and_a_text_files_title_has_no_hash():
    html = ("<html><head><title>Kilwa</title></head><body><article><h1>Kilwa harbour</h1><p>Intro.</p>"
            "<h2> Fees </h2><p>Forty shillings a day.</p></article></body></html>")
    doc = load_text_document("kilwa.html", html.encode())
    assert [s[2] for s in doc.metadata["sections"]] == ["Kilwa harbour", "Fees"]
    fees = doc.metadata["sections"][1][0]
    assert doc.text[fees:].startswith("Fees\n")
    txt = load_text_document("notes.txt", b"# Harbour notes\n\nThe harbour master is Amina Said.\n")
    assert txt.title == "Harbour notes"


def test_private_use_markers_in_a_document_cannot_forge_a_page_or_section():
    doc = load_text_document("x.md", "# T\n\nText \ue000p1\ue001 and \ue000s0\ue001 more.\n".encode())
    assert "\ue000" not in doc.text and "\ue001" not in doc.text
    assert doc.metadata["sections"] == [[0, 1, "T"]] and "page_starts" not in doc.metadata


# The library


def test_rag_docs_lists_shows_and_removes_documents(library, capsys):
    code, out, _ = run(capsys, "docs", "--index", "idx")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "TITLE", "SOURCE", "PAGES", "CHUNKS", "ADDED", "UPDATED", "SIZE"]
    pdf_row = next(line for line in lines if line.startswith("uploads/velmont.pdf"))
    assert "Velmont Observatory Annual Report" in pdf_row and " 2 " in pdf_row and "KB" in pdf_row
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", pdf_row)
    assert "3 documents" in lines[-1]

    code, out, _ = run(capsys, "docs", "show", "harbour.docx", "--index", "idx")
    assert code == 0 and "title:    Kilwa Harbour Handbook" in out and "type:     docx" in out

    code, out, _ = run(capsys, "docs", "--json", "--index", "idx")
    listed = {d["id"]: d for d in json.loads(out)}
    assert listed["uploads/velmont.pdf"]["pages"] == 2 and listed["harbour.docx"]["pages"] is None

    code, out, _ = run(capsys, "docs", "remove", "uploads/velmont.pdf", "harbour.docx", "--index", "idx")
    assert code == 0
    assert "removed uploads/velmont.pdf" in out and "removed harbour.docx" in out
    assert not (library / "corpus" / "uploads" / "velmont.pdf").exists()  # the upload goes with it
    assert [p for p in (library / "corpus" / "uploads").iterdir() if not p.name.startswith(".")] == []
    assert (library / "corpus" / "harbour.docx").exists()  # the user's own file stays...
    assert "left corpus/harbour.docx in place" in out and "next `rag index`" in out  # ...and they are told

    code, out, _ = run(capsys, "docs", "--index", "idx")
    assert "velmont" not in out and "harbour" not in out and "1 document," in out
    answer = ask_json(capsys, "Who is the director of the Velmont Observatory?")
    assert answer["abstained"] and not answer["citations"]
    answer = ask_json(capsys, "Who is the Kilwa harbour master?")
    assert all(c["doc_id"] == "imu-pakistan-2014.txt" for c in answer["citations"])


def test_removing_an_unknown_id_changes_nothing_and_says_where_ids_are_listed(library, capsys):
    code, _, err = run(capsys, "docs", "remove", "harbour.docx", "nope.pdf", "--index", "idx")
    assert code == 1 and "'nope.pdf'" in err and "rag docs" in err and "nothing was removed" in err
    code, out, _ = run(capsys, "docs", "--index", "idx")
    assert "harbour.docx" in out
    code, _, err = run(capsys, "docs", "show", "nope.pdf", "--index", "idx")
    assert code == 1 and "no document 'nope.pdf'" in err


def test_the_library_api_on_indexer_and_retriever_and_emptying_the_index(library, embedder):
    from rag.index.library import DocumentInfo

    config = Config(corpus_dir=library / "corpus", index_dir=library / "idx")
    indexer = factory.indexer(config, embedder)
    docs = indexer.list_documents()
    assert all(isinstance(d, DocumentInfo) for d in docs)
    pdf = indexer.get_document("uploads/velmont.pdf")
    assert (pdf.pages, pdf.type, pdf.chunks) == (2, "pdf", pdf.chunks) and pdf.chunks >= 1
    assert pdf.added_at and pdf.updated_at and pdf.size == (library / "corpus/uploads/velmont.pdf").stat().st_size
    retriever = factory.retriever(config, config.index_dir, embedder=embedder)
    assert [d.id for d in retriever.list_documents()] == [d.id for d in docs]
    with pytest.raises(DocumentNotFoundError):
        retriever.get_document("nope")

    # An update keeps when the document was added and records when it changed.
    (library / "corpus" / "harbour.docx").unlink()
    harbour_docx(library / "corpus" / "harbour.docx", core_title="Harbour rules")
    report = indexer.index_paths([library / "corpus"])
    assert report.updated == ["harbour.docx"]
    updated = indexer.get_document("harbour.docx")
    before = next(d for d in docs if d.id == "harbour.docx")
    assert updated.added_at == before.added_at and updated.updated_at > before.updated_at

    removal = indexer.remove_documents([d.id for d in docs])
    assert set(removal.removed) == {d.id for d in docs} and removal.n_chunks == 0
    assert indexer.list_documents() == []
    assert retriever.refresh() and retriever.search("Who is the director?") == []


def test_eval_question_rows_carry_the_page_of_each_citation(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the evaluation's index cache goes under the working directory
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    velmont_pdf(corpus / "velmont.pdf")
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"id": "budget", "question": "What is the annual budget of the observatory?",
                              "answers": ["1.3 million euros"], "answerable": True,
                              "evidence": ["The annual budget of the observatory is 1.3 million euros"]}) + "\n")
    code, _, err = run(capsys, "eval", str(qa), "--corpus", str(corpus), "--out", str(tmp_path / "report"))
    assert code == 0, err
    rows = [json.loads(line) for line in (tmp_path / "report" / "questions.jsonl").read_text().splitlines()]
    cited = [c for row in rows for c in row["citations"]]
    assert cited and all((c["page_start"], c["page_end"]) == (2, 2) for c in cited)


def test_an_upload_under_a_name_already_indexed_says_it_replaced_the_earlier_version(library, embedder):
    from rag.app.service import ChatService

    config = Config(corpus_dir=library / "corpus", index_dir=library / "idx")
    service = ChatService(config, embedder=embedder)
    first = service.upload("tide-table.md", b"# Tides\n\nHigh tide at Kilwa is at 06:10.")
    assert not first.replaced
    second = service.upload("tide-table.md", b"# Tides\n\nHigh tide at Kilwa is at 07:25.")
    assert second.replaced and second.document.id == first.document.id
    assert service.retriever.get_document(first.document.id).chunks == 1


def test_an_index_from_before_the_library_lists_its_documents_without_times(tmp_path, capsys, article_index):
    from rag.index.store import IndexStore

    old = shutil.copytree(article_index, tmp_path / "old")
    (table_path,) = (IndexStore(old).current_path() / "segments").glob("*/documents.json")
    table = json.loads(table_path.read_text())
    for entry in table["documents"].values():
        for key in ("added_at", "updated_at"):
            entry.pop(key, None)
        entry["metadata"].pop("bytes", None)
    table_path.write_text(json.dumps(table))
    code, out, _ = run(capsys, "docs", "--index", str(old))
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith("imu-pakistan-2014.txt"))
    assert row.split()[-5:] == ["-", "8", "-", "-", "-"]  # pages, chunks, added, updated, size


def numbered_pdf(path: Path, pages: list[list[str]]) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for lines in pages:
        pdf.add_page()
        for line in lines:
            pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def test_table_rows_that_differ_only_in_digits_are_text_and_a_page_number_footer_still_goes(tmp_path):
    pages = [[f"Row {n} value {n + 16}" for n in range(5 * p + 1, 5 * p + 6)] + [f"Page {p + 1} of 3"]
             for p in range(3)]
    (doc,) = load_documents([numbered_pdf(tmp_path / "rows.pdf", pages)]).documents
    assert all(f"Row {n} value {n + 16}" in doc.text for n in range(1, 16))
    assert "Page" not in doc.text


def test_a_pdf_of_one_numbered_line_a_page_is_not_an_empty_document(tmp_path):
    pages = [[f"Row {n} value {n + 16}"] for n in range(1, 5)]
    result = load_documents([numbered_pdf(tmp_path / "rows.pdf", pages)])
    assert result.skipped == []
    assert all(f"Row {n} value {n + 16}" in result.documents[0].text for n in range(1, 5))
