"""Word (.docx) → text: paragraphs and headings in reading order, tables row by row, each row
with its column names when the table has a header row (rag.ingest.tables)."""

from __future__ import annotations

import io
import re

from rag.core.errors import DocumentError
from rag.ingest.anchors import Extracted, Section, mark, scrub
from rag.ingest.tables import table_lines

_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.I)


def extract_docx(data: bytes) -> Extracted:
    try:
        import docx
        from docx.table import Table
    except ImportError as exc:
        raise DocumentError(f"reading .docx needs python-docx ({exc}); pip install python-docx") from None
    try:
        document = docx.Document(io.BytesIO(data))
        blocks = list(document.iter_inner_content())
        core_title = document.core_properties.title
    except Exception as exc:  # noqa: BLE001 - a damaged file makes zipfile/lxml raise many things
        raise DocumentError(f"unreadable Word file: {type(exc).__name__}: {str(exc)[:120]}") from None
    parts: list[str] = []
    sections: list[Section] = []
    for block in blocks:
        if isinstance(block, Table):
            rows = list(block.rows)
            text = "\n".join(table_lines([_row_cells(row) for row in rows], _marked_header(rows, block)))
            if text:
                parts.append(text)
            continue
        text = scrub(block.text).strip()
        if not text:
            continue
        level = _heading_level(block)
        if level is not None:
            text = mark("s", len(sections)) + text
            sections.append(Section(level, scrub(block.text).strip()))
        parts.append(text)
    headings = sorted(sections, key=lambda s: s.level)
    title = (core_title or "").strip() or (headings[0].heading if headings else None)
    return Extracted("\n\n".join(parts), title, {}, sections=tuple(sections))


def _heading_level(paragraph) -> int | None:
    try:
        name = (paragraph.style.name or "") if paragraph.style is not None else ""
    except Exception:  # noqa: BLE001 - a style that points nowhere is plain text
        return None
    if name.lower() == "title":
        return 0
    m = _HEADING_STYLE.match(name.strip())
    return int(m.group(1)) if m else None


def _marked_header(rows, table) -> bool | None:
    """True when the first row is marked as the header (repeated on each page, or all bold);
    otherwise None (judged by its text) for a table of three columns or more, and False for two:
    a two-column table is as often a list of labels and values ("Harbour master | Amina Said"),
    whose first row names nothing."""
    if not rows:
        return False
    first = rows[0]
    try:
        props = first._tr.trPr
        if props is not None and any(el.tag.endswith("}tblHeader") for el in props):
            return True
        runs = [r for c in first.cells for p in c.paragraphs for r in p.runs if r.text.strip()]
        if runs and all(r.bold for r in runs):
            return True
        columns = len(table.columns)
    except Exception:  # noqa: BLE001 - a malformed table is judged by its text
        return None
    return None if columns >= 3 else False


def _row_cells(row) -> list[str]:
    """The row's cells by grid column: a cell merged across columns gives its text to the first
    and leaves the others empty; one merged down rows gives it to each row (python-docx repeats
    the top cell), so every row reads whole."""
    cells: list[str] = [""] * (getattr(row, "grid_cols_before", 0) or 0)
    previous = None
    for cell in row.cells:
        cells.append("" if cell._tc is previous else " ".join(scrub(cell.text).split()))
        previous = cell._tc
    return cells
