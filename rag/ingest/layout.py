"""Where a quoted span sits on its page: highlight boxes for the source viewer.

A PDF page's words come with their boxes from its text layer (pypdfium2); a scanned page or an
image has none, so its words and boxes come from OCR, run again the way the reader ran it. The
quote is the document's text as indexed (cleaned, joined across lines), so it is matched to the
page's words loosely: case, spacing, hyphenation at line ends and ligatures do not matter.

Boxes are fractions of the page's width and height from its top-left corner, so a viewer scales
them with any zoom and never needs the page's size in its own units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rag.core.errors import DocumentError
from rag.ingest.ocr import MIN_LAYER_CHARS, Deadline, OcrPage, OcrSettings, recognize_pages, tesseract_path
from rag.ingest.text_match import find

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
# A quoted span lies on a page or two; pages asked for beyond these are not looked at (each one
# read by OCR costs seconds).
MAX_PAGES = 4


@dataclass(frozen=True)
class Box:
    """A rectangle on a page, in fractions (0-1) of its width and height, from the top-left."""

    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class PageHighlight:
    """The boxes of a span on one page (1-based), with the page's size (PDF points; pixels for
    an image)."""

    page: int
    width: float
    height: float
    boxes: tuple[Box, ...] = ()


@dataclass(frozen=True)
class SpanLayout:
    """Where a quote is: its boxes page by page. `method`: "text-layer", "ocr", or "" when it
    was not found; `matched`: the share of the quote's letters and digits found (0-1)."""

    pages: tuple[PageHighlight, ...] = ()
    method: str = ""
    matched: float = 0.0


@dataclass
class _Piece:
    """A character of a text layer or a word read by OCR: its text, its box (None for a space),
    and the number of the line it sits on."""

    text: str
    box: Box | None
    line: int


@dataclass
class _PageText:
    number: int
    width: float
    height: float
    method: str
    pieces: list[_Piece] = field(default_factory=list)


def locate_span(suffix: str, data: bytes, quote: str, pages: Sequence[int], *,
                ocr: OcrSettings | None = None) -> SpanLayout:
    """The boxes of `quote` on `pages` (1-based; the pages the index says the span is on) of a
    file of type `suffix` (".pdf", or an image: ".png", ".jpg", ".jpeg", ".tif", ".tiff").

    `ocr` must be the settings the file was indexed with: a page is read by OCR again the same
    way (the "auto" mode: a PDF page whose text layer is nearly empty). Without Tesseract such a
    page has no boxes. A quote not found gives no boxes (method ""), never a guess. Raises
    DocumentError for a file that cannot be read."""
    ocr = ocr or OcrSettings()
    wanted = list(dict.fromkeys(p for p in pages if p >= 1))[:MAX_PAGES]
    suffix = suffix.lower()
    if not wanted or not quote.strip():
        return SpanLayout()
    if suffix == ".pdf":
        read = _pdf_pages(data, wanted, ocr)
    elif suffix in IMAGE_SUFFIXES:
        read = _image_pages(data, wanted, ocr)
    else:
        return SpanLayout()
    return _highlight(quote, read)


def render_image_page(suffix: str, data: bytes, page: int) -> bytes:
    """A PNG of page `page` (1-based; a TIFF's frame) of an image file, turned as OCR read it, so
    that the boxes of locate_span fit it. Raises DocumentError for a page the image does not have."""
    import io

    from rag.ingest.images import open_image, upright_frame

    if suffix.lower() not in IMAGE_SUFFIXES:
        raise DocumentError(f"not an image ({suffix or 'no suffix'}); only images are shown as pictures")
    settings = OcrSettings()
    image, frames = open_image(data, settings)
    if not 1 <= page <= frames:
        raise DocumentError(f"no page {page}: the image has {frames} page{'s' if frames != 1 else ''}")
    frame, _ = upright_frame(image, page - 1, frames, settings)
    if frame.mode not in ("1", "L", "LA", "P", "RGB", "RGBA"):
        frame = frame.convert("RGB")  # CMYK and 32-bit modes PNG cannot hold
    out = io.BytesIO()
    frame.save(out, "PNG", compress_level=1)  # sent once to a browser: speed over size
    return out.getvalue()


def _highlight(quote: str, read: list[_PageText]) -> SpanLayout:
    """The quote found in the pages' text, read one after the other, as one box per line."""
    texts: list[str] = []
    where: list[tuple[int, int] | None] = []
    for k, page in enumerate(read):
        for j, piece in enumerate(page.pieces):
            texts.append(piece.text)
            where.append((k, j))
        texts.append("\n")  # the last word of a page and the first of the next stay two words
        where.append(None)
    match = find(quote, texts)
    on_page: dict[int, list[_Piece]] = {}
    for i in match.pieces:
        k, j = where[i]
        if read[k].pieces[j].box is not None:
            on_page.setdefault(k, []).append(read[k].pieces[j])
    if not on_page:
        return SpanLayout()
    highlights = tuple(PageHighlight(read[k].number, read[k].width, read[k].height, _line_boxes(on_page[k]))
                       for k in sorted(on_page))
    method = "ocr" if any(read[k].method == "ocr" for k in on_page) else "text-layer"
    return SpanLayout(highlights, method, round(match.share, 3))


