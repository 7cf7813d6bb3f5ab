"""OpenDocument text (.odt) → paragraphs and headings in reading order, tables row by row.

An .odt is a zip whose content.xml holds the body and whose meta.xml the title, author, language
and date. Headings (`text:h`) are sections at their outline level. A table is read a row a line:
each row under its header row (the declared header rows, else the first row) as `A: a1; B: b1`,
as Word and spreadsheet rows are (rag.ingest.tables), so a row read alone still says what each
value is. Comments, tracked deletions
and the text of fields that only repeat others (the table of contents) are not read.
"""

from __future__ import annotations

from rag.core.errors import DocumentError
from rag.ingest.anchors import Extracted, Section, mark, scrub
from rag.ingest.tables import row_line
from rag.ingest.zipxml import open_archive, parse_xml, read_part

_KIND = "OpenDocument file"
_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_DC = "http://purl.org/dc/elements/1.1/"
_META = "urn:oasis:names:tc:opendocument:xmlns:meta:1.0"
# Not text of the document: comments, deleted text kept for change tracking, generated indexes.
_SKIP = {f"{{{_OFFICE}}}annotation", f"{{{_OFFICE}}}annotation-end", f"{{{_TEXT}}}tracked-changes",
         f"{{{_TEXT}}}table-of-content", f"{{{_TEXT}}}alphabetical-index", f"{{{_TEXT}}}sequence-decls",
         f"{{{_TEXT}}}variable-decls", f"{{{_TEXT}}}user-field-decls", f"{{{_TEXT}}}note-citation"}
_MAX_REPEAT = 100  # a repeated row or cell with text is written at most this often (a styled sheet repeats 16,384)


def extract_odt(data: bytes) -> Extracted:
    archive = open_archive(data, _KIND)
    with archive:
        names = set(archive.namelist())
        if "content.xml" not in names:
            raise DocumentError("not an OpenDocument file: it has no content.xml")
        root = parse_xml(read_part(archive, "content.xml", _KIND), "content.xml", _KIND)
        try:
            meta = parse_xml(read_part(archive, "meta.xml", _KIND), "meta.xml", _KIND) if "meta.xml" in names else None
        except DocumentError:
            meta = None  # damaged properties: the text is still there
    body = next(root.iter(f"{{{_OFFICE}}}text"), None)
    if body is None:
        raise DocumentError("not an OpenDocument text: no text body (a spreadsheet or presentation?)")
    parts: list[str] = []
    sections: list[Section] = []
    _blocks(body, parts, sections)
    metadata = _metadata(meta) if meta is not None else {}
    headings = sorted(sections, key=lambda s: s.level)
    title = metadata.pop("title", None) or (headings[0].heading if headings else None)
    return Extracted("\n\n".join(p for p in parts if p.strip()), title, metadata, sections=tuple(sections))


def _blocks(node, parts: list[str], sections: list[Section]) -> None:
    for child in node:
        tag = child.tag
        if not isinstance(tag, str) or tag in _SKIP:
            continue
        if tag == f"{{{_TEXT}}}h":
            text = _inline(child)
            if text:
                level = _level(child.get(f"{{{_TEXT}}}outline-level"))
                parts.append(mark("s", len(sections)) + text)
                sections.append(Section(level, text))
        elif tag == f"{{{_TEXT}}}p":
            text = _inline(child)
            if text:
                parts.append(text)
            _frames(child, parts, sections)
        elif tag == f"{{{_TABLE}}}table":
            rows = _table(child)
            if rows:
                parts.append("\n".join(rows))
        else:  # lists, sections, text boxes: their paragraphs in order
            _blocks(child, parts, sections)


def _frames(paragraph, parts: list[str], sections: list[Section]) -> None:
    """Text boxes anchored in a paragraph hold paragraphs of their own."""
    for box in paragraph.iter("{urn:oasis:names:tc:opendocument:xmlns:drawing:1.0}text-box"):
        _blocks(box, parts, sections)


