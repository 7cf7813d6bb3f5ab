"""A cited document's original file, text and span pages (ChatService.original, source_view,
highlights): files found only from the index's record and served only while they are the file
indexed; ids that are paths, or of documents removed, find nothing."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from bench.samples import eml_file, text_image
from rag.app import factory
from rag.app.originals import Originals
from rag.app.service import ChatService
from rag.core.config import Config
from rag.core.errors import DocumentNotFoundError, OriginalNotFoundError, SpanError
from rag.ingest.layout import Box, PageHighlight, SpanLayout
from tests.support.document_files import harbour_docx, velmont_pdf
from tests.support.files import write, write_jsonl

NOTES = "# Lighthouse notes\n\nThe Zanzibar lighthouse keeper is Omari Juma.\n\n## Lamps\n\nThe lamp is lit at dusk.\n"
SECRET = "TOP-SECRET-7f3a9c: the vault code is 4471"


@pytest.fixture(scope="module")
def served(tmp_path_factory, embedder):
    """A corpus of a PDF, a Word file, Markdown, HTML and a .jsonl corpus, indexed once."""
    root = tmp_path_factory.mktemp("originals")
    corpus = root / "corpus"
    corpus.mkdir()
    velmont_pdf(corpus / "velmont.pdf")
    harbour_docx(corpus / "harbour.docx")
    write(corpus / "notes.md", NOTES)
    write(corpus / "page.html", "<html><body><h1>Tides</h1><p>High tide at Kilwa is at noon.</p>"
                                "<script>alert(1)</script></body></html>")
    write_jsonl(corpus / "qa.jsonl", [{"id": "q1", "title": "Ferry", "text": "The ferry leaves at nine in the morning."}])
    eml_file(corpus / "mail.eml", "The report", "Here is the observatory report.",
             [("report.pdf", (corpus / "velmont.pdf").read_bytes(), "application/pdf")])
    text_image(corpus / "sign.png", "The harbour closes at sunset.", size=(6, 2.5))
    write(root / "secret.txt", SECRET)
    config = Config(corpus_dir=corpus, index_dir=root / "index")
    factory.indexer(config, embedder).index_paths([corpus], config.index_dir)
    return ChatService(config, embedder=embedder)


def test_a_pdf_docx_and_markdown_are_served_as_their_own_files(served):
    corpus = Path(served.config.corpus_dir)
    expected = {"velmont.pdf": "application/pdf",
                "harbour.docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "notes.md": "text/markdown; charset=utf-8"}
    for doc_id, media_type in expected.items():
        original = served.original(doc_id)
        assert original.media_type == media_type and original.inline and original.filename == doc_id
        assert original.path.read_bytes() == (corpus / doc_id).read_bytes()
        assert original.size == (corpus / doc_id).stat().st_size
        assert original.headers()["Content-Disposition"] == f"inline; filename*=UTF-8''{doc_id}"
        assert original.headers(download=True)["Content-Disposition"].startswith("attachment;")


def test_html_is_never_served_inline(served):
    original = served.original("page.html")
    assert not original.inline
    assert original.headers()["Content-Disposition"].startswith("attachment;")
    assert original.headers()["Content-Security-Policy"] == "sandbox"
    assert original.headers()["X-Content-Type-Options"] == "nosniff"


def test_the_index_records_each_files_sha256(served):
    corpus = Path(served.config.corpus_dir)
    pdf = hashlib.sha256((corpus / "velmont.pdf").read_bytes()).hexdigest()
    documents = served.retriever.documents
    assert documents["velmont.pdf"]["metadata"]["sha256"] == pdf
    assert documents["mail.eml#report.pdf"]["metadata"]["sha256"] == pdf  # an attachment: its own bytes
    assert documents["mail.eml"]["metadata"]["sha256"] == hashlib.sha256((corpus / "mail.eml").read_bytes()).hexdigest()


def test_a_record_of_a_jsonl_corpus_has_no_original(served):
    doc_id = next(d for d, e in served.retriever.documents.items() if e["metadata"].get("type") == "jsonl")
    with pytest.raises(OriginalNotFoundError):
        served.original(doc_id)
    view = served.source_view(doc_id)
    assert not view.original and view.view == "text" and "ferry leaves at nine" in view.text


def test_a_quote_on_page_2_is_found_on_page_2(served):
    view = served.source_view("velmont.pdf")
    start = view.text.index("Halvorsen, the author")
    end = view.text.index("variable stars.", start) + len("variable stars.")
    found = served.highlights("velmont.pdf", start, end)
    assert found.quote == view.text[start:end] == "Halvorsen, the author of the northern survey of variable stars."
    assert (found.view, found.page_first, found.page_last) == ("pdf", 2, 2)
    assert all(p.page == 2 for p in found.pages)  # boxes, when found, are on the cited page
    assert found.to_dict()["quote"] == found.quote


def test_a_quote_across_a_page_break_spans_both_pages(served):
    text = served.source_view("velmont.pdf").text
    start = text.index("Dr. Ingrid")
    found = served.highlights("velmont.pdf", start, text.index("Halvorsen") + len("Halvorsen"))
    assert (found.page_first, found.page_last) == (1, 2)
    start = text.index("northern ridge")
    assert served.highlights("velmont.pdf", start, start + 14).page_first == 1


def test_a_pdf_view_has_its_pages_and_where_they_start(served):
    view = served.source_view("velmont.pdf")
    assert (view.view, view.type, view.pages, view.original) == ("pdf", "pdf", 2, True)
    assert view.page_starts == (view.text.index("Halvorsen"),)
    assert view.to_dict()["page_starts"] == list(view.page_starts)


def test_a_word_file_is_shown_as_its_text_with_the_quote_highlighted(served):
    view = served.source_view("harbour.docx")
    assert (view.view, view.pages, view.page_starts) == ("text", None, ())
    assert view.sections[0] == (view.text.index("Kilwa Harbour Handbook"), "Kilwa Harbour Handbook")
    start = view.text.index("Amina Said")
    found = served.highlights("harbour.docx", start, start + len("Amina Said"))
    assert found.quote == "Amina Said" and found.method == "text" and found.pages == ()
    assert found.page_first is None


@pytest.mark.parametrize("start,end", [(-1, 5), (5, 5), (9, 3), (0, 10**9)])
def test_a_span_outside_the_document_is_refused(served, start, end):
    with pytest.raises(SpanError):
        served.highlights("notes.md", start, end)


def test_ids_that_are_paths_find_nothing(served):
    root = Path(served.config.corpus_dir).parent
    manifest = next(Path(served.config.index_dir).rglob("manifest.json"))
    ids = ["../secret.txt", "..%2Fsecret.txt", "corpus/../secret.txt", "corpus/../notes.md", "./notes.md",
           str(root / "secret.txt"), os.path.relpath(root / "secret.txt"), "/etc/passwd", str(manifest),
           os.path.relpath(manifest), str(Path(served.config.corpus_dir) / "notes.md"), "", "no-such.pdf"]
    for doc_id in ids:
        for ask in (served.original, served.source_view, lambda d: served.highlights(d, 0, 1)):
            with pytest.raises(DocumentNotFoundError) as refused:
                ask(doc_id)
            assert not isinstance(refused.value, OriginalNotFoundError)
            assert SECRET not in str(refused.value)


def test_a_file_changed_after_indexing_is_not_served_until_indexed_again(tmp_path, embedder):
    corpus = tmp_path / "corpus"
    notes = write(corpus / "notes.md", NOTES)
    config = Config(corpus_dir=corpus, index_dir=tmp_path / "index")
    indexer = factory.indexer(config, embedder)
    indexer.index_paths([corpus], config.index_dir)
    service = ChatService(config, embedder=embedder)
    assert service.original("notes.md").path == notes.resolve()

    notes.write_text(NOTES.replace("dusk", "dawn"), encoding="utf-8")  # the same size, other words
    with pytest.raises(OriginalNotFoundError, match="re-index"):
        service.original("notes.md")
    assert not service.source_view("notes.md").original
    indexer.index_paths([corpus], config.index_dir)
    assert service.original("notes.md").path.read_text(encoding="utf-8").endswith("dawn.\n")

    # Bytes that change while the text does not (blank lines added) are indexed again too, so the
    # index's record of the file stays the file's own and it is served.
    notes.write_text(NOTES.replace("dusk", "dawn") + "\n\n\n", encoding="utf-8")
    report = indexer.index_paths([corpus], config.index_dir)
    assert report.updated == ["notes.md"]
    assert service.original("notes.md").size == notes.stat().st_size

    notes.unlink()
    notes.symlink_to(tmp_path / write(tmp_path / "secret.txt", SECRET))
    with pytest.raises(OriginalNotFoundError) as refused:
        service.original("notes.md")
    assert SECRET not in str(refused.value)


def test_a_removed_document_is_not_served(tmp_path, embedder):
    corpus = tmp_path / "corpus"
    write(corpus / "notes.md", NOTES)
    write(corpus / "other.md", "# Other\n\nThe ferry is blue.\n")
    config = Config(corpus_dir=corpus, index_dir=tmp_path / "index")
    factory.indexer(config, embedder).index_paths([corpus], config.index_dir)
    service = ChatService(config, embedder=embedder)
    assert service.original("notes.md")
    service.remove_documents(["notes.md"])
    assert (corpus / "notes.md").exists()  # the user's file stays, but it is no document any more
    with pytest.raises(DocumentNotFoundError):
        service.original("notes.md")


class _Manifest:
    """The index's record of documents, as a retriever holds it."""

    def __init__(self, documents: dict):
        self.documents = documents

    def refresh(self) -> bool:
        return False


