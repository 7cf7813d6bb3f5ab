"""Highlight boxes of a quoted span on its page: a PDF's text layer, a scanned page and an image
read by OCR. The truth is where the sample builders drew the text, never the function's own
view of the page."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bench.samples import multipage_tiff, placed_pdf, scanned_pdf, text_image
from rag.core.errors import DocumentError
from rag.ingest import layout
from rag.ingest.layout import Box, locate_span, render_image_page
from rag.ingest.ocr import OcrSettings, tesseract_path
from rag.ingest.pdf import extract_pdf

needs_ocr = pytest.mark.skipif(tesseract_path() is None, reason="Tesseract is not installed")
OCR = OcrSettings(dpi=200)  # the resolution the scans below are made at

HARBOUR = "The harbour of Kilwa opens at dawn. Fishing boats leave before the tide turns."
KEEPER = "The lighthouse keeper, Amina Said, records every ship that passes the reef in a blue ledger."
SURVEY = "The port authority ordered a survey of the channel in March."


def overlaps(box: Box, region) -> bool:
    return box.x0 < region.x1 and region.x0 < box.x1 and box.y0 < region.y1 and region.y0 < box.y1


def inside(box: Box, region, slack: float = 0.01) -> bool:
    return (box.x0 >= region.x0 - slack and box.x1 <= region.x1 + slack and box.y0 >= region.y0 - slack
            and box.y1 <= region.y1 + slack)


@pytest.fixture(scope="module")
def two_pages(tmp_path_factory):
    path = tmp_path_factory.mktemp("layout") / "report.pdf"
    placed = placed_pdf(path, [[HARBOUR, "The council ordered a sur-\nvey of the ﬁrst channel near the customs house.",
                                "The lighthouse keeper, Amina Said, records"],
                               ["every ship that passes the reef in a blue ledger.", SURVEY]], header="Harbour Report")
    return path.read_bytes(), {p.text: p for p in placed}


def test_a_sentence_on_page_two_is_boxed_on_page_two_where_it_was_drawn(two_pages):
    data, placed = two_pages
    found = locate_span(".pdf", data, SURVEY, [2])
    assert found.method == "text-layer" and found.matched == 1.0
    (page,) = found.pages
    assert page.page == 2 and (round(page.width), round(page.height)) == (595, 842)
    assert len(page.boxes) == 1
    assert overlaps(page.boxes[0], placed[SURVEY]) and inside(page.boxes[0], placed[SURVEY])
    assert not overlaps(page.boxes[0], placed["every ship that passes the reef in a blue ledger."])


def test_a_quote_as_the_reader_wrote_it_matches_across_a_hyphenated_line_break_and_a_ligature(two_pages):
    data, placed = two_pages
    text = extract_pdf(data).text
    quote = "The council ordered a survey of the first channel"
    assert quote in text  # the hyphen and the ligature are gone from the document's text
    found = locate_span(".pdf", data, quote, [1])
    assert found.method == "text-layer" and found.matched == 1.0
    (page,) = found.pages
    region = placed["The council ordered a sur-\nvey of the ﬁrst channel near the customs house."]
    assert len(page.boxes) == 2  # one a line
    assert all(inside(box, region) for box in page.boxes)
    assert page.boxes[0].y1 <= page.boxes[1].y0 + 0.005


def test_a_quote_crossing_a_page_break_is_boxed_on_both_pages_past_the_running_header(two_pages):
    data, placed = two_pages
    quote = "Amina Said, records every ship that passes the reef"
    found = locate_span(".pdf", data, quote, [1, 2])
    assert [p.page for p in found.pages] == [1, 2] and found.matched > 0.9
    first, second = found.pages
    assert all(inside(b, placed["The lighthouse keeper, Amina Said, records"]) for b in first.boxes)
    assert all(inside(b, placed["every ship that passes the reef in a blue ledger."]) for b in second.boxes)


def test_a_quote_that_is_not_on_the_page_gives_no_boxes(two_pages):
    data, _ = two_pages
    assert locate_span(".pdf", data, "Nothing of the sort is written in this report at all.", [1, 2]) == \
        layout.SpanLayout()
    # Words of the page in another order are not the quote either.
    assert locate_span(".pdf", data, "channel the survey ordered March authority port", [2]).method == ""
    # Nor is a sentence of another page than the ones asked for.
    assert locate_span(".pdf", data, SURVEY, [1]).pages == ()


def test_boxes_follow_the_crop_box_and_rotation_of_the_page_as_shown(tmp_path):
    import pypdfium2 as pdfium

    placed_pdf(tmp_path / "one.pdf", [[SURVEY]])
    document = pdfium.PdfDocument(tmp_path / "one.pdf")
    document[0].set_cropbox(20, 380, 500, 830)
    document[0].set_rotation(90)
    out = io.BytesIO()
    document.save(out)
    data = out.getvalue()
    # The truth: where the ink is when pdfium draws the page as a viewer shows it.
    shown = pdfium.PdfDocument(data)[0].render(scale=1).to_pil().convert("L")
    ink = shown.point(lambda v: 255 if v < 128 else 0).getbbox()
    width, height = shown.size
    truth = Box(ink[0] / width, ink[1] / height, ink[2] / width, ink[3] / height)
    (page,) = locate_span(".pdf", data, SURVEY, [1]).pages
    assert (round(page.width), round(page.height)) == (450, 480)  # turned: the crop box's height is its width
    (box,) = page.boxes
    assert inside(truth, box, slack=0.01) and box.x1 - box.x0 < 2 * (truth.x1 - truth.x0)
    assert box.y1 - box.y0 > 0.5  # the sentence runs down the turned page


@needs_ocr
def test_a_quote_on_a_scanned_page_gets_the_boxes_of_its_ocr_words_and_only_that_page_is_read(tmp_path, monkeypatch):
    path = scanned_pdf(tmp_path / "scan.pdf", [HARBOUR, KEEPER], dpi=200)
    read = []
    recognize = layout.recognize_pages
    monkeypatch.setattr(layout, "recognize_pages", lambda images, numbers, *a, **k: (read.extend(numbers),
                                                                                      recognize(images, numbers, *a, **k))[1])
    found = locate_span(".pdf", path.read_bytes(), "Amina Said, records every ship", [2], ocr=OCR)
    assert found.method == "ocr" and found.matched == 1.0 and read == [2]
    (page,) = found.pages
    assert page.page == 2
    first_line = _first_line(200, 8.27, 11.69)
    assert all(inside(box, first_line) for box in page.boxes)
    assert page.boxes[0].x0 > first_line.x0 + 0.1  # "Amina" is well into the line, not at its start


@needs_ocr
@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_a_quote_on_an_image_gets_ocr_boxes_where_it_was_drawn(tmp_path, suffix):
    if suffix == ".tif":
        path, number = multipage_tiff(tmp_path / f"scan{suffix}", [HARBOUR, KEEPER]), 2
    else:
        path, number = text_image(tmp_path / f"scan{suffix}", KEEPER), 1
    found = locate_span(suffix, path.read_bytes(), "Amina Said, records every ship", [number], ocr=OCR)
    assert found.method == "ocr"
    (page,) = found.pages
    assert page.page == number and (page.width, page.height) == (1654, 2338)
    assert all(inside(box, _first_line(200, 8.27, 11.69)) for box in page.boxes)


@needs_ocr
def test_a_photo_stored_sideways_is_shown_and_boxed_upright(tmp_path):
    from PIL import Image

    upright = Image.open(text_image(tmp_path / "page.png", KEEPER))
    sideways = upright.transpose(Image.Transpose.ROTATE_90).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # "turn me a quarter clockwise to view"
    sideways.save(tmp_path / "photo.jpg", exif=exif, quality=95)
    data = (tmp_path / "photo.jpg").read_bytes()
    shown = Image.open(io.BytesIO(render_image_page(".jpg", data, 1)))
    assert shown.format == "PNG" and shown.size == upright.size
    found = locate_span(".jpg", data, "Amina Said, records every ship", [1], ocr=OCR)
    assert found.method == "ocr" and all(inside(b, _first_line(200, 8.27, 11.69)) for b in found.pages[0].boxes)


def test_without_tesseract_a_scanned_page_has_no_boxes_and_no_error(tmp_path, monkeypatch):
    monkeypatch.setattr(layout, "tesseract_path", lambda: None)
    path = scanned_pdf(tmp_path / "scan.pdf", [KEEPER], dpi=100)
    assert locate_span(".pdf", path.read_bytes(), "Amina Said", [1], ocr=OCR) == layout.SpanLayout()
    image = text_image(tmp_path / "note.png", KEEPER, dpi=100)
    assert locate_span(".png", image.read_bytes(), "Amina Said", [1], ocr=OCR) == layout.SpanLayout()


def test_an_image_page_is_served_as_png_and_a_missing_page_is_refused(tmp_path):
    from PIL import Image

    path = multipage_tiff(tmp_path / "two.tiff", [HARBOUR, KEEPER], dpi=100)
    shown = Image.open(io.BytesIO(render_image_page(".tiff", path.read_bytes(), 2)))
    assert shown.format == "PNG" and shown.size == (827, 1169)
    with pytest.raises(DocumentError, match="no page 3: the image has 2 pages"):
        render_image_page(".tiff", path.read_bytes(), 3)
    with pytest.raises(DocumentError, match="not an image"):
        render_image_page(".pdf", Path(path).read_bytes(), 1)


def _first_line(dpi: int, width_in: float, height_in: float, points: float = 12.0) -> Box:
    """Where bench.samples.page_image draws its first line: one-inch margins, lines 1.5 times the
    type size apart."""
    line = points * 1.5 * dpi / 72
    width, height = int(width_in * dpi), int(height_in * dpi)
    return Box(dpi / width, dpi / height, (width - dpi) / width, (dpi + line) / height)
