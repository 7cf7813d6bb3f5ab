"""Markdown and HTML → text whose headings are plain lines (no `#` markers), each anchored as a
section, plus the metadata the page declares (title, date, author)."""

from __future__ import annotations

import re

from rag.ingest.anchors import Extracted, Section, mark, scrub
from rag.ingest.cleaning import parse_date

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_DROP_TAGS = ("script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe", "svg",
              "template", "button", "select", "input", "textarea", "object", "embed", "canvas")
_BLOCK_TAGS = ("p", "div", "section", "article", "main", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol",
               "blockquote", "pre", "table", "tr", "figure", "figcaption", "dd", "dt", "hr", "address", "time")
_HEADINGS = "h1, h2, h3, h4, h5, h6"


def extract_markdown(text: str) -> Extracted:
    text = scrub(text)
    meta: dict = {}
    m = _FRONT_MATTER.match(text)
    if m:
        for line in m.group(1).splitlines():
            key, _, value = line.partition(":")
            if key.strip().lower() in ("title", "date", "author") and value.strip():
                meta[key.strip().lower()] = value.strip().strip("\"'")
        text = text[m.end():]
    if "date" in meta:
        iso = parse_date(meta["date"])
        meta["date_text"], meta["date"] = meta["date"], iso or meta["date"]
    if "author" in meta:
        meta["byline"] = meta.pop("author")
    lines = text.split("\n")
    out: list[str] = []
    sections: list[Section] = []
    in_fence = False
    for line in lines:
        if _FENCE.match(line):
            in_fence = not in_fence
            out.append(line)
            continue
        if in_fence:
            out.append(line)
            continue
        atx = _ATX.match(line)
        if atx:
            heading = (atx.group(2) or "").strip()
            if heading:
                out.append(mark("s", len(sections)) + heading)
                sections.append(Section(len(atx.group(1)), heading))
            else:
                out.append("")
            continue
        setext = _SETEXT.match(line)
        if setext and out and out[-1].strip() and (len(out) < 2 or not out[-2].strip()) and not _ATX.match(out[-1]):
            heading = out[-1].strip()
            out[-1] = mark("s", len(sections)) + heading
            sections.append(Section(1 if setext.group(1)[0] == "=" else 2, heading))
            continue
        if setext and len(setext.group(1)) >= 3 and setext.group(1)[0] == "-":
            out.append("")  # a thematic break
            continue
        out.append(line)
    first_h1 = next((s.heading for s in sections if s.level == 1), None)
    title = meta.pop("title", None) or first_h1
    return Extracted("\n".join(out), title, meta, sections=tuple(sections))


def extract_html(html: str) -> Extracted:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(scrub(html))

    def meta_content(*selectors: str) -> str | None:
        for sel in selectors:
            node = tree.css_first(sel)
            value = node and (node.attributes.get("content") or node.attributes.get("datetime"))
            if value and value.strip():
                return value.strip()
        return None

    title_node = tree.css_first("title")
    title = meta_content('meta[property="og:title"]') or (title_node.text(strip=True) if title_node else None)
    date_value = meta_content('meta[property="article:published_time"]', 'meta[name="date"]', "time[datetime]")
    meta = {"byline": meta_content('meta[name="author"]')}
    if date_value:
        meta["date"] = parse_date(date_value[:10]) or date_value
    tree.strip_tags(list(_DROP_TAGS))
    for node in tree.css('[role="navigation"], [role="banner"], [role="contentinfo"], [aria-hidden="true"]'):
        node.decompose()
    root = tree.css_first("article") or tree.css_first("main") or tree.body or tree.root
    if root is None:
        return Extracted("", title, meta)
    sections: list[Section] = []
    for tag in _BLOCK_TAGS:
        for node in root.css(tag):
            node.insert_before("\n\n")
            node.insert_after("\n\n")
    # After the block breaks, so each anchor lands at the start of its heading's line.
    for node in root.css(_HEADINGS):
        heading = " ".join(node.text(separator=" ", strip=False).split())
        if heading:
            node.insert_before(mark("s", len(sections)))
            sections.append(Section(int(node.tag[1]), heading))
    for node in root.css("br"):
        node.insert_before("\n")
    text = root.text(separator="", strip=False)
    if not title:
        title = next((s.heading for s in sections if s.level == 1), None)
    return Extracted(text, title, meta, sections=tuple(sections))
