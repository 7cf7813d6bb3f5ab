"""PDF → text as written: lines joined into paragraphs, hyphenated words rejoined, running
headers, footers and page numbers removed, and the start of every page anchored. Pages without
a text layer (a scan) are read by OCR (rag.ingest.ocr) when the `ocr` setting allows it.

Headers and footers are found by recurrence, not by wording: a line near the top or bottom of
a page whose digit-normalised form ("Page 3 of 9" → "page # of #") appears near the edges of
most pages is page furniture (unless one page holds two such lines that differ, as the rows of a
table do). Paragraphs are found from line lengths: wrapped lines fill the text width, so a line
that does not, and ends a sentence, ends its paragraph.
"""

from __future__ import annotations

import io
import logging
import re
from collections import Counter
from collections.abc import Callable, Sequence

from rag.core.errors import DocumentError
from rag.ingest.anchors import Extracted, Section, mark, scrub
from rag.ingest.ocr import (
    MIN_LAYER_CHARS,
    Deadline,
    OcrNotice,
    OcrSettings,
    missing_tesseract,
    recognize_pages,
    tesseract_path,
)
from rag.text.sentences import ABBREVIATIONS

# Lines at each edge of a page where headers and footers can sit (browsers print two a side).
EDGE_LINES = 3
_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")
_BULLET = re.compile(r"^(?:[-•▪◦‣*]|\(?\d{1,3}[.)]|\(?[a-z][.)])\s")
_HYPHENATED_END = re.compile(r"(\w+)[-\u00ad]$")
_SOFT_HYPHEN_INSIDE = re.compile(r"\u00ad(?!$)")
_LEADING_WORD = re.compile(r"^(\w+)")
_COMPOUND = re.compile(r"\b\w+-\w+\b")
# Typographic ligatures that PDF text layers keep ("ﬁle", "ﬂoor"): searched for, they match nothing.
_LIGATURES = str.maketrans({"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
                            "\ufb05": "st", "\ufb06": "st"})
_SENTENCE_END = ('.', '!', '?', ':', ';', '"', '”', '’', ')')


def extract_pdf(data: bytes, ocr: OcrSettings | None = None,
                on_page: Callable[[object], None] | None = None) -> Extracted:
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise DocumentError("encrypted PDF (remove the password and try again)")
            except DocumentError:
                raise
            except Exception:
                raise DocumentError("encrypted PDF (remove the password and try again)") from None
        pages = [[_clean_line(line) for line in (page.extract_text() or "").splitlines()] for page in reader.pages]
        pages, rows = _tables_by_row(reader, pages)
        info = reader.metadata
        title = info.title if info and info.title else None
    except DocumentError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged PDF makes pypdf raise almost anything
        raise DocumentError(f"unreadable PDF: {type(exc).__name__}: {str(exc)[:120]}") from None
    ocr = ocr or OcrSettings(mode="never")
    metadata = _read_scanned_pages(data, pages, ocr, on_page)
    if not any(line for lines in pages for line in lines):
        if ocr.mode == "never":
            raise DocumentError('no extractable text (a scanned PDF?), and OCR is off (ocr = "never")')
        raise DocumentError("no text, in its text layer or by OCR")
    text, sections = join_pages(remove_running_lines(pages), rows)
    title = title.strip() if isinstance(title, str) and title.strip() else None
    return Extracted(text, title, metadata, pages=len(pages), sections=tuple(sections))


def _layer_chars(lines: list[str]) -> int:
    return sum(c.isalnum() for line in lines for c in line)


