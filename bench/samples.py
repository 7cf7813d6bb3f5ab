"""Real sample files of each format, sized by a parameter, for the tests, the fault bench and the
readers benchmark. Each builder writes a file to `path` and returns the path."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

# --- spreadsheets (.xlsx, .csv, .tsv), slides (.pptx), Word tables ---

TOWN_HEADER = ["Town", "Region", "Population", "Area (km2)", "Founded"]
_REGIONS = ["Northern", "Coastal", "Highland", "Eastern", "Lakeside"]


def town_rows(n: int) -> list[list]:
    """A header and `n` rows of made-up towns: "Town 417" has population 10000 + 417 * 37, etc."""
    rows: list[list] = [list(TOWN_HEADER)]
    for i in range(1, n + 1):
        rows.append([f"Town {i}", _REGIONS[i % len(_REGIONS)], town_population(i), round(5 + (i * 7 % 300) / 10, 1),
                     dt.date(1900 + i % 120, 1 + i % 12, 1 + i % 28)])
    return rows


def town_population(i: int) -> int:
    return 10_000 + i * 37


def xlsx_file(path: Path, sheets: dict[str, Sequence[Sequence]], *, title: str | None = None,
              merged: dict[str, list[tuple[str, object]]] | None = None,
              formulas: dict[str, list[tuple[str, str, object]]] | None = None) -> Path:
    """An Excel workbook: each sheet's rows as given (str, int, float, date, datetime or None).
    `merged`: per sheet, (range such as "A2:A4", value) merged cells; `formulas`: per sheet,
    (cell, formula, cached value), stored the way Excel saves a computed formula."""
    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    book = xlsxwriter.Workbook(str(path), {"constant_memory": not merged and not formulas})
    if title:
        book.set_properties({"title": title})
    dates = book.add_format({"num_format": "yyyy-mm-dd"})
    stamps = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, dt.datetime):
                    sheet.write_datetime(r, c, value, stamps)
                elif isinstance(value, dt.date):
                    sheet.write_datetime(r, c, dt.datetime.combine(value, dt.time()), dates)
                else:
                    sheet.write(r, c, value)
        for cells, value in (merged or {}).get(name, []):
            sheet.merge_range(cells, value)
        for cell, formula, cached in (formulas or {}).get(name, []):
            sheet.write_formula(cell, formula, None, cached)
    book.close()
    return path


def csv_file(path: Path, rows: Sequence[Sequence], delimiter: str = ",", encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding=encoding) as fh:
        csv.writer(fh, delimiter=delimiter).writerows(
            [[v.isoformat() if isinstance(v, dt.date) else v for v in row] for row in rows])
    return path


def pptx_file(path: Path, slides: Sequence[tuple[str, str, str]], *,
              tables: dict[int, Sequence[Sequence[str]]] | None = None, title: str | None = None) -> Path:
    """A slide deck: one slide per (title, body, notes) — body lines become bullets, notes the
    speaker notes, an empty string leaves that part out. `tables`: slide index → rows of a table
    placed under the body."""
    import pptx
    from pptx.util import Inches

    deck = pptx.Presentation()
    if title:
        deck.core_properties.title = title
    for i, (heading, body, notes) in enumerate(slides):
        slide = deck.slides.add_slide(deck.slide_layouts[1])  # "Title and Content"
        if heading:
            slide.shapes.title.text = heading
        if body:
            slide.placeholders[1].text_frame.text = body
        else:
            slide.placeholders[1]._element.getparent().remove(slide.placeholders[1]._element)
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
        rows = (tables or {}).get(i)
        if rows:
            shape = slide.shapes.add_table(len(rows), len(rows[0]), Inches(0.5), Inches(5.5), Inches(9), Inches(1.5))
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    shape.table.cell(r, c).text = str(value)
    path.parent.mkdir(parents=True, exist_ok=True)
    deck.save(str(path))
    return path


def docx_with_table(path: Path, rows: Sequence[Sequence[str]], *, before: Sequence[str] = (),
                    after: Sequence[str] = (), heading: str = "", bold_header: bool = True,
                    merged: Sequence[tuple[int, int, int, int]] = ()) -> Path:
    """A Word file: an optional heading, paragraphs, a table of `rows` (the first its header, in
    bold unless `bold_header` is False), then more paragraphs. `merged`: (row, column, last row,
    last column) cells merged into one, which keeps the first cell's text."""
    import docx

    document = docx.Document()
    if heading:
        document.add_heading(heading, level=1)
    for text in before:
        document.add_paragraph(text)
    table = document.add_table(rows=len(rows), cols=len(rows[0]))
    for r, (row, values) in enumerate(zip(table.rows, rows)):
        for cell, value in zip(row.cells, values):
            cell.text = str(value)
            if r == 0 and bold_header:
                for run in cell.paragraphs[0].runs:
                    run.bold = True
    for top, left, bottom, right in merged:
        keep = table.cell(top, left).text
        table.cell(top, left).merge(table.cell(bottom, right)).text = keep
    for text in after:
        document.add_paragraph(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))
    return path


def pdf_with_table(path: Path, rows: Sequence[Sequence], *, before: str = "", repeat_header: bool = True) -> Path:
    """A PDF (fpdf2): a paragraph, then a ruled table of `rows` (the first its header) that runs
    over as many pages as it needs, its header repeated on each unless `repeat_header` is False."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=9)
    pdf.add_page()
    if before:
        pdf.multi_cell(0, 5, before)
        pdf.ln(3)
    with pdf.table(repeat_headings=1 if repeat_header else 0) as table:
        for values in rows:
            row = table.row()
            for value in values:
                row.cell(value.isoformat() if isinstance(value, dt.date) else str(value))
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path
