"""HTML for the chat bubbles and the sources panel.

Everything a document or a user wrote is escaped before it is placed (`safe`): the only markup in
a bubble is what this module adds (citation links, line breaks, the stopped/queued/note marks).
"""

from __future__ import annotations

import re
from html import escape

from rag.app.collections import DEFAULT_COLLECTION
from rag.app.web import left_out, without_bidi
from rag.core.records import ANSWER_KIND_LABELS, Answer, Hit
from ui.conversations import sources_of

CSS = """
.rag-sources { font-size: 0.92rem; }
.rag-source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 10px; margin: 0 0 10px;
              scroll-margin: 80px; transition: box-shadow 0.3s, background 0.3s; }
.rag-source.rag-cited { border-color: #f59e0b; }
.rag-source.rag-flash { box-shadow: 0 0 0 3px #2563eb; background: rgba(37, 99, 235, 0.08); }
.rag-source h4 { margin: 0 0 4px; font-size: 0.95rem; }
.rag-meta { color: var(--body-text-color-subdued); font-size: 0.8rem; margin-bottom: 6px; }
.rag-passage { white-space: pre-wrap; line-height: 1.45; }
.rag-passage mark { background: #fde68a; color: #111; padding: 0 1px; border-radius: 2px; }
.rag-turn.rag-hidden { display: none; }
.rag-more > summary { cursor: pointer; color: var(--body-text-color-subdued); margin: 4px 0 8px; }
.rag-short { font-size: 1.05rem; }
.rag-kind { font-size: 0.8rem; opacity: 0.7; margin-top: 0.4rem; }
.rag-abstained { border-left: 4px solid #f59e0b; background: rgba(245, 158, 11, 0.12); padding: 8px 10px; margin-bottom: 10px; }
.rag-docs table { width: 100%; border-collapse: collapse; font-size: 0.88rem; }
.rag-docs th, .rag-docs td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--border-color-primary); vertical-align: top; }
.rag-docs .rag-meta { margin: 0; }
.rag-error { border-left: 4px solid #dc2626; background: rgba(220, 38, 38, 0.1); padding: 8px 10px; }
.rag-notice { border-left: 4px solid #2563eb; background: rgba(37, 99, 235, 0.1); padding: 8px 10px; margin-bottom: 10px; }
.rag-cite { font-weight: 600; text-decoration: none; cursor: pointer; }
.rag-stopped, .rag-queued { color: var(--body-text-color-subdued); font-size: 0.85em; font-style: italic; }
.rag-unverified { opacity: 0.55; }
.rag-checking { color: var(--body-text-color-subdued); font-size: 0.85em; font-style: italic; }
.rag-left-out { color: var(--body-text-color-subdued); font-size: 0.85em; border-left: 3px solid #f59e0b;
                padding-left: 6px; margin-top: 6px; }
.rag-note { color: var(--body-text-color-subdued); font-size: 0.85em; border-left: 3px solid #2563eb;
            padding-left: 6px; margin-top: 6px; }
.rag-open { margin-left: 6px; font-size: 0.78rem; font-weight: 500; padding: 1px 8px; border-radius: 6px; cursor: pointer;
            border: 1px solid var(--border-color-primary); background: var(--background-fill-secondary); }
.rag-open:focus-visible, .rag-viewer button:focus-visible, .rag-viewer a:focus-visible { outline: 2px solid #2563eb; }
.rag-viewer { position: fixed; top: 0; right: 0; bottom: 0; width: min(880px, 62vw); z-index: 1000; display: flex;
              flex-direction: column; background: var(--background-fill-primary, #fff); color: var(--body-text-color);
              border-left: 1px solid var(--border-color-primary); box-shadow: -6px 0 24px rgba(0, 0, 0, 0.18); }
.rag-viewer[hidden] { display: none; }
.rag-viewer-head { display: flex; align-items: center; gap: 8px; padding: 10px 12px 0; }
.rag-viewer-title { flex: 1; margin: 0; font-size: 1.05rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.rag-viewer-section { margin: 2px 12px 0; color: var(--body-text-color-subdued); font-size: 0.85rem; }
.rag-viewer-bar { display: flex; align-items: center; gap: 6px; padding: 8px 12px; flex-wrap: wrap;
                  border-bottom: 1px solid var(--border-color-primary); }
.rag-viewer-bar button, .rag-viewer-close { padding: 2px 10px; border-radius: 6px; cursor: pointer;
                  border: 1px solid var(--border-color-primary); background: var(--background-fill-secondary); }
.rag-viewer-bar button:disabled { opacity: 0.45; cursor: default; }
.rag-viewer-where, .rag-viewer-zoom { font-size: 0.85rem; min-width: 4.5em; text-align: center; }
.rag-viewer-original { margin-left: auto; font-size: 0.85rem; }
.rag-viewer-original[hidden] { display: none; }
.rag-viewer-note { margin: 6px 12px 0; font-size: 0.82rem; border-left: 3px solid #2563eb; padding-left: 6px; }
.rag-viewer-error { margin: 6px 12px 0; border-left: 4px solid #dc2626; background: rgba(220, 38, 38, 0.1); padding: 6px 8px; }
.rag-viewer-body { flex: 1; overflow: auto; padding: 12px; background: var(--background-fill-secondary, #f3f4f6); }
.rag-viewer-page { position: relative; margin: 0 auto; box-shadow: 0 1px 6px rgba(0, 0, 0, 0.25); background: #fff; }
.rag-viewer-page canvas, .rag-viewer-page img { display: block; }
.rag-viewer-box { position: absolute; background: rgba(250, 204, 21, 0.38); mix-blend-mode: multiply; border-radius: 2px;
                  padding: 0; pointer-events: none; }
.rag-viewer-text { white-space: pre-wrap; word-wrap: break-word; line-height: 1.5; margin: 0; padding: 12px;
                   background: var(--background-fill-primary, #fff); font-family: inherit; }
.rag-viewer-text mark { background: #fde68a; color: #111; border-radius: 2px; }
.rag-viewer-break { color: var(--body-text-color-subdued); font-size: 0.8em; }
#status { min-height: 1.4em; }
#status p { color: var(--body-text-color-subdued); font-size: 0.8rem; margin: 0; }
"""