def _read_scanned_pages(data: bytes, pages: list[list[str]], ocr: OcrSettings,
                        on_page: Callable[[object], None] | None) -> dict:
    """OCR the pages the `ocr` mode picks, in place: under "auto" those whose text layer is
    (nearly) empty, and only where OCR finds more than the layer holds; under "always" all.
    Returns the metadata that records it."""
    if ocr.mode == "never":
        return {}
    wanted = [i for i, lines in enumerate(pages) if ocr.mode == "always" or _layer_chars(lines) < MIN_LAYER_CHARS]
    if not wanted:
        return {}
    if tesseract_path() is None:
        if not any(_layer_chars(lines) for lines in pages):
            raise missing_tesseract("a PDF without a text layer")
        if on_page is not None:
            shown = ", ".join(str(i + 1) for i in wanted[:10]) + (", ..." if len(wanted) > 10 else "")
            on_page(OcrNotice(f"page(s) {shown} have no text layer and were not read: Tesseract is not installed "
                              "(apt-get install tesseract-ocr tesseract-ocr-eng)"))
        return {}
    try:
        import pypdfium2 as pdfium
    except ImportError:
        raise DocumentError("its pages have no text layer, and reading them by OCR needs pypdfium2 "
                            "(pip install 'rag[ocr]')") from None
    try:
        document = pdfium.PdfDocument(data)
    except Exception as exc:  # noqa: BLE001 - pdfium refuses what pypdf could read
        raise DocumentError(f"cannot render the PDF's pages for OCR: {type(exc).__name__}: {str(exc)[:120]}") from None
    try:
        wanted = [i for i in wanted if i < len(document)]
        read = list(recognize_pages(render_pages(document, wanted, ocr), [i + 1 for i in wanted], ocr,
                                    Deadline(ocr.max_seconds), on_page=on_page))
    finally:
        document.close()
    used = []
    for i, page in zip(wanted, read):
        lines = page.lines()
        if ocr.mode == "always" or _layer_chars(lines) > _layer_chars(pages[i]):
            pages[i] = [scrub(line).translate(_LIGATURES) for line in lines]
            used.append((i + 1, page.confidence))
    if not used:
        return {}
    return {"ocr_pages": [n for n, _ in used], "ocr_confidence": round(sum(c for _, c in used) / len(used), 1)}


def render_pages(document, wanted: list[int], ocr: OcrSettings):
    """Each wanted page as a greyscale image at `ocr.dpi` (less for a page so large that it would
    exceed `ocr.max_pixels`), with the resolution it was rendered at."""
    for i in wanted:
        try:
            page = document[i]
            width, height = page.get_size()  # points
            scale = ocr.dpi / 72
            if width * height * scale * scale > ocr.max_pixels:
                scale = (ocr.max_pixels / (width * height)) ** 0.5
            image = page.render(scale=scale, grayscale=True).to_pil()
            page.close()
        except Exception as exc:  # noqa: BLE001 - a damaged page
            raise DocumentError(f"cannot render page {i + 1} for OCR: {type(exc).__name__}: {str(exc)[:120]}") from None
        yield image, round(scale * 72)


def _clean_line(line: str) -> str:
    return scrub(_SPACE.sub(" ", line)).translate(_LIGATURES).strip()


def _tables_by_row(reader, pages: list[list[str]]) -> tuple[list[list[str]], frozenset[str]]:
    """The pages with each table row found in the layout text (rag.ingest.pdf_tables) written
    with its column names, and those rows, which stay lines of their own."""
    from rag.ingest.pdf_tables import page_rows

    out: list[list[str]] = []
    written: set[str] = set()
    carried = None
    for page, lines in zip(reader.pages, pages):
        try:
            layout = page.extract_text(extraction_mode="layout") or ""
        except Exception:  # noqa: BLE001 - the plain text stands
            layout = ""
        rows, carried = page_rows(layout, carried)
        rows = {_clean_line(k): _clean_line(v) for k, v in rows.items()}
        if not rows:
            out.append(lines)
            continue
        kept = [rows.get(line, line) for line in lines if rows.get(line, line)]
        written.update(v for v in rows.values() if v)
        out.append(kept)
    return out, frozenset(written)


def _key(line: str) -> str:
    return _DIGITS.sub("#", line.lower())


def _edges(lines: Sequence[str]) -> list[int]:
    """Positions of the non-empty lines at the top and bottom of a page."""
    filled = [i for i, line in enumerate(lines) if line]
    return sorted(set(filled[:EDGE_LINES] + filled[-EDGE_LINES:]))


