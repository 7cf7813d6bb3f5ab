"""Uploads take every format `rag index` reads, and an uploaded e-mail brings its attachments."""

from __future__ import annotations

import pytest

from bench import samples
from rag.app import factory
from rag.indexing.uploads import ingest

from ..support.files import make_pdf

# Each format: a sample file holding a sentence only it has, and a question that finds it.
FORMATS = {
    "book.epub": (lambda p: samples.epub_file(p, "Tides", [("Neaps", "Neap tides come twice a month."),
                                                           ("Kilns", "The lighthouse kiln glazes blue tiles.")]),
                  "What does the lighthouse kiln glaze?"),
    "notes.odt": (lambda p: samples.odt_file(p, "Harbour", [(1, "Dues"), "The harbour master keeps a brass bell."]),
                  "What does the harbour master keep?"),
    "scan.png": (lambda p: samples.text_image(p, "The ferry to Pemba leaves at dawn on Mondays."),
                 "When does the ferry to Pemba leave?"),
    "deck.pptx": (lambda p: samples.pptx_file(p, [("Ports", "Dhows sail north", ""),
                                                   ("Cargo", "Cloves go south", "Mention that the cloves dry for six days.")]),
                  "How long do the cloves dry?"),
    "towns.xlsx": (lambda p: samples.xlsx_file(p, {"Towns": [["Town", "Mayor"], ["Wete", "Asha Omar"],
                                                             ["Chake", "Juma Ali"]]}),
                   "Who is the mayor of Chake?"),
    "boats.csv": (lambda p: samples.csv_file(p, [["Boat", "Length"], ["Jahazi", "18 m"], ["Mtepe", "11 m"]]),
                  "How long is the Mtepe?"),
    "page.html": (lambda p: samples.write_html_page(p, "Saffron", ["Saffron threads are picked by hand in autumn."]),
                  "How are saffron threads picked?"),
}


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_each_readable_format_can_be_uploaded_and_is_searchable(name, tmp_path, config, embedder):
    config = config.replace(index_dir=tmp_path / "index")
    build, question = FORMATS[name]
    data = build(tmp_path / name).read_bytes()
    indexer = factory.indexer(config, embedder)
    result = ingest(name, data, corpus_dir=tmp_path / "corpus", index_dir=config.index_dir, indexer=indexer)
    assert result.chunks >= 1
    hits = factory.retriever(config, embedder=embedder).search(question, 1)
    assert hits[0].doc_id == f"uploads/{name}"


def test_an_uploaded_email_indexes_its_attachments_and_a_new_version_drops_the_ones_it_lost(tmp_path, config,
                                                                                               embedder):
    config = config.replace(index_dir=tmp_path / "index")
    corpus, index_dir = tmp_path / "corpus", config.index_dir
    indexer = factory.indexer(config, embedder)
    pdf = make_pdf("The quarry ships basalt blocks every Thursday.")
    with_pdf = samples.eml_file(tmp_path / "offer.eml", "Quarry offer", "Please see the schedule attached.",
                                [("schedule.pdf", pdf, "application/pdf")]).read_bytes()
    result = ingest("offer.eml", with_pdf, corpus_dir=corpus, index_dir=index_dir, indexer=indexer)
    assert "with 1 attachment" in result.status()
    retriever = factory.retriever(config, embedder=embedder)
    hit = retriever.search("When does the quarry ship basalt?", 1)[0]
    assert hit.doc_id == "uploads/offer.eml#schedule.pdf"
    assert retriever.get_document(hit.doc_id).metadata["parent"] == "uploads/offer.eml"

    # The next `rag index` of the corpus reads the stored e-mail as the upload did: nothing changes.
    assert not indexer.index_paths([corpus], index_dir).changed

    without = samples.eml_file(tmp_path / "v2.eml", "Quarry offer", "The schedule follows next week.").read_bytes()
    ingest("offer.eml", without, corpus_dir=corpus, index_dir=index_dir, indexer=indexer)
    ids = {d.id for d in factory.retriever(config, embedder=embedder).list_documents()}
    assert ids == {"uploads/offer.eml"}
