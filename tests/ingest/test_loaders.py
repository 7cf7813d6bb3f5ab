"""Loaders and cleaning: every supported format, and every way a file can be bad."""

from __future__ import annotations

import json
import logging
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.core.errors import DocumentError
from rag.ingest.cleaning import clean_text, parse_date
from rag.ingest.loaders import load_documents, load_text_document

from ..conftest import ARTICLE
from ..support.files import make_pdf


def test_the_seed_article_is_cleaned_and_its_metadata_recognised():
    (doc,) = load_documents([ARTICLE]).documents
    assert doc.id == "imu-pakistan-2014.txt"
    assert doc.text.startswith("With Recent Attacks, the IMU Seeks to Raise Its Profile in Pakistan")
    assert "go to top" not in doc.text
    assert doc.title == "With Recent Attacks, the IMU Seeks to Raise Its Profile in Pakistan"
    assert doc.metadata["date"] == "2014-06-17"
    assert doc.metadata["photo_credit"] == "Mushtaq Ahmad Sadiq"
    assert "Tuesday, June 17, 2014" in doc.text, "the date line stays in the text: people ask about it"
    assert "’" in doc.text, "curly quotes are kept so quotes match the source verbatim"


def test_each_format_loads_with_its_title_and_text(tmp_path):
    (tmp_path / "notes.md").write_text("---\ntitle: Field notes\ndate: 2020-05-01\n---\n# Heading\n\nOwls hunt at night.")
    (tmp_path / "page.html").write_text(
        "<html><head><title>Owl facts</title><meta name='author' content='Ann Lee'>"
        "<script>alert('x')</script></head><body><nav>Home | About</nav><article><h1>Owls</h1>"
        "<p>Owls can rotate their heads &amp; necks.</p><p>They eat mice.</p></article>"
        "<footer>Copyright</footer></body></html>")
    (tmp_path / "paper.pdf").write_bytes(make_pdf("Barn owls live on every continent."))
    (tmp_path / "corpus.jsonl").write_text(json.dumps({"id": "d1", "title": "T", "text": "Snowy owls are white."}) + "\n")
    (tmp_path / "plain.txt").write_text("Owls are birds.\r\n")
    result = load_documents([tmp_path])
    docs = {d.id: d for d in result.documents}
    assert result.skipped == []
    assert set(docs) == {"notes.md", "page.html", "paper.pdf", "d1", "plain.txt"}
    assert docs["notes.md"].title == "Field notes" and docs["notes.md"].metadata["date"] == "2020-05-01"
    html = docs["page.html"]
    assert html.title == "Owl facts" and html.metadata["byline"] == "Ann Lee"
    assert "Owls can rotate their heads & necks." in html.text and "They eat mice." in html.text
    assert "alert" not in html.text and "Home | About" not in html.text and "Copyright" not in html.text
    assert "Barn owls live on every continent." in docs["paper.pdf"].text
    assert docs["d1"].title == "T" and docs["d1"].text == "Snowy owls are white."
    assert docs["plain.txt"].text == "Owls are birds." and docs["plain.txt"].title == "plain"