def remove_running_lines(pages: list[list[str]]) -> list[list[str]]:
    """Pages without the lines that recur at the page edges on most pages.

    Lines that differ only in their digits count as one running line only when each page has at
    most one of them: a page number does, the rows of a table ("Row 1 value 17", "Row 2 value
    18") do not. And a document is never all furniture: if every line would go, all stay.
    """
    if len(pages) < 2:
        return pages
    counts: Counter[str] = Counter()
    for lines in pages:
        counts.update({_key(lines[i]) for i in _edges(lines)})
    need = max(2, len(pages) // 2 + 1)
    running = {key for key, n in counts.items() if n >= need} - _varying_within_a_page(pages)
    if not running:
        return pages
    out = []
    for lines in pages:
        edge = set(_edges(lines))
        out.append([line for i, line in enumerate(lines) if not (i in edge and _key(line) in running)])
    return out if any(line for lines in out for line in lines) else pages


def _varying_within_a_page(pages: list[list[str]]) -> set[str]:
    """Digit-normalised keys that stand for two different lines on one page."""
    varying: set[str] = set()
    for lines in pages:
        texts: dict[str, str] = {}
        for line in lines:
            if line and texts.setdefault(_key(line), line) != line:
                varying.add(_key(line))
    return varying


def _typical_width(pages: list[list[str]]) -> int:
    lengths = sorted(len(line) for lines in pages for line in lines if line)
    if not lengths:
        return 0
    return lengths[min(len(lengths) - 1, int(len(lengths) * 0.8))]


def join_pages(pages: list[list[str]], rows: frozenset[str] = frozenset()) -> tuple[str, list[Section]]:
    """The lines of all pages as paragraphs, each page's first line preceded by its anchor; and
    the headings: paragraphs of one short line that ends no sentence. Table `rows` are lines of
    their own, one after another, never headings."""
    width = _typical_width(pages)
    compounds = {m.group().lower() for lines in pages for line in lines for m in _COMPOUND.finditer(line)}
    parts: list[str] = []
    sections: list[Section] = []
    prev = ""
    pending: list[str] = []  # anchors of pages whose text has not started yet
    blank_before = False
    paragraph_lines = 0

    def close_paragraph() -> None:
        if paragraph_lines == 1 and prev not in rows and _is_heading_like(prev, width) and not _BULLET.match(prev) \
                and prev[:1].isupper():
            parts[-1] = parts[-1][:-len(prev)] + mark("s", len(sections)) + prev
            sections.append(Section(1, prev))

    for number, lines in enumerate(pages):
        if number:
            pending.append(mark("p", number))
        for line in lines:
            line = _SOFT_HYPHEN_INSIDE.sub("", line)
            if not line:
                blank_before = bool(prev)
                continue
            if not prev:
                sep = ""
            elif line in rows or prev in rows:
                sep = "\n" if line in rows and prev in rows else "\n\n"
            elif (blank_before or _ends_paragraph(prev, width) or _BULLET.match(line)
                  or (_ends_sentence(prev) and _is_heading_like(line, width))):
                sep = "\n\n"
            elif _HYPHENATED_END.search(prev) and line[:1].islower():
                head = _HYPHENATED_END.search(prev).group(1)
                tail = _LEADING_WORD.match(line)
                keep = prev.endswith("-") and tail is not None and f"{head}-{tail.group(1)}".lower() in compounds
                sep = "" if keep else None
            else:
                sep = " "
            if sep == "\n\n":
                close_paragraph()
                paragraph_lines = 0
            if sep is None:  # a word broken at the line end: drop the hyphen
                parts[-1] = parts[-1][:-1]
                sep = ""
            parts.append(sep + "".join(pending) + line)
            paragraph_lines += 1
            pending = []
            prev, blank_before = line, False
    parts.extend(pending)
    return "".join(parts), sections


def _ends_paragraph(line: str, width: int) -> bool:
    if _ends_sentence(line):
        return len(line) < 0.8 * width
    # A short line that ends no sentence and is not a wrapped one: a heading or a label.
    return len(line) < 0.5 * width and not line.endswith((",", "-", "–"))


def _ends_sentence(line: str) -> bool:
    if not line.endswith(_SENTENCE_END):
        return False
    last = line.rsplit(" ", 1)[-1].rstrip(".").lower()
    return not (line.endswith(".") and (last in ABBREVIATIONS or len(last) == 1))


def _is_heading_like(line: str, width: int) -> bool:
    return len(line) < 0.5 * width and not line.endswith((*_SENTENCE_END, ","))