EMPTY = '<div class="rag-sources"><p class="rag-meta">Retrieved passages appear here.</p></div>'
SEARCHING = '<div class="rag-sources"><p class="rag-meta">Searching…</p></div>'
_MARKER = re.compile(r"\[(\d+)\]")


def safe(text: object, *, quote: bool = True) -> str:
    """Text a document, a user or a model wrote, for HTML: escaped, and without the controls that
    would reorder what follows it on the page (a quote shown reversed)."""
    return escape(without_bidi(str(text)), quote=quote)


# --- chat bubbles ---
# The chat's sanitizer keeps tags and class attributes but drops data-* and aria-* ones, so the
# marks below are told apart by class.

def text_html(text: str) -> str:
    """User or document text as text: escaped, line breaks kept."""
    return safe(text, quote=False).replace("\n", "<br>")


def answer_html(turn: dict, index: int = 0, *, live: bool = False) -> str:
    """An answer bubble: escaped text whose [n] markers (the citations it has) link to passage n of
    answer `index` in the sources panel. The model's words as they stream in (and what a Stop kept)
    are not yet checked against the passages: they are shown dimmed as such, and the verified
    answer replaces them, saying how many sentences it left out."""
    cited = {m for s in turn.get("sources", []) for m in s.get("markers", [])}

    def link(m: re.Match) -> str:
        n = int(m.group(1))
        if n not in cited:
            return m.group(0)
        return f'<a class="rag-cite" href="#rag-src-{index}-{n}">[{n}]</a>'

    text = turn.get("answer", "")
    if turn.get("status") == "error":
        body = text_html(text)
    else:
        body = _MARKER.sub(link, text_html(text))  # escaping leaves "[n]" alone, so links wrap escaped text
        short = turn.get("short")
        if short and not turn.get("abstained"):
            # The few words asked for lead, with their marker; the quote that proves them follows.
            lead = _MARKER.sub(link, f"[{int(short['marker'])}]")
            body = f'<strong class="rag-short">{text_html(short["text"])}</strong> {lead}<br><br>{body}'
    if live and not text:
        body = '<span class="rag-queued">…</span>'
    elif live:
        body = f'<span class="rag-unverified">{text_html(text)}</span> <span class="rag-checking">checking…</span>'
    if turn.get("status") == "stopped":
        if text:  # stopped before the answer was verified
            body = f'<span class="rag-unverified">{text_html(text)}</span>'
        body += ' <span class="rag-stopped">■ stopped (not checked)</span>'
    if turn.get("reason") and turn.get("kind") in ANSWER_KIND_LABELS and turn.get("status") == "done":
        # Why the reader sees a short answer, a quote or none: the evidence behind the choice.
        # (Marked by class: the chat's sanitizer drops data-* attributes.)
        body += (f'<div class="rag-kind rag-kind-{turn["kind"]}">'
                 f'{ANSWER_KIND_LABELS[turn["kind"]]}: {safe(turn["reason"])}</div>')
    if turn.get("dropped") and turn.get("status") == "done":
        body += f'<div class="rag-left-out">{escape(left_out(int(turn["dropped"])))}</div>'
    if turn.get("note"):
        body += f'<div class="rag-note">{safe(turn["note"])}</div>'
    return body


