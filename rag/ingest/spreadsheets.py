"""Spreadsheets (.xlsx, .csv, .tsv) → text: each sheet a section, each row a line that carries
its column names (rag.ingest.tables).

A sheet is read as a stream, row by row, and reading stops where the document's text would pass
`max_chars`, or where most of the parse's time is spent (`seconds`, the file's max_parse_seconds:
a million short rows take longer to parse than their text is long): a 100,000-row sheet costs what
the rows kept cost, and the note the loader prints
says how many rows of which sheet were read.
"""

from __future__ import annotations

import csv
import io
import re
import time
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from rag.core.errors import DocumentError
from rag.ingest.anchors import Extracted, Section, mark, scrub
from rag.ingest.tables import cell_text, is_header, row_line

SNIFF_CHARS = 64 * 1024
SNIFF_DELIMITERS = ",;\t|"
_MERGE = re.compile(rb"<(?:\w+:)?mergeCell\s[^>]*?ref=\"([A-Z]{1,3})(\d{1,7}):([A-Z]{1,3})(\d{1,7})\"")
_MERGE_SCAN_BLOCK = 1 << 20
# Of max_parse_seconds, what reading rows may take; the rest is for cleaning the text and the
# parser process's own start, so a long sheet is cut rather than stopped with nothing read.
ROWS_TIME_SHARE = 0.6
TITLE_ROWS = 5  # rows of one cell above a table that may stand before its header row


@dataclass
class _Budget:
    """The characters left for the document's text, and what was left out when they ran out."""

    max_chars: int | None
    seconds: float | None = None  # the file's max_parse_seconds
    used: int = 0
    started: float = field(default_factory=time.monotonic)
    out_of_time: bool = False
    cut: str = ""  # "read 41,200 of 100,000 rows of sheet 'Towns'"
    unread: list[str] = field(default_factory=list)  # sheets not read at all

    def take(self, line: str) -> bool:
        if self.max_chars is not None and self.used + len(line) + 1 > self.max_chars:
            return False
        if self.seconds is not None and time.monotonic() - self.started > ROWS_TIME_SHARE * self.seconds:
            self.out_of_time = True
            return False
        self.used += len(line) + 1
        return True

    @property
    def exhausted(self) -> bool:
        return bool(self.cut or self.unread)

    def note(self) -> str:
        parts = [self.cut] if self.cut else []
        if self.unread:
            shown = ", ".join(repr(s) for s in self.unread[:5]) + (" and more" if len(self.unread) > 5 else "")
            parts.append(f"sheet{'s' if len(self.unread) > 1 else ''} {shown} not read")
        if self.out_of_time:
            return (f"{'; '.join(parts)}: reading took {ROWS_TIME_SHARE:.0%} of max_parse_seconds "
                    f"({self.seconds:g} s); raise max_parse_seconds to index the rest")
        return (f"{'; '.join(parts)}: the text reached max_file_chars ({self.max_chars:,} characters); "
                "raise max_file_chars to index the rest")


def _rows_as_lines(rows: Iterable[tuple[Sequence[str], Sequence[bool] | None]], budget: _Budget,
                   out: list[str]) -> tuple[int, bool]:
    """Append each row's line to `out` while the budget lasts. Rows come with, for each cell,
    whether it held a number. Returns the number of rows consumed and whether all were."""
    header: list[str] | None = None
    seen = titles = 0
    for cells, numeric in rows:
        seen += 1
        if not any(cells):
            continue
        if header is None:
            if sum(1 for c in cells if c) < 2 and titles < TITLE_ROWS:
                titles += 1  # a title or a note above the table ("Population by town, 2024"): a line of its own
            else:
                header = list(cells) if is_header(cells, numeric) else []
                if header:
                    continue
        if header and list(cells) == header:  # the header repeated (a sheet printed in pages)
            continue
        line = row_line(header, cells)
        if not budget.take(line):
            return seen - 1, False
        out.append(line)
    if header and not any(line for line in out):
        out.append(row_line(None, header))
    return seen, True


# --- .xlsx ---

def extract_xlsx(data: bytes, max_chars: int | None = None, seconds: float | None = None) -> Extracted:
    try:
        import openpyxl
    except ImportError as exc:
        raise DocumentError(f"reading .xlsx needs openpyxl ({exc}); pip install openpyxl") from None
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - a damaged file makes zipfile/lxml/openpyxl raise many things
        raise DocumentError(f"unreadable Excel file: {type(exc).__name__}: {str(exc)[:120]}") from None
    try:
        return _read_book(book, _Budget(max_chars, seconds))
    except DocumentError:
        raise
    except Exception as exc:  # noqa: BLE001 - a sheet's XML damaged past its first rows
        raise DocumentError(f"unreadable Excel file: {type(exc).__name__}: {str(exc)[:120]}") from None
    finally:
        book.close()