def test_files_indexed_before_hashes_were_recorded_are_served_from_the_corpus_only(tmp_path):
    corpus = tmp_path / "corpus"
    inside = write(corpus / "old.txt", "An old note.")
    outside = write(tmp_path / "elsewhere" / "old.txt", "An old note.")
    entry = {"source": str(outside), "metadata": {"path": str(outside), "type": "txt", "bytes": inside.stat().st_size}}
    originals = Originals(_Manifest({"old.txt": entry}), corpus)
    assert originals.original("old.txt").path == inside.resolve()  # the path recorded is outside: not taken

    inside.unlink()
    with pytest.raises(OriginalNotFoundError):
        originals.original("old.txt")
    entry["metadata"]["sha256"] = hashlib.sha256(outside.read_bytes()).hexdigest()
    assert originals.original("old.txt").path == outside.resolve()  # its hash proves it is the file indexed


@pytest.fixture
def located(monkeypatch):
    """What the layout reader is asked: the file's bytes, the quote and the pages (it answers one box)."""
    asked = []

    def locate_span(suffix, data, quote, pages, *, ocr=None):
        asked.append((suffix, data, quote, list(pages)))
        return SpanLayout((PageHighlight(pages[0], 595.0, 842.0, (Box(0.1, 0.2, 0.5, 0.25),)),), "text-layer", 1.0)

    monkeypatch.setattr("rag.ingest.layout.locate_span", locate_span)
    return asked