def messages(turns: list[dict], live: dict | None = None, queued: list[str] = ()) -> list[dict]:
    out: list[dict] = []
    for i, turn in enumerate(turns):
        out += [{"role": "user", "content": text_html(turn["question"])},
                {"role": "assistant", "content": answer_html(turn, i)}]
    if live is not None:
        out += [{"role": "user", "content": text_html(live["question"])},
                {"role": "assistant", "content": answer_html(live, len(turns), live=True)}]
    for question in queued:
        out.append({"role": "user", "content": text_html(question)
                    + ' <span class="rag-queued rag-queued-q">(queued: answered next)</span>'})
    return out


# --- the sources panel ---

def _meta(source: dict) -> str:
    parts = [safe(source["doc_id"])]
    if source.get("date"):
        parts.append(safe(source["date"]))
    if source.get("pages"):
        parts.append(f'<span data-testid="pages">{safe(source["pages"])}</span>')
    if source.get("section"):
        parts.append(safe(source["section"]))
    parts.append(f"characters {int(source['start'])}–{int(source['end'])}")
    parts.append(f"retrieval score {float(source['score']):.4f}")
    return " · ".join(parts)


def marked_text(text: str, spans: list) -> str:
    """The text with the given spans (offsets into it) wrapped in <mark>, all of it escaped."""
    out, pos = [], 0
    for start, end in sorted((int(s), int(e)) for s, e in spans):
        start, end = max(start, pos), min(end, len(text))
        if start >= end:
            continue
        out.append(safe(text[pos:start]))
        out.append(f"<mark>{safe(text[start:end])}</mark>")
        pos = end
    out.append(safe(text[pos:]))
    return "".join(out)


def passage_html(hit: Hit, spans: list[tuple[int, int]]) -> str:
    """The chunk text with the given spans (chunk offsets) wrapped in <mark>."""
    return marked_text(hit.chunk.text, spans)


def link(url: object, text: str) -> str:
    """`text` (already HTML) as a link to `url` when that is an http(s) URL; otherwise `text`
    alone, so a document cannot make the page run script through a link."""
    url = str(url or "").strip()
    if not url.lower().startswith(("http://", "https://")) or any(c.isspace() or ord(c) < 32 for c in url):
        return text
    return f'<a href="{safe(url)}" target="_blank" rel="noopener noreferrer nofollow" data-testid="source-link">{text}</a>'


