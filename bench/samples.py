"""Real sample files of each format, written to a given path and sized by a parameter: the tests,
the fault bench and the readers benchmark all build their inputs here."""

from __future__ import annotations

import zipfile
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from html import escape
from pathlib import Path

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
