"""E-books (.epub, EPUB 2 and 3) → the chapters' text in reading (spine) order, one section each.

An EPUB is a zip: META-INF/container.xml names the package document (OPF), whose metadata gives
the title, author, language and date, whose manifest lists the files, and whose spine orders the
chapters. Each chapter (XHTML) goes through the HTML reader, so scripts, styles and navigation
are never read. A chapter's section is titled by the table of contents (EPUB 3 nav or EPUB 2
NCX), else by the chapter's first heading; its own headings become sections below it.
Encrypted (DRM) books are refused: their chapters are ciphertext.
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import unquote

from rag.core.errors import DocumentError
from rag.ingest.anchors import Extracted, Section, locate, mark, scrub
from rag.ingest.markup import extract_html
from rag.ingest.zipxml import decode_markup, open_archive, parse_xml, read_part

_KIND = "e-book"
_CHAPTER_TYPES = frozenset({"application/xhtml+xml", "text/html", "application/xml"})
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_CONTAINER = "META-INF/container.xml"
# Font obfuscation (IDPF, Adobe) leaves the text readable; anything else encrypting a chapter is DRM.
_FONT_OBFUSCATION = ("http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC")


def extract_epub(data: bytes) -> Extracted:
    archive = open_archive(data, _KIND)
    with archive:
        names = set(archive.namelist())
        _refuse_drm(archive, names)
        opf_name = _package_name(archive, names)
        opf = parse_xml(read_part(archive, opf_name, _KIND), opf_name, _KIND)
        base = posixpath.dirname(opf_name)
        items = {}
        for item in _all(opf, "manifest", "item"):
            href = item.get("href")
            if item.get("id") and href:
                items[item.get("id")] = (_resolve(base, href), item.get("media-type", ""), item.get("properties", ""))
        toc = _toc(archive, names, opf, items)
        spine = [ref.get("idref") for ref in _all(opf, "spine", "itemref")]
        parts: list[str] = []
        sections: list[Section] = []
        chapters = 0
        for idref in spine:
            if idref not in items:
                continue
            path, media, properties = items[idref]
            if media not in _CHAPTER_TYPES or "nav" in properties.split() or path not in names:
                continue
            text = _chapter(decode_markup(read_part(archive, path, _KIND)), toc.get(path), sections)
            if text.strip():
                parts.append(text)
                chapters += 1
        if not chapters:
            raise DocumentError("an e-book without readable chapters (its spine lists no XHTML files)")
        metadata = _metadata(opf)
    title = metadata.pop("title", None) or next((s.heading for s in sections), None)
    return Extracted("\n\n".join(parts), title, {**metadata, "chapters": chapters}, sections=tuple(sections))


def _chapter(html: str, toc_title: str | None, sections: list[Section]) -> str:
    """The chapter's text with its section anchors numbered after those in `sections` (extended)."""
    page = extract_html(html)
    text, found = locate(page.text)
    start = len(text) - len(text.lstrip())
    own = sorted(((found[("s", i)], s) for i, s in enumerate(page.sections) if ("s", i) in found),
                 key=lambda m: m[0])
    first = own[0] if own and own[0][0] <= start else None
    title = toc_title or (first[1].heading if first else None)
    marks: list[tuple[int, Section]] = []
    if title:
        marks.append((start, Section(1, title)))
        if first and _same(first[1].heading, title):
            own = own[1:]  # the chapter's own heading is its title: one section, not two
    marks += [(pos, Section(max(s.level, 2) if title else s.level, s.heading)) for pos, s in own]
    out, pos = [], 0
    for at, section in sorted(marks, key=lambda m: m[0]):
        out.append(text[pos:at])
        out.append(mark("s", len(sections)))
        sections.append(section)
        pos = at
    out.append(text[pos:])
    return "".join(out)


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _package_name(archive, names: set[str]) -> str:
    if _CONTAINER in names:
        container = parse_xml(read_part(archive, _CONTAINER, _KIND), _CONTAINER, _KIND)
        for rootfile in container.iter("{*}rootfile"):
            path = rootfile.get("full-path")
            if path and path in names:
                return path
    found = sorted(n for n in names if n.lower().endswith(".opf"))
    if not found:
        raise DocumentError("not an e-book: no package document (META-INF/container.xml or an .opf file)")
    return found[0]


