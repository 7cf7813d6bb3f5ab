"""PowerPoint (.pptx) → text: each slide a page and a section headed by its title, its text
boxes in reading order (top to bottom, then left to right), its tables row by row with their
header (rag.ingest.tables), and its speaker notes after a label.

A slide is a page, so a citation of a passage on slide 3 says "p. 3".
"""

from __future__ import annotations

import io

from rag.core.errors import DocumentError
from rag.ingest.anchors import Extracted, Section, mark, scrub
from rag.ingest.tables import cell_text, table_lines

NOTES_LABEL = "Speaker notes:"
GROUP_DEPTH = 20  # groups nested deeper than this are not a layout anyone draws


def extract_pptx(data: bytes) -> Extracted:
    try:
        import pptx
    except ImportError as exc:
        raise DocumentError(f"reading .pptx needs python-pptx ({exc}); pip install python-pptx") from None
    try:
        deck = pptx.Presentation(io.BytesIO(data))
        slides = list(deck.slides)
        core_title = deck.core_properties.title
    except Exception as exc:  # noqa: BLE001 - a damaged file makes zipfile/lxml/python-pptx raise many things
        raise DocumentError(f"unreadable PowerPoint file: {type(exc).__name__}: {str(exc)[:120]}") from None
    parts: list[str] = []
    sections: list[Section] = []
    first_title = ""
    pending = ""  # the page anchors of empty slides, placed where the next text starts
    for number, slide in enumerate(slides, 1):
        if number > 1:
            pending += mark("p", number - 1)
        try:
            title, lines = _slide(slide)
        except Exception as exc:  # noqa: BLE001 - a slide's XML damaged or pointing nowhere
            raise DocumentError(f"unreadable PowerPoint file: slide {number}: {type(exc).__name__}: "
                                f"{str(exc)[:120]}") from None
        first_title = first_title or title
        if not title and not lines:
            continue
        body = "\n".join([title] * bool(title) + lines)
        parts.append(pending + mark("s", len(sections)) + body)
        pending = ""
        sections.append(Section(1, title or f"Slide {number}"))
    if pending and parts:
        parts[-1] += pending
    title = (core_title or "").strip() or first_title or None
    return Extracted("\n\n".join(parts), title, pages=len(slides), sections=tuple(sections), title_from_text=False,
                     section_breaks=True)


def _slide(slide) -> tuple[str, list[str]]:
    """The slide's title and the lines under it."""
    try:
        title_shape = slide.shapes.title
    except Exception:  # noqa: BLE001 - a placeholder pointing nowhere is no title
        title_shape = None
    title = _one_line(title_shape.text_frame.text) if title_shape is not None and title_shape.has_text_frame else ""
    skip = title_shape.shape_id if title_shape is not None else None
    lines = _shape_lines(slide.shapes, skip, 0)
    notes = _notes(slide)
    if notes:
        lines.append(f"{NOTES_LABEL} {notes[0]}")
        lines.extend(notes[1:])
    return title, lines


def _shape_lines(shapes, skip: int | None, depth: int) -> list[str]:
    lines: list[str] = []
    for shape in sorted(shapes, key=_position):
        if skip is not None and shape.shape_id == skip:
            continue
        if getattr(shape, "shape_type", None) == _group_type() and depth < GROUP_DEPTH:
            lines.extend(_shape_lines(shape.shapes, None, depth + 1))
        elif getattr(shape, "has_table", False):
            rows = [[cell_text(cell.text) if not cell.is_spanned else "" for cell in row.cells]
                    for row in shape.table.rows]
            lines.extend(table_lines(rows, _first_row_is_header(shape.table)))
        elif getattr(shape, "has_text_frame", False):
            lines.extend(_paragraphs(shape.text_frame))
    return lines


def _first_row_is_header(table) -> bool | None:
    try:  # PowerPoint's "Header Row" box, ticked in the tables it inserts
        return bool(table.first_row)
    except Exception:  # noqa: BLE001 - judged by its text
        return None


def _position(shape) -> tuple[int, int]:
    try:
        return (shape.top or 0, shape.left or 0)
    except Exception:  # noqa: BLE001 - an inherited position that cannot be resolved sorts first
        return (0, 0)


def _group_type():
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    return MSO_SHAPE_TYPE.GROUP


def _paragraphs(frame) -> list[str]:
    return [line for p in frame.paragraphs if (line := _one_line(p.text))]


def _notes(slide) -> list[str]:
    if not slide.has_notes_slide:
        return []
    frame = slide.notes_slide.notes_text_frame
    return _paragraphs(frame) if frame is not None else []


def _one_line(text: str) -> str:
    # python-pptx gives a line break inside a paragraph (Shift+Enter) as a vertical tab.
    return " ".join(scrub(text).replace("\v", " ").split())