def _inline(node) -> str:
    out: list[str] = []

    def walk(element) -> None:
        if element.text:
            out.append(element.text)
        for child in element:
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag in _SKIP or tag.endswith("}frame"):
                pass  # a frame's text box is read as its own paragraphs
            elif tag == f"{{{_TEXT}}}s":
                out.append(" " * min(_count(child.get(f"{{{_TEXT}}}c")), 100))
            elif tag == f"{{{_TEXT}}}tab":
                out.append("\t")
            elif tag == f"{{{_TEXT}}}line-break":
                out.append("\n")
            elif tag == f"{{{_TEXT}}}note":
                body = next(child.iter(f"{{{_TEXT}}}note-body"), None)
                if body is not None:
                    out.append(" (" + " ".join(_inline(p) for p in body.iter(f"{{{_TEXT}}}p")) + ")")
            else:
                walk(child)
            if child.tail:
                out.append(child.tail)

    walk(node)
    return scrub("".join(out)).strip()


def _table(table) -> list[str]:
    header_rows = [r for h in table.iter(f"{{{_TABLE}}}table-header-rows") for r in h.iter(f"{{{_TABLE}}}table-row")]
    rows: list[list[str]] = []
    header: list[str] | None = None
    for row in table.iter(f"{{{_TABLE}}}table-row"):
        if _in_nested_table(row, table):
            continue
        cells = _cells(row)
        if not any(cells):
            continue
        repeat = min(_count(row.get(f"{{{_TABLE}}}number-rows-repeated")), _MAX_REPEAT)
        if row in header_rows or (header is None and not header_rows and not rows):
            header = cells if header is None else [" ".join(p for p in pair if p) for pair in zip(header, cells)]
            continue
        rows.extend([cells] * repeat)
    if header and not rows:  # a table that is only a header is one plain line
        return [line for line in [row_line(None, header)] if line]
    return [line for cells in rows if (line := row_line(header, cells))]


def _in_nested_table(row, table) -> bool:
    parent = row.getparent()
    while parent is not None and parent is not table:
        if parent.tag == f"{{{_TABLE}}}table":
            return True
        parent = parent.getparent()
    return False


def _cells(row) -> list[str]:
    cells: list[str] = []
    for cell in row:
        if cell.tag == f"{{{_TABLE}}}covered-table-cell":
            continue  # merged into the cell before it
        if cell.tag != f"{{{_TABLE}}}table-cell":
            continue
        text = " ".join(" ".join(_inline(p).split()) for p in cell if p.tag in (f"{{{_TEXT}}}p", f"{{{_TEXT}}}h"))
        repeat = _count(cell.get(f"{{{_TABLE}}}number-columns-repeated"))
        cells.extend([text] * min(repeat, _MAX_REPEAT if text else 1000))  # empty ones keep the columns aligned
    while cells and not cells[-1]:
        cells.pop()
    return cells


def _count(value: str | None) -> int:
    try:
        return max(1, int(value)) if value else 1
    except ValueError:
        return 1


def _level(value: str | None) -> int:
    return min(max(_count(value), 1), 6)


def _metadata(meta) -> dict:
    found: dict = {}

    def first(tag: str) -> str | None:
        node = next(meta.iter(tag), None)
        text = " ".join(scrub(node.text or "").split()) if node is not None else ""
        return text or None

    title = first(f"{{{_DC}}}title")
    if title:
        found["title"] = title
    author = first(f"{{{_DC}}}creator") or first(f"{{{_META}}}initial-creator")
    if author:
        found["byline"] = author
    language = first(f"{{{_DC}}}language")
    if language:
        found["language"] = language
    date = first(f"{{{_DC}}}date") or first(f"{{{_META}}}creation-date")
    if date and len(date) >= 10 and date[4] == "-" and date[7] == "-":
        found["date"] = date[:10]
    return found