def _refuse_drm(archive, names: set[str]) -> None:
    name = "META-INF/encryption.xml"
    if name not in names:
        return
    root = parse_xml(read_part(archive, name, _KIND), name, _KIND)
    for data in root.iter("{*}EncryptedData"):
        method = next(data.iter("{*}EncryptionMethod"), None)
        algorithm = method.get("Algorithm", "") if method is not None else ""
        target = next(data.iter("{*}CipherReference"), None)
        uri = (target.get("URI", "") if target is not None else "").lower()
        if algorithm not in _FONT_OBFUSCATION and uri.endswith((".xhtml", ".html", ".htm", ".xml")):
            raise DocumentError("an encrypted (DRM-protected) e-book: its chapters cannot be read")


def _resolve(base: str, href: str) -> str:
    return posixpath.normpath(posixpath.join(base, unquote(href.split("#", 1)[0])))


def _all(root, parent: str, child: str):
    for node in root.iter("{*}" + parent):
        yield from node.iter("{*}" + child)


def _toc(archive, names: set[str], opf, items: dict) -> dict[str, str]:
    """Chapter file → its title in the table of contents (the first entry pointing into it)."""
    titles: dict[str, str] = {}
    nav = next((path for path, _, props in items.values() if "nav" in props.split()), None)
    if nav and nav in names:
        try:
            from lxml import html as lxml_html

            tree = lxml_html.fromstring(read_part(archive, nav, _KIND))
        except Exception:  # noqa: BLE001 - a broken table of contents: titles come from headings
            tree = None
        if tree is not None:
            navs = [n for n in tree.iter("nav") if "toc" in (n.get("{http://www.idpf.org/2007/ops}type") or
                                                              n.get("epub:type") or "")] or list(tree.iter("nav"))
            for node in navs[:1]:
                for link in node.iter("a"):
                    _add_title(titles, posixpath.dirname(nav), link.get("href"), link.text_content())
    spine = next(opf.iter("{*}spine"), None)
    ncx_id = spine.get("toc") if spine is not None else None
    ncx = items.get(ncx_id, (None,))[0] if ncx_id else None
    ncx = ncx or next((p for p, media, _ in items.values() if media == "application/x-dtbncx+xml"), None)
    if not titles and ncx and ncx in names:
        try:
            root = parse_xml(read_part(archive, ncx, _KIND), ncx, _KIND)
        except DocumentError:
            return titles
        for point in root.iter("{*}navPoint"):
            label = next(point.iter("{*}text"), None)
            content = next(point.iter("{*}content"), None)
            if label is not None and content is not None:
                _add_title(titles, posixpath.dirname(ncx), content.get("src"), label.text or "")
    return titles


def _add_title(titles: dict[str, str], base: str, href: str | None, text: str) -> None:
    title = " ".join(scrub(text or "").split())
    if href and title and not href.startswith(("http:", "https:", "mailto:")):
        titles.setdefault(_resolve(base, href), title)


def _metadata(opf) -> dict:
    meta: dict = {}
    block = next(opf.iter("{*}metadata"), None)
    if block is None:
        return meta

    def values(name: str) -> list[str]:
        return [" ".join(scrub(e.text or "").split()) for e in block.iter("{http://purl.org/dc/elements/1.1/}" + name)
                if (e.text or "").strip()]

    for key, name in (("title", "title"), ("language", "language")):
        found = values(name)
        if found:
            meta[key] = found[0]
    authors = values("creator")
    if authors:
        meta["byline"] = ", ".join(dict.fromkeys(authors))
    dates = values("date")
    if dates:
        meta["date_text"] = dates[0]
        if _ISO_DATE.match(dates[0]):
            meta["date"] = dates[0][:10]
    return meta
