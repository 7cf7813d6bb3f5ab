"""E-mail (.eml): the message with its subject, senders and date; each attachment of a supported
type a document of its own whose parent is the e-mail; the rest skipped one line each."""

from __future__ import annotations

import logging
import time

from bench.samples import eml_file
from rag.ingest.loaders import load_documents

from ..support.files import make_pdf

OFFER = "The warehouse rent is 4200 euros a month."


def _offer(path, *attachments):
    return eml_file(path, "Offer for the Kilwa warehouse",
                    "Hi Bo,\n\nthe offer is attached. The caf\u00e9 on the ground floor stays open.\n\nAnn",
                    list(attachments) or [("offer.pdf", make_pdf(OFFER), "application/pdf")])


def test_the_message_has_its_subject_as_title_and_its_senders_and_date_as_metadata(tmp_path):
    _offer(tmp_path / "mail" / "offer.eml")
    docs = {d.id: d for d in load_documents([tmp_path], root=tmp_path).documents}
    mail = docs["mail/offer.eml"]
    assert mail.title == "Offer for the Kilwa warehouse"
    assert mail.metadata["from"] == "Ann Lee <ann@example.com>" and mail.metadata["to"] == "Bo Chen <bo@example.com>"
    assert mail.metadata["date"] == "2024-03-05T10:12:00+00:00"
    assert "The caf\u00e9 on the ground floor stays open." in mail.text  # quoted-printable and UTF-8 decoded
    assert mail.text.startswith("From: Ann Lee <ann@example.com>\nTo: Bo Chen <bo@example.com>\n")


def test_a_pdf_attachment_is_its_own_document_with_the_email_as_parent(tmp_path):
    _offer(tmp_path / "mail" / "offer.eml")
    docs = {d.id: d for d in load_documents([tmp_path], root=tmp_path).documents}
    attachment = docs["mail/offer.eml#offer.pdf"]
    assert attachment.text == OFFER
    assert attachment.metadata["parent"] == "mail/offer.eml"
    assert attachment.metadata["corpus_file"] == "mail/offer.eml"
    assert attachment.metadata["type"] == "pdf" and attachment.metadata["pages"] == 1
    assert attachment.title == "offer"
    assert attachment.metadata["date"] == "2024-03-05T10:12:00+00:00"  # the e-mail's, for date filters
    assert OFFER not in docs["mail/offer.eml"].text


def test_an_unsupported_or_corrupt_attachment_is_one_line_and_the_rest_is_read(tmp_path, caplog):
    _offer(tmp_path / "offer.eml", ("photos.zip", b"PK\x03\x04 not much", "application/zip"),
           ("broken.pdf", make_pdf(OFFER)[:60], "application/pdf"),
           ("notes.txt", b"Keys are with the caretaker.", "text/plain"))
    with caplog.at_level(logging.WARNING, logger="rag.ingest.loaders"):
        result = load_documents([tmp_path / "offer.eml"])
    assert sorted(d.id for d in result.documents) == ["offer.eml", "offer.eml#notes.txt"]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and all("\n" not in line for line in lines)
    assert any(line.startswith("skipped attachment photos.zip of ") and "unsupported type" in line for line in lines)
    assert any(line.startswith("skipped attachment broken.pdf of ") for line in lines)
    # A damaged attachment keeps what was indexed from it; an unsupported one never had anything.
    assert {s.doc_id for s in result.skipped} == {None, "offer.eml#broken.pdf"}


def test_attachments_of_one_name_get_distinct_stable_ids(tmp_path):
    _offer(tmp_path / "offer.eml", ("notes.txt", b"First note about the roof.", "text/plain"),
           ("notes.txt", b"Second note about the doors.", "text/plain"))
    ids = [d.id for d in load_documents([tmp_path / "offer.eml"]).documents]
    assert ids == ["offer.eml", "offer.eml#notes.txt", "offer.eml#notes (2).txt"]
    assert ids == [d.id for d in load_documents([tmp_path / "offer.eml"]).documents]