def _read_book(book, budget: _Budget) -> Extracted:
    parts: list[str] = []
    sections: list[Section] = []
    for sheet in book.worksheets:
        name = " ".join(scrub(sheet.title).split())
        if budget.exhausted:
            budget.unread.append(name)
            continue
        declared_rows = sheet.max_row  # from the sheet's <dimension>, which may be missing or wrong
        sheet.reset_dimensions()  # so rows are not padded out to a declared width
        lines: list[str] = []
        if not budget.take(name):
            budget.unread.append(name)
            continue
        consumed, whole = _rows_as_lines(_sheet_rows(sheet), budget, lines)
        if not whole:
            total = f" of {declared_rows:,}" if declared_rows and declared_rows > consumed else ""
            budget.cut = f"read {consumed:,}{total} rows of sheet {name!r}"
        if lines:
            parts.append(mark("s", len(sections)) + name + "\n" + "\n".join(lines))
            sections.append(Section(1, name))
    title = (book.properties.title or "").strip() if book.properties else ""
    warnings = (budget.note(),) if budget.exhausted else ()
    return Extracted("\n\n".join(parts), title or None, sections=tuple(sections), warnings=warnings,
                     title_from_text=False,
                     section_breaks=True)


def _sheet_rows(sheet) -> Iterator[tuple[list[str], list[bool]]]:
    merged = _merged_ranges(sheet)
    spans: dict[tuple[int, int], object] = {}  # (row, col) of a merged range's first cell → its value
    for r, values in enumerate(sheet.iter_rows(values_only=True), 1):
        values = list(values)
        for top, left, right in merged.get(r, ()):
            if top == r and left <= len(values):
                spans[(top, left)] = values[left - 1]
            value = spans.get((top, left))
            if len(values) < right:
                values.extend([None] * (right - len(values)))
            # A cell merged down rows ("Region" beside each of its towns) stands in each row, so
            # every row reads whole; across columns it is one value, under its first column.
            values[left - 1] = value
            for c in range(left + 1, right + 1):
                values[c - 1] = None
        yield [cell_text(v) for v in values], [isinstance(v, (int, float)) and not isinstance(v, bool) for v in values]


def _merged_ranges(sheet) -> dict[int, list[tuple[int, int, int]]]:
    """Each row's merged ranges (top row, left and right columns), from the sheet's <mergeCell> elements.
    Read-only openpyxl does not report merges, and they follow the cells in the sheet's XML, so the
    part is scanned for them first (a regular expression over the unpacked bytes, in blocks)."""
    from openpyxl.utils import column_index_from_string

    archive, path = getattr(sheet.parent, "_archive", None), getattr(sheet, "_worksheet_path", None)
    if not isinstance(archive, zipfile.ZipFile) or not path:
        return {}
    by_row: dict[int, list[tuple[int, int, int]]] = {}
    tail = b""
    try:
        with archive.open(path) as part:
            while block := part.read(_MERGE_SCAN_BLOCK):
                buffer = tail + block
                last = 0
                for m in _MERGE.finditer(buffer):
                    last = m.end()
                    left, top = column_index_from_string(m.group(1).decode()), int(m.group(2))
                    right, bottom = column_index_from_string(m.group(3).decode()), int(m.group(4))
                    if bottom - top > 100_000 or right - left > 1_000:
                        continue  # not a layout a table has; filling it would cost more than the sheet
                    for r in range(top, bottom + 1):
                        by_row.setdefault(r, []).append((top, left, right))
                tail = buffer[max(last, len(buffer) - 200):]
    except (KeyError, zipfile.BadZipFile, OSError, ValueError):
        return {}
    return by_row


# --- .csv and .tsv ---

def extract_delimited(text: str, delimiter: str | None = None, max_chars: int | None = None,
                      seconds: float | None = None) -> Extracted:
    """A .csv (`delimiter` None: sniffed among , ; tab |) or .tsv (tab) file, decoded."""
    if delimiter is None:
        delimiter = sniff_delimiter(text)
    budget = _Budget(max_chars, seconds)
    lines: list[str] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        consumed, whole = _rows_as_lines(((_cells(r), None) for r in reader), budget, lines)
        warnings: tuple[str, ...] = ()
        if not whole:
            total = consumed + 1 + sum(1 for _ in reader)  # the row that did not fit, then the rest
            budget.cut = f"read {consumed:,} of {total:,} rows"
            warnings = (budget.note(),)
    except csv.Error as exc:
        raise DocumentError(f"malformed {'TSV' if delimiter == chr(9) else 'CSV'} file: {exc}") from None
    return Extracted("\n".join(lines), None, warnings=warnings, title_from_text=False)


def _cells(row: list[str]) -> list[str]:
    return [" ".join(scrub(c).split()) for c in row]


def sniff_delimiter(text: str) -> str:
    sample = text[:SNIFF_CHARS]
    if len(text) > SNIFF_CHARS and "\n" in sample:
        sample = sample[:sample.rindex("\n")]  # whole lines only
    try:
        return csv.Sniffer().sniff(sample, delimiters=SNIFF_DELIMITERS).delimiter
    except csv.Error:
        return ","
