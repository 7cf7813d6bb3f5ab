"""Scanned PDFs and images read by OCR (Tesseract): pages, accuracy, the `ocr` modes, confidence
warnings, limits. The files are rendered from text by bench.samples at scanner resolutions."""

from __future__ import annotations

import difflib
import logging
import re
import struct
import zlib
from pathlib import Path

import pytest

from bench.samples import mixed_pdf, multipage_tiff, noise_image, page_image, scanned_pdf, text_image
from rag.app import factory
from rag.core.config import Config
from rag.core.errors import ConfigError, DocumentError
from rag.ingest import images as images_module
from rag.ingest.formats import extract
from rag.ingest.loaders import FileLimits, load_documents, load_text_document
from rag.ingest.ocr import OcrSettings, recognize, tesseract_path

pytestmark = pytest.mark.skipif(tesseract_path() is None, reason="Tesseract is not installed")

PAGE_1 = "The harbour of Kilwa opens at dawn. Fishing boats leave before the tide turns."
PAGE_2 = "The lighthouse keeper, Amina Said, records every ship that passes the reef in a blue ledger."
# A page of ordinary prose for the accuracy figure: names, numbers and punctuation included.
PROSE = ("In March 1952 the port authority of Kilwa Kivinje ordered a new survey of the channel. "
         "The surveyors, led by Hamisi Omari, measured depths at forty-two points between the reef and the "
         "old customs house, and found the deepest water, nine metres, near the northern buoy. Their report "
         "recommended dredging the southern approach before the monsoon, widening the quay by twelve metres, "
         "and moving the fuel store away from the fish market. The council accepted every recommendation but "
         "the last, which it postponed for lack of money; the fuel store stayed where it was until 1967, "
         "when a fire in the market destroyed it. Today the quay handles about three hundred boats a week, "
         "most of them dhows carrying mangrove poles, dried fish and cement to the islands of the Songo Mnara "
         "archipelago.")


def word_accuracy(source: str, read: str) -> float:
    """The share of the source's words that OCR gives back, in order."""
    want, got = re.findall(r"\w+", source.lower()), re.findall(r"\w+", read.lower())
    matcher = difflib.SequenceMatcher(None, want, got, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks()) / len(want)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("scans")
    scanned_pdf(where / "scan.pdf", [PAGE_1, PAGE_2], dpi=200)
    return where


def one(path: Path, **ocr) -> tuple:
    ocr.setdefault("dpi", 200)  # as good as 300 on clean print, and a third faster
    result = load_documents([path], limits=FileLimits(ocr=OcrSettings(**ocr)))
    return (result.documents[0] if result.documents else None), result.skipped


def test_an_image_only_pdf_is_read_by_ocr_with_its_pages_anchored(files):
    doc, skipped = one(files / "scan.pdf")
    assert not skipped
    assert doc.metadata["pages"] == 2 and doc.metadata["ocr_pages"] == [1, 2]
    second = doc.metadata["page_starts"][1]
    assert "Amina Said" in doc.text[second:] and "Amina Said" not in doc.text[:second]
    assert "Kilwa" in doc.text[:second]


def test_ocr_recovers_at_least_95_percent_of_the_words_of_a_page_scanned_at_300_dpi():
    page = recognize(page_image(PROSE, 300), 1, dpi=300)
    read = "\n".join(page.lines())
    assert word_accuracy(PROSE, read) >= 0.95, read
    assert page.confidence > 80
    word = next(w for w in page.words if w.text.startswith("Kilwa"))
    assert word.width > 0 and word.height > 0 and 0 <= word.left < page.width and 0 <= word.top < page.height


def test_a_png_is_read_as_a_document(tmp_path):
    doc, skipped = one(text_image(tmp_path / "note.png", PAGE_2))
    assert not skipped and "lighthouse keeper" in doc.text and doc.metadata["type"] == "image"
    assert "pages" not in doc.metadata  # one picture is not a paged document


def test_each_frame_of_a_tiff_is_a_page(tmp_path):
    doc, _ = one(multipage_tiff(tmp_path / "pages.tiff", [PAGE_1, PAGE_2]))
    assert doc.metadata["pages"] == 2
    assert "Amina Said" in doc.text[doc.metadata["page_starts"][1]:]


def test_ocr_never_skips_images_and_scanned_pdfs_saying_ocr_is_off(files, tmp_path):
    _, skipped = one(text_image(tmp_path / "note.jpg", PAGE_1), mode="never")
    assert len(skipped) == 1 and 'OCR is off (ocr = "never")' in skipped[0].reason
    _, skipped = one(files / "scan.pdf", mode="never")
    assert len(skipped) == 1 and "no extractable text" in skipped[0].reason and 'ocr = "never"' in skipped[0].reason


def test_a_page_of_very_low_confidence_is_indexed_with_a_warning_naming_file_and_page(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="rag.ingest.loaders"):
        doc, skipped = one(noise_image(tmp_path / "ruined.png"))
    assert doc is not None and not skipped
    warnings = [r.getMessage() for r in caplog.records if "confidence" in r.getMessage()]
    assert len(warnings) == 1 and "ruined.png: page 1" in warnings[0] and "ocr_min_confidence (50)" in warnings[0]


