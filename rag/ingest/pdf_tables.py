"""Tables on PDF pages, found in pypdf's layout text and read row by row with their header.

pypdf's plain text gives a table row as its cells joined by spaces ("Town 39 Lakeside 11443"),
which no longer says which word belongs to which column. Its layout mode (the same cost) keeps
the page's horizontal positions, so a table shows as lines whose cells, separated by runs of
spaces, stand under the cells of a header line. Each such row is written the way every table
row is (rag.ingest.tables): "Town: Town 39; Region: Lakeside; Population: 11443".

Only a plain line that is exactly a found row's cells joined by spaces is replaced, so a page
whose layout text is misread keeps its plain text. A table that runs onto the next page without
repeating its header keeps the header of the page before when its columns line up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.ingest.tables import is_header, row_line

_CELL = re.compile(r"\S+(?: \S+)*")  # words one space apart; two or more spaces part cells
HEADER_CELL_MAX_WORDS = 6  # a label, not a line of a second text column
MIN_ROWS = 2  # below the header
ALIGN = 2  # characters of layout text a cell may stand off its column's left edge, right edge or centre


@dataclass(frozen=True)
class _Header:
    names: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]


def page_rows(layout: str, carried: _Header | None = None) -> tuple[dict[str, str], _Header | None]:
    """For one page's layout text: each table row's plain form (its cells joined by one space)
    → the row with its column names ("" for the header row, whose names now stand in each row);
    and the header of the page's last table, to carry on to the next page."""
    rows: dict[str, str] = {}
    block: list[list[tuple[int, int, str]]] = []
    last: _Header | None = None
    for line in layout.splitlines():
        cells = [(m.start(), m.end(), m.group()) for m in _CELL.finditer(line)]
        if len(cells) >= 2:
            block.append(cells)
        elif cells:  # a line of one cell ends the table; a blank line is layout spacing
            # A table carried over from the page before goes on at the top of this one, if anywhere.
            last = _read_block(block, carried if not rows and last is None else None, rows) or last
            block = []
    last = _read_block(block, carried if not rows and last is None else None, rows) or last
    return rows, last


def _read_block(block: list[list[tuple[int, int, str]]], carried: _Header | None,
                rows: dict[str, str]) -> _Header | None:
    """Add the block's rows to `rows` when it is a table; returns its header (None if not one)."""
    if not block:
        return None
    first = [text for _, _, text in block[0]]
    if _labels(first) and len(block) > MIN_ROWS:
        header, body = _Header(tuple(first), tuple((s, e) for s, e, _ in block[0])), block[1:]
    elif carried is not None and len(block) >= MIN_ROWS:
        header, body = carried, block
    else:
        return None
    found: dict[str, str] = {" ".join(first): ""} if header.names == tuple(first) else {}
    for cells in body:
        values = _align(cells, header.spans)
        if values is None:
            return None  # not a table whose rows stand under its header: leave the page as it is
        found[" ".join(text for _, _, text in cells)] = row_line(header.names, values)
    rows.update(found)
    return header


def _labels(cells: list[str]) -> bool:
    return is_header(cells) and all(len(c.split()) <= HEADER_CELL_MAX_WORDS for c in cells)


def _align(cells: list[tuple[int, int, str]], spans: tuple[tuple[int, int], ...]) -> list[str] | None:
    """The row's values by header column (the column each cell overlaps most, else the nearest),
    or None when a cell is not aligned with its column, two cells fall under one column, or a row
    has more cells than the header."""
    if len(cells) > len(spans):
        return None
    values = [""] * len(spans)
    for start, end, text in cells:
        overlaps = [min(end, e) - max(start, s) for s, e in spans]
        best = max(range(len(spans)), key=lambda i: overlaps[i])
        if overlaps[best] <= 0:
            center = (start + end) / 2
            best = min(range(len(spans)), key=lambda i: abs((spans[i][0] + spans[i][1]) / 2 - center))
        s, e = spans[best]
        if values[best] or not (abs(start - s) <= ALIGN or abs(end - e) <= ALIGN
                                or abs(start + end - s - e) <= 2 * ALIGN):
            return None  # cells of a table start, end or centre where their header does; gaps in justified prose do not
        values[best] = text
    return values