def test_bad_files_are_skipped_with_a_reason_and_the_others_still_load(tmp_path, caplog):
    (tmp_path / "good.txt").write_text("A readable document.")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02" + os.urandom(100))
    (tmp_path / "empty.txt").write_text("  \n\n ")
    (tmp_path / "latin1.txt").write_bytes("café crème".encode("latin-1"))
    (tmp_path / "image.gif").write_bytes(b"GIF89a")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n")
    (tmp_path / "broken.pdf").write_bytes(make_pdf("Truncated text here")[:150])
    (tmp_path / "nothing.pdf").write_bytes(b"%PDF-1.4 garbage")
    with caplog.at_level(logging.WARNING, logger="rag.ingest.loaders"):
        result = load_documents([tmp_path])
    assert [d.id for d in result.documents] == ["good.txt"]
    reasons = {os.path.basename(s.path): s.reason for s in result.skipped}
    assert "binary" in reasons["binary.txt"]
    assert "empty" in reasons["empty.txt"]
    assert "UTF-8" in reasons["latin1.txt"]
    assert "unsupported file type '.gif'" in reasons["image.gif"]
    assert "unreadable image" in reasons["image.png"]
    assert "PDF" in reasons["broken.pdf"] and "PDF" in reasons["nothing.pdf"]
    assert all(name in caplog.text for name in reasons)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_text_is_read_with_or_without_a_byte_order_mark(tmp_path, encoding):
    text = "# Barn owls\n\nBarn owls hunt at night — in Zürich's church towers too.\n北京的猫头鹰。\n"
    (tmp_path / "owls.md").write_bytes(text.encode(encoding))  # "utf-16"/"utf-32" write a mark, the others none
    (tmp_path / "notes.txt").write_bytes("Tawny owls call at dusk.\r\n".encode(encoding))
    result = load_documents([tmp_path])
    assert result.skipped == []
    docs = {d.id: d for d in result.documents}
    assert docs["owls.md"].title == "Barn owls" and "in Zürich's church towers too." in docs["owls.md"].text
    assert "北京的猫头鹰" in docs["owls.md"].text and docs["notes.txt"].text == "Tawny owls call at dusk."


def test_binary_data_is_still_binary_when_its_nuls_fall_like_utf16(tmp_path):
    import struct

    (tmp_path / "samples.txt").write_bytes(struct.pack("<2000h", *range(2000)))  # 16-bit numbers
    (skipped,) = load_documents([tmp_path]).skipped
    assert "binary" in skipped.reason


def test_oversized_files_are_skipped(tmp_path):
    (tmp_path / "big.txt").write_text("x" * 2000)
    result = load_documents([tmp_path], max_bytes=1000)
    assert result.documents == [] and "too large" in result.skipped[0].reason


def test_a_broken_jsonl_line_is_reported_with_its_number_and_the_rest_load(tmp_path):
    lines = [json.dumps({"id": "a", "title": "", "text": "first"}), "{broken", json.dumps({"id": "b"}),
             json.dumps({"id": "a", "text": "duplicate"}), json.dumps({"id": "c", "text": "third", "lang": "en"})]
    (tmp_path / "c.jsonl").write_text("\n".join(lines))
    result = load_documents([tmp_path / "c.jsonl"])
    assert [d.id for d in result.documents] == ["a", "c"]
    assert result.documents[1].metadata["lang"] == "en"
    skipped = {s.path.rsplit(":", 1)[1]: s.reason for s in result.skipped}
    assert set(skipped) == {"2", "3", "4"}
    assert "JSON" in skipped["2"] and "text" in skipped["3"] and "duplicate" in skipped["4"]


def test_an_upload_is_parsed_by_name_or_refused_with_the_reason():
    doc = load_text_document("owls.md", b"# Owls\n\nOwls are quiet fliers.")
    assert doc.id == "owls.md" and doc.title == "Owls"
    with pytest.raises(DocumentError, match="unsupported file type"):
        load_text_document("run.exe", b"MZ")
    with pytest.raises(DocumentError, match="binary"):
        load_text_document("x.txt", b"\x00\x00")


@pytest.mark.parametrize("line, iso", [("Tuesday, June 17, 2014", "2014-06-17"), ("17 June 2014", "2014-06-17"),
                                       ("2014-06-17", "2014-06-17"), ("Sept. 3, 2021", "2021-09-03"),
                                       ("June 2014 was hot", None), ("February 30, 2014", None)])
def test_date_lines_are_recognised(line, iso):
    assert parse_date(line) == iso


def test_only_short_boilerplate_lines_are_removed():
    text = "Go to top\nShare this article\nThe share price fell, analysts said, so go to top management.\nRead more"
    assert clean_text(text).text == "The share price fell, analysts said, so go to top management."


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_cleaning_never_fails_and_is_idempotent(raw):
    once = clean_text(raw).text
    assert clean_text(once).text == once
    assert "\r" not in once and "\x00" not in once
