"""Builders of real sample files (and, for web pages, a small site served on 127.0.0.1), shared by
the tests, the fault bench and the readers benchmark. Each format's builders are one block."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import html
import http.server
import socket
import textwrap
import threading
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, formatdate
from html import escape
from pathlib import Path

# --- web pages ---

_BOILERPLATE_NAV = ('<nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li>'
                    '<li><a href="/about">About us</a></li><li><a href="/contact">Contact</a></li></ul></nav>')
_BOILERPLATE_FOOT = ('<footer><p>Copyright 2024 Harbour Press. All rights reserved.</p>'
                     '<a href="/privacy">Privacy policy</a> <a href="/cookies">Cookie settings</a></footer>')


def html_page(title: str, paragraphs: list[str], *, date: str | None = None, headings: list[str] | None = None) -> str:
    """A news-style page: navigation, a cookie banner and a footer around an <article> holding an
    <h1> title and `paragraphs` (each after the matching entry of `headings`, if given, as <h2>)."""
    body = []
    for i, text in enumerate(paragraphs):
        if headings and i < len(headings) and headings[i]:
            body.append(f"<h2>{html.escape(headings[i])}</h2>")
        body.append(f"<p>{html.escape(text)}</p>")
    meta = f'<meta property="article:published_time" content="{html.escape(date)}">' if date else ""
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)} | Harbour Press</title>"
            f"{meta}</head><body>{_BOILERPLATE_NAV}<div class=\"cookie-banner\">We use cookies. Accept all.</div>"
            f"<main><article><h1>{html.escape(title)}</h1>{''.join(body)}</article></main>{_BOILERPLATE_FOOT}"
            "</body></html>")


def boilerplate_page() -> str:
    """A page with navigation, a banner and a footer and no main text at all."""
    return (f"<!doctype html><html><head><title>Menu</title></head><body>{_BOILERPLATE_NAV}"
            f"<div class=\"cookie-banner\">We use cookies. Accept all.</div>{_BOILERPLATE_FOOT}</body></html>")


def sitemap(urls: list[str]) -> str:
    entries = "".join(f"<url><loc>{html.escape(u)}</loc></url>" for u in urls)
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'


def sitemap_index(urls: list[str]) -> str:
    entries = "".join(f"<sitemap><loc>{html.escape(u)}</loc></sitemap>" for u in urls)
    return (f'<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{entries}</sitemapindex>")


@dataclass
class Page:
    """What the site answers at one path: a body with its content type (served with an ETag and a
    Last-Modified, and 304 to a request that sends them back), a status, a redirect, or a
    `stream` callable that writes the body itself (endless data)."""

    body: bytes | str = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    location: str = ""
    stream: Callable[[object], None] | None = None
    modified: float = 1_700_000_000.0
    validators: bool = True


@dataclass
class LocalSite:
    """A web site on 127.0.0.1 (a thread of this process) that counts requests per path and how
    many of them were answered with a body (200)."""

    pages: dict[str, Page] = field(default_factory=dict)
    requests: Counter = field(default_factory=Counter)
    downloads: Counter = field(default_factory=Counter)
    agents: list[str] = field(default_factory=list)  # the User-Agent of each request
    base: str = ""

    def url(self, path: str) -> str:
        return self.base + path

    def put(self, path: str, body: bytes | str = b"", **kw) -> str:
        """Serve `body` at `path` (replacing what was there: a new ETag); returns its URL."""
        self.pages[path] = Page(body, **kw)
        return self.url(path)


def _handler(site: LocalSite) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            path = self.path.split("?", 1)[0]
            site.requests[path] += 1
            site.agents.append(self.headers.get("User-Agent", ""))
            page = site.pages.get(path)
            if page is None:
                return self._send(404, b"not found", "text/plain")
            if page.location:
                self.send_response(page.status if page.status != 200 else 302)
                self.send_header("Location", page.location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            if page.stream is not None:
                self.send_response(page.status)
                self.send_header("Content-Type", page.content_type)
                self.send_header("Connection", "close")
                self.end_headers()
                with contextlib.suppress(OSError):
                    page.stream(self.wfile)
                self.close_connection = True
                return None
            body = page.body.encode("utf-8") if isinstance(page.body, str) else page.body
            headers = {}
            if page.validators:
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                modified = formatdate(page.modified, usegmt=True)
                headers = {"ETag": etag, "Last-Modified": modified}
                if self.headers.get("If-None-Match") == etag or (
                        not self.headers.get("If-None-Match") and self.headers.get("If-Modified-Since") == modified):
                    self.send_response(304)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
            if page.status == 200:
                site.downloads[path] += 1
            return self._send(page.status, body, page.content_type, headers)

        def _send(self, status: int, body: bytes, kind: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

    return Handler


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        pass  # a client hanging up mid-body (a size limit, a timeout) is what the site is for


@contextlib.contextmanager
def local_site(pages: dict[str, Page] | None = None) -> Iterator[LocalSite]:
    """A LocalSite serving `pages` (more can be put while it runs), stopped on exit."""
    site = LocalSite(dict(pages or {}))
    server = _QuietServer(("127.0.0.1", 0), _handler(site))
    server.daemon_threads = True
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


def endless_zeros(out) -> None:
    """A body that never ends: zeros, a megabyte at a time, until the reader hangs up."""
    block = bytes(1 << 20)
    while True:
        out.write(block)


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """A server on 127.0.0.1 that accepts connections and never answers; yields its base URL."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not done.is_set():
            try:
                conn, _ = listener.accept()
                held.append(conn)
            except (TimeoutError, OSError):
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        done.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