def test_a_mixed_pdf_keeps_page_1s_text_layer_and_ocrs_page_2(tmp_path):
    path = mixed_pdf(tmp_path / "mixed.pdf", PAGE_1, PAGE_2)
    doc, _ = one(path)
    assert doc.metadata["ocr_pages"] == [2]
    assert doc.text[:doc.metadata["page_starts"][1]].strip() == PAGE_1
    assert "Amina Said" in doc.text[doc.metadata["page_starts"][1]:]


def test_ocr_always_reads_every_page_even_those_with_a_text_layer(tmp_path):
    doc, _ = one(mixed_pdf(tmp_path / "mixed.pdf", PAGE_1, PAGE_2), mode="always")
    assert doc.metadata["ocr_pages"] == [1, 2] and "Kilwa" in doc.text and "Amina Said" in doc.text


def test_ocr_reports_each_page_as_it_goes(files, caplog):
    with caplog.at_level(logging.INFO, logger="rag.ingest.progress"):
        one(files / "scan.pdf")
    lines = [r.getMessage() for r in caplog.records if r.name == "rag.ingest.progress"]
    assert [line.split(": ", 1)[1] for line in lines] == ["OCR page 1 (1 of 2)", "OCR page 2 (2 of 2)"]


def test_a_scan_past_max_ocr_seconds_is_stopped_with_the_setting_named(files):
    _, skipped = one(files / "scan.pdf", max_seconds=0.001)
    assert len(skipped) == 1 and "max_ocr_seconds (0.001 s)" in skipped[0].reason


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares `width` x `height` one-bit pixels and holds almost none."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def test_an_image_declaring_too_many_pixels_is_refused_before_it_is_decoded():
    with pytest.raises(DocumentError, match=r"100,000 x 100,000 pixels, over max_image_pixels \(50,000,000"):
        load_text_document("bomb.png", png_header(100_000, 100_000))
    with pytest.raises(DocumentError, match="over max_image_pixels"):
        load_text_document("bomb.png", png_header(8_000, 8_000))  # between Pillow's warning and its error


def test_a_corrupt_image_is_refused_in_one_line():
    with pytest.raises(DocumentError, match="unreadable image") as raised:
        load_text_document("broken.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    assert "\n" not in str(raised.value)


def test_without_tesseract_an_image_is_skipped_with_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setattr(images_module, "tesseract_path", lambda: None)
    data = text_image(tmp_path / "note.png", PAGE_1).read_bytes()
    with pytest.raises(DocumentError, match="apt-get install tesseract-ocr tesseract-ocr-eng"):
        extract(".png", data, OcrSettings())


def test_the_ocr_settings_are_checked_and_reach_the_reader(monkeypatch):
    monkeypatch.setenv("RAG_OCR", "never")
    assert factory.file_limits(Config.load()).ocr.mode == "never"
    monkeypatch.setenv("RAG_OCR", "sometimes")
    with pytest.raises(ConfigError, match="ocr must be one of auto, always, never"):
        Config.load()
    with pytest.raises(ConfigError, match="ocr_language"):
        Config(ocr_language="eng; rm -rf /")
    limits = factory.file_limits(Config(max_ocr_seconds=5, ocr_min_confidence=70, max_image_pixels=2_000_000))
    assert (limits.ocr.max_seconds, limits.ocr.min_confidence, limits.ocr.max_pixels) == (5, 70, 2_000_000)


def test_a_photo_stored_sideways_is_read_upright_by_its_exif_orientation():
    import io

    from PIL import Image

    sideways = page_image(PAGE_2, 200, size=(7, 3)).rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # "turn 90 degrees clockwise to show"
    out = io.BytesIO()
    sideways.save(out, "JPEG", exif=exif.tobytes())
    assert "lighthouse keeper" in extract(".jpg", out.getvalue(), OcrSettings()).text


def test_without_tesseract_a_scan_is_skipped_and_a_mixed_pdf_keeps_its_text_pages(monkeypatch, files, tmp_path):
    from rag.ingest import pdf as pdf_module
    from rag.ingest.ocr import OcrNotice

    monkeypatch.setattr(pdf_module, "tesseract_path", lambda: None)
    with pytest.raises(DocumentError, match="apt-get install tesseract-ocr"):
        extract(".pdf", (files / "scan.pdf").read_bytes(), OcrSettings())
    heard: list = []
    mixed = extract(".pdf", mixed_pdf(tmp_path / "mixed.pdf", PAGE_1, PAGE_2).read_bytes(), OcrSettings(), heard.append)
    assert "Kilwa" in mixed.text and "Amina" not in mixed.text
    assert [e.message for e in heard if isinstance(e, OcrNotice)] == [
        "page(s) 2 have no text layer and were not read: Tesseract is not installed "
        "(apt-get install tesseract-ocr tesseract-ocr-eng)"]
