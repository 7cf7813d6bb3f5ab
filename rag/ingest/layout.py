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
from dataclasses import dataclass

from rag.ingest.ocr import OcrSettings


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


def locate_span(suffix: str, data: bytes, quote: str, pages: Sequence[int], *,
                ocr: OcrSettings | None = None) -> SpanLayout:
    """The boxes of `quote` on `pages` (1-based; the pages the index says the span is on) of a
    file of type `suffix` (".pdf", or an image: ".png", ".jpg", ".jpeg", ".tif", ".tiff")."""
    raise NotImplementedError("built in the layout branch")