def write_html_page(path: Path, title: str, paragraphs: list[str], *, date: str | None = None) -> Path:
    """`html_page` written to `path`."""
    path.write_text(html_page(title, paragraphs, date=date), encoding="utf-8")
    return path

# --- end of web pages ---


# --- e-books (.epub), e-mail (.eml), OpenDocument text (.odt) ---

_XHTML = ('<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml" '
          'xmlns:epub="http://www.idpf.org/2007/ops"><head><title>{title}</title>'
          '<style>p {{ color: black }}</style><script>var tracking = "never read";</script></head>'
          '<body>{body}</body></html>')


def epub_file(path: Path, title: str, chapters: list[tuple[str, str]], *, author: str = "Ann Writer",
              language: str = "en", date: str = "2024-05-01") -> Path:
    """An EPUB 3 book (with an EPUB 2 NCX too): one XHTML file per chapter, its title an <h1>,
    its text split into paragraphs at blank lines, in spine order."""
    files = {f"chapter-{i}.xhtml": (name, text) for i, (name, text) in enumerate(chapters, 1)}
    manifest = "".join(f'<item id="c{i}" href="{f}" media-type="application/xhtml+xml"/>'
                       for i, f in enumerate(files, 1))
    spine = "".join(f'<itemref idref="c{i}"/>' for i in range(1, len(files) + 1))
    opf = ('<?xml version="1.0" encoding="utf-8"?>\n<package xmlns="http://www.idpf.org/2007/opf" version="3.0" '
           'unique-identifier="uid"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
           f'<dc:identifier id="uid">urn:sample:{escape(path.stem)}</dc:identifier><dc:title>{escape(title)}</dc:title>'
           f'<dc:creator>{escape(author)}</dc:creator><dc:language>{language}</dc:language>'
           f'<dc:date>{date}</dc:date></metadata><manifest>'
           '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>'
           '<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>'
           f'{manifest}</manifest><spine toc="ncx">{spine}</spine></package>')
    links = "".join(f'<li><a href="{f}">{escape(name)}</a></li>' for f, (name, _) in files.items())
    nav = _XHTML.format(title="Contents", body=f'<nav epub:type="toc"><ol>{links}</ol></nav>')
    points = "".join(f'<navPoint id="p{i}" playOrder="{i}"><navLabel><text>{escape(name)}</text></navLabel>'
                     f'<content src="{f}"/></navPoint>' for i, (f, (name, _)) in enumerate(files.items(), 1))
    ncx = ('<?xml version="1.0" encoding="utf-8"?>\n<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" '
           f'version="2005-1"><head/><docTitle><text>{escape(title)}</text></docTitle><navMap>{points}</navMap></ncx>')
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")  # first and stored, as EPUB requires
        book.writestr("META-INF/container.xml",
                      '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:'
                      'xmlns:container"><rootfiles><rootfile full-path="OEBPS/content.opf" '
                      'media-type="application/oebps-package+xml"/></rootfiles></container>')
        book.writestr("OEBPS/content.opf", opf)
        book.writestr("OEBPS/nav.xhtml", nav)
        book.writestr("OEBPS/toc.ncx", ncx)
        for f, (name, text) in files.items():
            paragraphs = "".join(f"<p>{escape(p)}</p>" for p in text.split("\n\n") if p.strip())
            book.writestr(f"OEBPS/{f}", _XHTML.format(title=escape(name), body=f"<h1>{escape(name)}</h1>{paragraphs}"))
    return path