def test_boxes_are_looked_for_in_the_verified_file_on_the_cited_pages(served, located):
    text = served.source_view("velmont.pdf").text
    start = text.index("Halvorsen")
    found = served.highlights("velmont.pdf", start, start + 9)
    pdf = (Path(served.config.corpus_dir) / "velmont.pdf").read_bytes()
    assert located == [(".pdf", pdf, "Halvorsen", [2])]
    assert found.method == "text-layer"
    assert found.to_dict()["pages"] == [{"page": 2, "width": 595.0, "height": 842.0, "boxes": [[0.1, 0.2, 0.5, 0.25]]}]


def test_an_attachment_is_read_from_its_e_mail_for_boxes_but_not_served_alone(served, located):
    doc_id = "mail.eml#report.pdf"
    with pytest.raises(OriginalNotFoundError, match="mail.eml"):
        served.original(doc_id)
    assert served.original("mail.eml").media_type == "message/rfc822" and not served.original("mail.eml").inline
    view = served.source_view(doc_id)
    assert view.view == "pdf" and not view.original
    start = view.text.index("Halvorsen")
    found = served.highlights(doc_id, start, start + 9)
    assert found.page_first == 2 and found.method == "text-layer"
    assert located[0][1] == (Path(served.config.corpus_dir) / "velmont.pdf").read_bytes()


def test_a_file_the_layout_reader_fails_on_still_opens_at_its_page(served, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("Failed to load page")

    monkeypatch.setattr("rag.ingest.layout.locate_span", broken)
    text = served.source_view("velmont.pdf").text
    start = text.index("Halvorsen")
    found = served.highlights("velmont.pdf", start, start + 9)
    assert (found.page_first, found.method, found.pages) == (2, "", ())


def test_an_image_has_one_page_and_only_images_have_page_pictures(served):
    view = served.source_view("sign.png")
    assert view.view == "image" and view.original and "harbour closes" in view.text
    for page in (0, 2, -1):
        with pytest.raises(SpanError):
            served.page_image("sign.png", page)
    with pytest.raises(OriginalNotFoundError):
        served.page_image("velmont.pdf", 1)
    with pytest.raises(DocumentNotFoundError):
        served.page_image("../sign.png", 1)
