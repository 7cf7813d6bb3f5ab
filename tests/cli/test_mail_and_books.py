"""E-books and e-mail through `rag index`, `rag search`, `rag ask` and `rag docs`: a chapter's
passage found under its chapter, an attachment found and cited as a document of its own, and the
attachments going with their e-mail."""

from __future__ import annotations

import json

import pytest

from bench.samples import eml_file, epub_file
from rag.cli import main

from ..support.cli import run
from ..support.files import make_pdf

pytestmark = pytest.mark.usefixtures("shared_model")

RENT = "The warehouse rent is 4200 euros a month."
# Over a chunk's length (160 tokens), so a passage late in chapter 2 is in a chunk that starts in it.
HARBOUR = "\n\n".join(f"Ship {n} came in at dawn, and the harbour master wrote its name in the ledger." for n in range(12))
ROAD = "\n\n".join(f"Camel {n} was loaded at the well before the drivers had eaten." for n in range(14))


@pytest.fixture
def corpus(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    epub_file(tmp_path / "corpus" / "salt-road.epub", "The Salt Road",
              [("The Harbour", HARBOUR), ("The Caravan", ROAD + "\n\nThe caravan left Kilwa on the third day of the "
                                                          "rains, carrying salt and cloth.")])
    eml_file(tmp_path / "corpus" / "mail" / "offer.eml", "Offer for the Kilwa warehouse",
             "Hi Bo,\n\nthe offer for the warehouse is attached.\n\nAnn",
             [("offer.pdf", make_pdf(RENT), "application/pdf"),
              ("photos.zip", b"PK\x03\x04 not much", "application/zip")])
    return tmp_path / "corpus"


def _search(capsys, question: str) -> list[dict]:
    code, out, _ = run(capsys, "search", question, "--json", "-k", "3", "--index", "idx")
    assert code == 0
    return json.loads(out)


def test_a_chapter_passage_is_found_under_its_chapter_title(corpus, capsys):
    code, _, err = run(capsys, "index", "corpus", "--index", "idx")
    assert code == 0
    hits = [h for h in _search(capsys, "On which day did the caravan leave with salt and cloth?")
            if "The caravan left Kilwa" in h["text"]]
    assert hits and hits[0]["doc_id"] == "salt-road.epub" and hits[0]["title"] == "The Salt Road"
    assert hits[0]["metadata"]["section"] == "The Caravan"


def test_an_attachment_is_its_own_document_found_and_cited(corpus, capsys):
    code, _, err = run(capsys, "index", "corpus", "--index", "idx")
    assert code == 0
    skipped = [line for line in err.splitlines() if "photos.zip" in line]
    assert len(skipped) == 1 and "attachment photos.zip of corpus/mail/offer.eml: unsupported type" in skipped[0]
    code, out, _ = run(capsys, "docs", "--index", "idx")
    rows = {line.split()[0]: line for line in out.splitlines()[1:-1]}
    assert "PARENT" in out.splitlines()[0]
    assert rows["mail/offer.eml#offer.pdf"].rstrip().endswith("mail/offer.eml")
    top = _search(capsys, "How much is the warehouse rent?")[0]
    assert top["doc_id"] == "mail/offer.eml#offer.pdf" and RENT in top["text"]
    code, out, _ = run(capsys, "ask", "How much is the warehouse rent a month?", "--json", "--index", "idx")
    citations = json.loads(out)["citations"]
    assert citations and citations[0]["doc_id"] == "mail/offer.eml#offer.pdf" and citations[0]["page_start"] == 1
    code, out, _ = run(capsys, "docs", "show", "mail/offer.eml", "--json", "--index", "idx")
    mail = json.loads(out)
    assert mail["title"] == "Offer for the Kilwa warehouse"
    assert mail["metadata"]["from"] == "Ann Lee <ann@example.com>"
    assert mail["metadata"]["date"].startswith("2024-03-05")


def test_deleting_or_changing_the_email_takes_its_attachments_along(corpus, capsys):
    assert main(["index", "corpus", "--index", "idx"]) == 0
    capsys.readouterr()
    eml_file(corpus / "mail" / "offer.eml", "Offer for the Kilwa warehouse", "Withdrawn, sorry.")
    code, out, _ = run(capsys, "index", "corpus", "--index", "idx")
    assert code == 0 and "1 updated, 1 removed" in out
    (corpus / "mail" / "offer.eml").unlink()
    run(capsys, "index", "corpus", "--index", "idx")
    code, out, _ = run(capsys, "docs", "--json", "--index", "idx")
    assert [d["id"] for d in json.loads(out)] == ["salt-road.epub"]


def test_removing_the_email_from_the_library_removes_its_attachments(corpus, capsys):
    assert main(["index", "corpus", "--index", "idx"]) == 0
    capsys.readouterr()
    code, out, _ = run(capsys, "docs", "remove", "mail/offer.eml", "--index", "idx")
    assert code == 0
    assert "removed mail/offer.eml\n" in out and "removed mail/offer.eml#offer.pdf\n" in out
    assert out.count("left corpus/mail/offer.eml in place") == 1
    code, out, _ = run(capsys, "docs", "--json", "--index", "idx")
    assert [d["id"] for d in json.loads(out)] == ["salt-road.epub"]


def test_an_unreadable_email_keeps_what_was_indexed_from_it(corpus, capsys):
    assert main(["index", "corpus", "--index", "idx"]) == 0
    capsys.readouterr()
    (corpus / "mail" / "offer.eml").write_bytes(b"\x00\x01 damaged")
    code, _, err = run(capsys, "index", "corpus", "--index", "idx")
    assert code == 0 and "offer.eml" in err
    code, out, _ = run(capsys, "docs", "--json", "--index", "idx")
    assert {d["id"] for d in json.loads(out)} == {"salt-road.epub", "mail/offer.eml", "mail/offer.eml#offer.pdf"}