def eml_file(path: Path, subject: str, body: str, attachments: list[tuple[str, bytes, str]] = (), *,
             sender: str = "Ann Lee <ann@example.com>", to: str = "Bo Chen <bo@example.com>", cc: str = "",
             date: datetime = datetime(2024, 3, 5, 10, 12, tzinfo=timezone.utc), html: bool = False) -> Path:
    """A MIME message: the body as text/plain (quoted-printable when it is not ASCII) or, with
    `html`, as text/html; each attachment (name, bytes, MIME type) base64-encoded."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = to
    if cc:
        message["Cc"] = cc
    message["Date"] = format_datetime(date)
    if html:
        message.set_content(body, subtype="html")
    else:
        message.set_content(body)
    for name, data, mime in attachments:
        maintype, _, subtype = mime.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream", filename=name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(message))
    return path


_ODF = {"office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
        "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
        "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
        "dc": "http://purl.org/dc/elements/1.1/", "meta": "urn:oasis:names:tc:opendocument:xmlns:meta:1.0"}


def odt_file(path: Path, title: str, blocks: list[str | tuple[int, str] | list[list[str]]], *,
             author: str = "Ann Writer") -> Path:
    """An OpenDocument text: each block a paragraph (str), a heading ((level, text)), or a table
    (rows of cells, the first row its declared header)."""
    body = []
    for block in blocks:
        if isinstance(block, str):
            body.append(f"<text:p>{escape(block)}</text:p>")
        elif isinstance(block, tuple):
            body.append(f'<text:h text:outline-level="{block[0]}">{escape(block[1])}</text:h>')
        else:
            def row(cells: list[str]) -> str:
                return "<table:table-row>" + "".join(
                    f"<table:table-cell><text:p>{escape(c)}</text:p></table:table-cell>" for c in cells) + "</table:table-row>"
            body.append(f'<table:table table:name="Table{len(body)}"><table:table-column '
                        f'table:number-columns-repeated="{len(block[0])}"/><table:table-header-rows>{row(block[0])}'
                        f'</table:table-header-rows>{"".join(row(r) for r in block[1:])}</table:table>')
    ns = " ".join(f'xmlns:{k}="{v}"' for k, v in _ODF.items())
    content = (f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-content {ns} office:version="1.3">'
               f'<office:body><office:text>{"".join(body)}</office:text></office:body></office:document-content>')
    meta = (f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-meta {ns} office:version="1.3"><office:meta>'
            f'<dc:title>{escape(title)}</dc:title><dc:creator>{escape(author)}</dc:creator>'
            '<dc:language>en</dc:language><dc:date>2024-05-01T09:00:00</dc:date></office:meta></office:document-meta>')
    manifest = ('<?xml version="1.0" encoding="UTF-8"?>\n<manifest:manifest xmlns:manifest="urn:oasis:names:tc:'
                'opendocument:xmlns:manifest:1.0" manifest:version="1.3"><manifest:file-entry manifest:full-path="/" '
                'manifest:media-type="application/vnd.oasis.opendocument.text"/></manifest:manifest>')
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as document:
        document.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        document.writestr("META-INF/manifest.xml", manifest)
        document.writestr("content.xml", content)
        document.writestr("meta.xml", meta)
    return path

# --- end of e-books, e-mail, OpenDocument text ---


# --- spreadsheets (.xlsx, .csv, .tsv), slides (.pptx), tables in Word and PDF ---

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


# --- end of spreadsheets, slides and tables ---


# --- scanned pages and images (OCR) ---

A4_INCHES = (8.27, 11.69)
# A serif face like most printed pages; Pillow's own font where Debian's fonts are missing.
_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
          "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf")


def _font(size: int):
    from PIL import ImageFont

    for name in _FONTS:
        if Path(name).is_file():
            return ImageFont.truetype(name, size)
    return ImageFont.load_default(size=size)


def page_image(text: str, dpi: int = 200, *, points: float = 12.0, size: tuple[float, float] = A4_INCHES):
    """A white page (A4 by default) with `text` in black, wrapped within one-inch margins, as a
    scanner would give it: a greyscale Pillow image at `dpi`."""
    from PIL import Image, ImageDraw

    width, height = int(size[0] * dpi), int(size[1] * dpi)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    font = _font(round(points * dpi / 72))
    margin = dpi  # one inch
    line_height = round(points * 1.5 * dpi / 72)
    chars = max(20, int((width - 2 * margin) / (font.getlength("abcdefghij klmnopqrs") / 20)))
    y = margin
    for paragraph in text.split("\n"):
        for line in textwrap.wrap(paragraph, chars) or [""]:
            if y + line_height > height - margin:
                break
            draw.text((margin, y), line, fill=0, font=font)
            y += line_height
    return image


def text_image(path: Path, text: str, *, dpi: int = 200, points: float = 12.0,
               size: tuple[float, float] = A4_INCHES) -> Path:
    """An image file of a page of `text`; its format follows the suffix (.png, .jpg, .tif...)."""
    image = page_image(text, dpi, points=points, size=size)
    path = Path(path)
    image.save(path, dpi=(dpi, dpi))
    return path


def scanned_pdf(path: Path, pages: list[str], dpi: int = 200) -> Path:
    """An image-only PDF (no text layer), one page image a string of `pages`, like a scanner's."""
    images = [page_image(text, dpi) for text in pages]
    path = Path(path)
    images[0].save(path, "PDF", resolution=float(dpi), save_all=True, append_images=images[1:])
    return path


