"""A fetched web page → its main text, title and date (trafilatura), headings kept as sections.

Navigation, headers, footers, cookie banners and link lists are left out; a page that is nothing
but those has no main text and is refused rather than indexed as a list of menu words. Only the
HTML as served is read: scripts are not run, so a page that builds its text in the browser reads
as empty. The date is the one the page declares (its metadata), never a guess from a copyright line.
"""

from __future__ import annotations

from rag.core.errors import DocumentError
from rag.ingest.anchors import Extracted, Section, mark, scrub


def extract_web_page(data: bytes, url: str) -> Extracted:
    import trafilatura
    from lxml import etree

    if b"\x00" in data[:8192]:
        raise DocumentError("binary body (contains NUL bytes), not an HTML page")
    xml = trafilatura.extract(data, url=url, output_format="xml", with_metadata=True, favor_precision=True,
                              include_comments=False, include_images=False,
                              date_extraction_params={"extensive_search": False, "original_date": True})
    if not xml:
        raise DocumentError("no main text on the page (only navigation and boilerplate, or text that a "
                            "script writes in the browser)")
    root = etree.fromstring(xml.encode("utf-8"), parser=etree.XMLParser(resolve_entities=False, no_network=True))
    main = root.find("main")
    blocks: list[str] = []
    sections: list[Section] = []
    for node in main if main is not None else ():
        if node.tag == "head":
            heading = _text(node)
            if heading:
                rend = node.get("rend", "")
                level = int(rend[1]) if len(rend) == 2 and rend[0] == "h" and rend[1] in "123456" else 2
                blocks.append(mark("s", len(sections)) + heading)
                sections.append(Section(level, heading))
        elif node.tag == "list":
            blocks.append("\n".join(t for t in (_text(item) for item in node.iter("item")) if t))
        elif node.tag == "table":
            rows = (" | ".join(_text(cell) for cell in row.iter("cell")) for row in node.iter("row"))
            blocks.append("\n".join(r for r in rows if r.strip(" |")))
        else:
            blocks.append(_text(node))
    text = "\n\n".join(b for b in blocks if b.strip())
    meta = {"date": root.get("date") or "", "byline": root.get("author") or ""}
    return Extracted(text, scrub(root.get("title") or "") or None, {k: v for k, v in meta.items() if v},
                     sections=tuple(sections))


def _text(node) -> str:
    return scrub(" ".join("".join(node.itertext()).split()))
