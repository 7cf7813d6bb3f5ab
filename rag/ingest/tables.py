"""Table rows as self-contained lines of text, the same for spreadsheets, slides and Word tables.

A row read alone ("Town 417 | 52311 | 12.4") does not say which number is the population, and a
chunk holding rows 400-420 of a sheet no longer sees the header 400 rows up. So every row is
written with its column names: "Town: Town 417; Population: 52311; Area: 12.4". The names are
part of the document's text, so a citation quotes them with the value, the keyword index and the
embedder see them in every chunk, and the answer step can align "the population of Town 417" to
"Population: 52311". One row is one line, and a line break always ends a sentence, so chunks are
whole rows packed together (a row group), never half a row.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from rag.ingest.anchors import scrub

HEADER_CELL_MAX_CHARS = 80  # a column name is a label, not a paragraph
PAIR = "; "
NAME_VALUE = ": "
PLAIN = " | "  # between cells of a row without a header
_NUMBER = re.compile(r"^[\s$€£¥+\-−(]*\d[\d\s,.'%)]*$")


def cell_text(value: object) -> str:
    """A cell's value as text: whitespace collapsed, dates in ISO form, 12.0 as 12."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds" if value.second else "minutes")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return " ".join(scrub(str(value)).split())


def looks_numeric(text: str) -> bool:
    return bool(_NUMBER.match(text))


def is_header(cells: Sequence[str], numeric: Sequence[bool] | None = None) -> bool:
    """Whether a table's first row names its columns: at least two labels, each short, none a
    number (`numeric` says which cells held numbers, when the format knows), and no label twice.
    A year such as 2024 counts as a label beside a text one ("Item | 2023 | 2024")."""
    labels = [(c, numeric[i] if numeric is not None and i < len(numeric) else False) for i, c in enumerate(cells) if c]
    if len(labels) < 2 or any(len(c) > HEADER_CELL_MAX_CHARS for c, _ in labels):
        return False
    texts = [c for c, _ in labels]
    if len(set(texts)) < len(texts):
        return False
    words = [c for c, was_number in labels if not was_number and not looks_numeric(c)]
    years = [c for c, _ in labels if c.isdigit() and len(c) == 4 and c[0] in "12"]
    return len(words) + len(years) == len(labels) and bool(words)


def row_line(header: Sequence[str] | None, cells: Sequence[str]) -> str:
    """One row as a line: "Name: value; Name: value" under a header (empty cells left out, a cell
    past the header or under an empty name shown bare), "value | value" without one."""
    if not header:
        return PLAIN.join(c for c in cells if c)
    parts = []
    for i, value in enumerate(cells):
        if not value:
            continue
        name = header[i] if i < len(header) else ""
        parts.append(f"{name}{NAME_VALUE}{value}" if name and name != value else value)
    return PAIR.join(parts)


def table_lines(rows: Sequence[Sequence[str]], header: bool | None = None) -> list[str]:
    """The lines of a whole table (Word, slides). `header`: whether the first non-empty row names
    the columns, when the file says so (a row marked as the header, bold labels); None to judge by
    its text (is_header). A table that is only a header is kept as one plain line."""
    rows = [r for r in rows if any(r)]
    if not rows:
        return []
    first = list(rows[0])
    if header is None:
        header = is_header(first)
    else:
        header = header and any(first) and all(len(c) <= HEADER_CELL_MAX_CHARS for c in first)
    if len(rows) > 1 and header:
        return [line for r in rows[1:] if list(r) != first and (line := row_line(first, r))]
    return [line for r in rows if (line := row_line(None, r))]