def multipage_tiff(path: Path, pages: list[str], dpi: int = 200) -> Path:
    """A multi-frame TIFF, one frame a page."""
    images = [page_image(text, dpi) for text in pages]
    path = Path(path)
    images[0].save(path, "TIFF", dpi=(dpi, dpi), save_all=True, append_images=images[1:], compression="tiff_lzw")
    return path


def noise_image(path: Path, *, width: int = 1200, height: int = 800, seed: int = 3) -> Path:
    """Rows of random pen strokes shaped like words but holding no letters: a ruined scan, which
    OCR reads as many words of very low confidence (a mean of about 30 out of 100)."""
    import random

    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    for y in range(40, height - 40, 40):
        x = 40
        while x < width - 50:
            w = rng.randrange(8, 60)
            for _ in range(rng.randrange(2, 6)):
                draw.line([(x + rng.randrange(w), y + rng.randrange(25)), (x + rng.randrange(w), y + rng.randrange(25))],
                          fill=0, width=2)
            x += w + rng.randrange(8, 20)
    image.save(Path(path))
    return Path(path)


def mixed_pdf(path: Path, text_page: str, scanned_page: str, dpi: int = 200) -> Path:
    """A two-page PDF: page 1 with a text layer, page 2 a scanned image only."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 7, text_page)
    pdf.add_page()
    image = page_image(scanned_page, dpi)
    pdf.image(image, x=0, y=0, w=210, h=297)
    Path(path).write_bytes(bytes(pdf.output()))
    return Path(path)


# --- PDFs that say where their words were drawn, and scanned pages that do (the source viewer) ---

@dataclass(frozen=True)
class DrawnLine:
    """One line of text as it was drawn: its 1-based page and its box in fractions of the page
    (x0, y0, x1, y1 from the top-left), known by construction."""

    page: int
    text: str
    box: tuple[float, float, float, float]


def text_pdf(path: Path, pages: Sequence[Sequence[str]], *, points: float = 12.0) -> list[DrawnLine]:
    """An A4 PDF with a text layer, one line of Helvetica a string of each page's list (keep them
    short enough for one line); returns where every line was drawn."""
    from fpdf import FPDF

    width, height, margin, leading = 210.0, 297.0, 25.0, points * 0.3528 * 1.6  # millimetres
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(False)
    pdf.set_font("Helvetica", size=points)
    drawn = []
    for number, lines in enumerate(pages, 1):
        pdf.add_page()
        for i, line in enumerate(lines):
            y = margin + i * leading
            pdf.set_xy(margin, y)
            pdf.cell(pdf.get_string_width(line), leading, line)
            # The glyphs fill about the middle 70 % of the cell's height.
            glyphs = points * 0.3528
            top = y + (leading - glyphs) / 2
            drawn.append(DrawnLine(number, line, ((margin) / width, top / height,
                                                  (margin + pdf.get_string_width(line)) / width,
                                                  (top + glyphs) / height)))
    Path(path).write_bytes(bytes(pdf.output()))
    return drawn


def scanned_page_lines(path: Path, lines: Sequence[str], *, dpi: int = 150,
                       points: float = 14.0) -> list[DrawnLine]:
    """A scanned page as a PNG image (no text at all: OCR reads it), one short line a string;
    returns where every line was drawn (page 1)."""
    from PIL import Image, ImageDraw

    width, height = int(A4_INCHES[0] * dpi), int(A4_INCHES[1] * dpi)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    font = _font(round(points * dpi / 72))
    margin, leading = dpi, round(points * 1.8 * dpi / 72)
    drawn = []
    for i, line in enumerate(lines):
        y = margin + i * leading
        draw.text((margin, y), line, fill=0, font=font)
        x0, y0, x1, y1 = draw.textbbox((margin, y), line, font=font)
        drawn.append(DrawnLine(1, line, (x0 / width, y0 / height, x1 / width, y1 / height)))
    image.save(Path(path), dpi=(dpi, dpi))
    return drawn

# --- end of PDFs and scanned pages that say where their words were drawn ---
# --- PDFs with text where the caller knows it is (source-viewer highlights) ---

@dataclass(frozen=True)
class Placed:
    """Where a paragraph of `placed_pdf` was drawn: its page (from 1) and the rectangle of its
    lines, in fractions of the page's width and height from the top-left."""

    page: int
    text: str
    x0: float
    y0: float
    x1: float
    y1: float