def test_an_html_only_message_is_read_through_the_html_reader(tmp_path):
    eml_file(tmp_path / "news.eml", "Harbour news", "<html><head><script>var spy = 1;</script></head><body>"
             "<h1>Harbour news</h1><p>The new crane arrives in May.</p></body></html>", html=True)
    [doc] = load_documents([tmp_path / "news.eml"]).documents
    assert "The new crane arrives in May." in doc.text and "spy" not in doc.text


def test_a_malformed_mime_structure_is_read_as_far_as_it_goes(tmp_path):
    (tmp_path / "broken.eml").write_bytes(
        b"From: ann@example.com\r\nSubject: Broken\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="never-closed"\r\n\r\n'
        b"--never-closed\r\nContent-Type: text/plain\r\n\r\nThe boundary is never closed.\r\n"
        b"--never-closed\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="cut.pdf"\r\n\r\nJVBERi0x!!notbase64')
    result = load_documents([tmp_path / "broken.eml"])
    assert [d.title for d in result.documents] == ["Broken"]
    assert "The boundary is never closed." in result.documents[0].text
    assert all("\n" not in s.reason for s in result.skipped)


def test_a_file_without_mail_headers_is_not_an_email(tmp_path):
    (tmp_path / "x.eml").write_bytes(b"\x00\x01\x02 binary")
    result = load_documents([tmp_path / "x.eml"])
    assert not result.documents and "not an e-mail" in result.skipped[0].reason


def test_an_email_and_its_attachments_share_one_parse_time_limit(tmp_path):
    from bench.faults import pdf_bomb
    from rag.ingest.loaders import FileLimits

    _offer(tmp_path / "offer.eml", ("bomb.pdf", pdf_bomb(pages=40), "application/pdf"),
           ("notes.txt", b"Keys are with the caretaker.", "text/plain"))
    t0 = time.monotonic()
    result = load_documents([tmp_path / "offer.eml"], limits=FileLimits(max_parse_seconds=2))
    assert time.monotonic() - t0 < 6
    assert [d.id for d in result.documents] == ["offer.eml"]
    reasons = {s.path.split(" of ")[0]: s.reason for s in result.skipped}
    assert "max_parse_seconds (2 s)" in reasons["attachment bomb.pdf"]
    assert "used up max_parse_seconds" in reasons["attachment notes.txt"]


def test_a_zip_bomb_attachment_is_refused_by_the_zip_check_before_it_is_unpacked(tmp_path):
    from bench.faults import zipped

    bomb = zipped({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:p/>" * (4 * 2**20)})
    _offer(tmp_path / "offer.eml", ("contract.docx", bomb, "application/vnd.openxmlformats-officedocument."
                                                            "wordprocessingml.document"))
    result = load_documents([tmp_path / "offer.eml"])
    assert [d.id for d in result.documents] == ["offer.eml"]
    [skipped] = result.skipped
    assert skipped.path.startswith("attachment contract.docx of ") and "max_zip_ratio" in skipped.reason


def test_text_after_an_inline_attachment_is_part_of_the_body(tmp_path):
    from email.message import EmailMessage

    message = EmailMessage()
    message["Subject"], message["From"] = "Site visit", "ann@example.com"
    message.set_content("Before the photo: the roof leaks.")
    message.add_attachment(b"\x89PNG not really", maintype="image", subtype="png", disposition="inline")
    message.add_attachment("After the photo: the doors stick.", subtype="plain", disposition="inline")
    (tmp_path / "visit.eml").write_bytes(bytes(message))
    result = load_documents([tmp_path / "visit.eml"])
    [doc] = result.documents
    assert "the roof leaks." in doc.text and "After the photo: the doors stick." in doc.text
    assert not result.skipped  # an unnamed inline image is part of the body, not an attachment