def _line_boxes(pieces: list[_Piece]) -> tuple[Box, ...]:
    """One box around each run of pieces on one line."""
    boxes: list[Box] = []
    line = None
    for piece in pieces:
        b = piece.box
        if piece.line == line and boxes:
            last = boxes[-1]
            boxes[-1] = Box(min(last.x0, b.x0), min(last.y0, b.y0), max(last.x1, b.x1), max(last.y1, b.y1))
        else:
            boxes.append(b)
        line = piece.line
    return tuple(Box(*(round(v, 5) for v in (b.x0, b.y0, b.x1, b.y1))) for b in boxes)


def _pdf_pages(data: bytes, wanted: list[int], ocr: OcrSettings) -> list[_PageText]:
    import pypdfium2 as pdfium

    from rag.ingest.pdf import render_pages

    try:
        document = pdfium.PdfDocument(data)
    except Exception as exc:  # noqa: BLE001 - pdfium refuses a damaged or encrypted file
        raise DocumentError(f"cannot open the PDF: {type(exc).__name__}: {str(exc)[:120]}") from None
    try:
        read: list[_PageText] = []
        scanned: list[_PageText] = []
        for number in (n for n in wanted if n <= len(document)):
            page = document[number - 1]
            try:
                width, height = page.get_size()
                found = _PageText(number, width, height, "text-layer")
                textpage = page.get_textpage()
                try:
                    found.pieces = _layer_pieces(page, textpage)
                finally:
                    textpage.close()
            finally:
                page.close()
            letters = sum(p.text.isalnum() for p in found.pieces)
            if ocr.mode == "always" or ocr.mode == "auto" and letters < MIN_LAYER_CHARS:
                found.method, found.pieces = "ocr", []
                scanned.append(found)
            read.append(found)
        if scanned and tesseract_path() is not None:
            numbers = [p.number for p in scanned]
            renders = render_pages(document, [n - 1 for n in numbers], ocr)
            for found, words in zip(scanned, recognize_pages(renders, numbers, ocr, Deadline(ocr.max_seconds))):
                found.pieces = _ocr_pieces(words)
        return read
    finally:
        document.close()


def _layer_pieces(page, textpage) -> list[_Piece]:
    """The characters of a page's text layer in reading order, each with its box (the font's
    full height, so a line's boxes line up) in fractions of the page as shown."""
    count = textpage.count_chars()
    text = textpage.get_text_range(0, count) if count else ""
    if len(text) != count:  # a text range can come back shorter; one character at a time cannot
        import pypdfium2.raw as raw

        text = "".join(chr(raw.FPDFText_GetUnicode(textpage, i)) for i in range(count))
    to_page = _page_transform(page)
    pieces: list[_Piece] = []
    line, broken, last = 0, False, None
    for i, char in enumerate(text):
        if char in "\r\n":
            broken = True
            pieces.append(_Piece(char, None, line))
            continue
        if char.isspace():
            pieces.append(_Piece(char, None, line))
            continue
        left, bottom, right, top = textpage.get_charbox(i, loose=True)
        if broken or last is not None and min(top, last[1]) - max(bottom, last[0]) < 0.5 * min(top - bottom, last[1] - last[0]):
            line += 1  # a new line, or a character on another baseline (a column beside)
        broken, last = False, (bottom, top)
        pieces.append(_Piece(char, to_page(left, bottom, right, top), line))
    return pieces


def _page_transform(page):
    """PDF user space (points, from the bottom-left of the media) -> fractions of the page as a
    viewer shows it: within its crop box, turned by its /Rotate, from the top-left."""
    left, bottom, right, top = page.get_bbox()
    width, height = (right - left) or 1.0, (top - bottom) or 1.0
    rotation = page.get_rotation() % 360

    def convert(x0: float, y0: float, x1: float, y1: float) -> Box | None:
        u0, u1 = (x0 - left) / width, (x1 - left) / width
        v0, v1 = (top - y1) / height, (top - y0) / height
        if rotation == 90:
            u0, v0, u1, v1 = 1 - v1, u0, 1 - v0, u1
        elif rotation == 180:
            u0, v0, u1, v1 = 1 - u1, 1 - v1, 1 - u0, 1 - v0
        elif rotation == 270:
            u0, v0, u1, v1 = v0, 1 - u1, v1, 1 - u0
        u0, v0, u1, v1 = (min(1.0, max(0.0, v)) for v in (u0, v0, u1, v1))
        return Box(u0, v0, u1, v1) if u1 > u0 and v1 > v0 else None

    return convert


def _image_pages(data: bytes, wanted: list[int], ocr: OcrSettings) -> list[_PageText]:
    from rag.ingest.images import open_image, upright_frame

    if tesseract_path() is None:
        return []
    image, frames = open_image(data, ocr)
    numbers = [n for n in wanted if n <= frames]

    def renders():
        for n in numbers:
            frame, dpi = upright_frame(image, n - 1, frames, ocr)
            yield frame.convert("L"), dpi

    return [_PageText(words.number, words.width, words.height, "ocr", _ocr_pieces(words))
            for words in recognize_pages(renders(), numbers, ocr, Deadline(ocr.max_seconds))]


def _ocr_pieces(page: OcrPage) -> list[_Piece]:
    """The words OCR read on a page, a space between two, each with its box in fractions."""
    pieces: list[_Piece] = []
    lines: dict[tuple[int, int, int], int] = {}
    width, height = page.width or 1, page.height or 1
    for word in page.words:
        line = lines.setdefault((word.block, word.paragraph, word.line), len(lines))
        box = Box(word.left / width, word.top / height, (word.left + word.width) / width,
                  (word.top + word.height) / height)
        pieces += [_Piece(word.text, box, line), _Piece(" ", None, line)]
    return pieces