def placed_pdf(path: Path, pages: Sequence[Sequence[str]], *, points: float = 11.0,
               header: str = "") -> list[Placed]:
    """A text PDF (A4), each page its paragraphs one below the other, a `header` line at the top
    of every page when given, in a serif TrueType face (so that "ﬁ" and other ligatures are real
    glyphs; a "\\n" in a paragraph breaks its line there). Returns where each paragraph went."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    font = next((name for name in _FONTS if Path(name).is_file()), None)
    if font:
        pdf.add_font("serif", fname=font)
        pdf.set_font("serif", size=points)
    else:
        pdf.set_font("Times", size=points)
    line = points * 0.3528 * 1.4  # mm: 1.4 times the type size
    placed = []
    for number, paragraphs in enumerate(pages, start=1):
        pdf.add_page()
        if header:
            pdf.cell(0, line, header, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(line)
        for text in paragraphs:
            top = pdf.get_y()
            pdf.multi_cell(0, line, text, new_x="LMARGIN", new_y="NEXT")
            placed.append(Placed(number, text, pdf.l_margin / pdf.w, top / pdf.h, (pdf.w - pdf.r_margin) / pdf.w,
                                 pdf.get_y() / pdf.h))
            pdf.ln(line / 2)
    Path(path).write_bytes(bytes(pdf.output()))
    return placed


# --- end of PDFs with text where the caller knows it is ---