def _offset(value: object) -> int | None:
    """A stored offset or page number, if it is one (the browser's copy may be edited by hand)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def cites_of(source: dict) -> list[tuple[int, int, int, int | None]]:
    """(marker, start, end, page) of each quote of a passage, in document offsets. A turn saved
    before quotes were kept that way opens at its first quote inside the passage, else the passage."""
    out = []
    for c in source.get("cites") or []:
        if isinstance(c, dict):
            marker, start, end = _offset(c.get("marker")), _offset(c.get("start")), _offset(c.get("end"))
            if marker is not None and start is not None and end is not None and start < end:
                out.append((marker, start, end, _offset(c.get("page"))))
    if out:
        return out
    start, end = _offset(source.get("start")), _offset(source.get("end"))
    if start is None or end is None:
        return []
    spans = source.get("spans") or []
    if spans and isinstance(spans[0], list) and len(spans[0]) == 2 and all(_offset(v) is not None for v in spans[0]):
        start, end = start + spans[0][0], start + spans[0][1]
    return [(int(m), start, end, None) for m in source.get("markers", [])] or [(0, start, end, None)]


def open_button(source: dict, collection: str) -> str:
    """The card's control that opens its document in the source viewer (ui/viewer.js) at its first
    quote (the passage itself when nothing in it is cited)."""
    cites = cites_of(source)
    if not cites:
        return ""
    _, start, end, page = cites[0]
    return (f'<button type="button" class="rag-open" data-testid="open-source" data-collection="{safe(collection)}" '
            f'data-doc="{safe(source["doc_id"])}" data-start="{start}" data-end="{end}" '
            f'data-page="{"" if page is None else page}" aria-label="Open {safe(source.get("title") or source["doc_id"])} '
            f'at the quote">Open</button>')


def _card(source: dict, index: int, collection: str = DEFAULT_COLLECTION) -> str:
    markers = [int(m) for m in source.get("markers", [])]
    label = "".join(f"[{m}]" for m in markers) + " " if markers else ""
    title = link(source.get("url"), safe(source.get("title") or source["doc_id"]))
    attrs = (f' id="rag-src-{index}-{markers[0]}" data-markers="{" ".join(map(str, markers))}" tabindex="-1"'
             if markers else "")
    if markers:  # where each marker's quote is, for a click on [n] in the answer
        cites = " ".join(f'{m}:{s}:{e}:{"" if p is None else p}' for m, s, e, p in cites_of(source))
        attrs += f' data-collection="{safe(collection)}" data-doc="{safe(source["doc_id"])}" data-cites="{cites}"'
    classes = "rag-source rag-cited" if markers else "rag-source"
    return (f'<div class="{classes}" data-testid="source"{attrs}>'
            f'<h4>{label}{title} {open_button(source, collection)}</h4><div class="rag-meta">{_meta(source)}</div>'
            f'<div class="rag-passage">{marked_text(str(source.get("text", "")), source.get("spans", []))}</div></div>')


def turn_sources(turn: dict, index: int = 0, collection: str = DEFAULT_COLLECTION) -> str:
    """All retrieved passages of one answer: cited ones first and open, the others folded below."""
    if turn.get("status") == "error":
        message = turn.get("answer", "").removeprefix("⚠ ")
        return f'<div class="rag-error" data-testid="error">{safe(message)}</div>'
    sources = turn.get("sources", [])
    cited = [s for s in sources if s.get("markers")]
    others = [s for s in sources if not s.get("markers")]
    blocks = []
    if turn.get("abstained"):
        blocks.append('<div class="rag-abstained" data-testid="abstained"><strong>Not in the documents.</strong> '
                      'No retrieved passage supports an answer. Closest passages:</div>')
        cited, others = others[:3], others[3:]
    if not sources:
        blocks.append('<p class="rag-meta">The answer was stopped before its passages were checked.</p>'
                      if turn.get("status") == "stopped" else '<p class="rag-meta">No passages were retrieved.</p>')
    blocks += [_card(s, index, collection) for s in cited]
    if others:
        noun = "passage" if len(others) == 1 else "passages"
        more = "other retrieved" if cited else "retrieved"
        blocks.append(f'<details class="rag-more" data-testid="more-sources"><summary>{len(others)} {more} {noun}'
                      f"</summary>{''.join(_card(s, index, collection) for s in others)}</details>")
    return "\n".join(blocks)


def sources_panel(turns: list[dict], collection: str = DEFAULT_COLLECTION) -> str:
    """The passages of every answer of the conversation (asked in `collection`); the last answer's
    are shown, and a click on an earlier answer's marker shows that answer's (ui/cite.js), with no
    round trip to the server."""
    if not turns:
        return EMPTY
    last = len(turns) - 1
    blocks = ['<div class="rag-sources">']
    for i, turn in enumerate(turns):
        hidden = "" if i == last else " rag-hidden"
        heading = (f'<p class="rag-meta rag-for">Passages for: {safe(turn.get("question", ""), quote=False)}</p>'
                   if len(turns) > 1 else "")
        blocks.append(f'<div class="rag-turn{hidden}" data-turn="{i}">{heading}{turn_sources(turn, i, collection)}</div>')
    blocks.append("</div>")
    return "\n".join(blocks)


def sources_html(answer: Answer, collection: str = DEFAULT_COLLECTION) -> str:
    """The panel for an `Answer` (all its retrieved passages)."""
    return sources_panel([{"sources": sources_of(answer), "abstained": answer.abstained}], collection)


def error_html(message: str) -> str:
    return f'<div class="rag-sources"><div class="rag-error" data-testid="error">{safe(message)}</div></div>'


def with_notice(html: str, notice: str | None) -> str:
    """`html` with a notice above it (e.g. why a newer index version is not in use)."""
    if not notice:
        return html
    return f'<div class="rag-notice" data-testid="notice">{safe(notice)}</div>\n{html}'


def status_html(text: str) -> str:
    return f'<p role="status">{safe(text)}</p>' if text else ""
