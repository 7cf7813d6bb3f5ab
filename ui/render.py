"""HTML for the sources panel. Every piece of document text is escaped before it is placed."""

from __future__ import annotations

from html import escape

from rag.records import Answer, Hit

CSS = """
.rag-sources { font-size: 0.92rem; }
.rag-source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 10px; margin: 0 0 10px; }
.rag-source h4 { margin: 0 0 4px; font-size: 0.95rem; }
.rag-meta { color: var(--body-text-color-subdued); font-size: 0.8rem; margin-bottom: 6px; }
.rag-passage { white-space: pre-wrap; line-height: 1.45; }
.rag-passage mark { background: #fde68a; color: #111; padding: 0 1px; border-radius: 2px; }
.rag-short { font-size: 1.05rem; margin: 0 0 10px; }
.rag-abstained { border-left: 4px solid #f59e0b; background: rgba(245, 158, 11, 0.12); padding: 8px 10px; margin-bottom: 10px; }
.rag-error { border-left: 4px solid #dc2626; background: rgba(220, 38, 38, 0.1); padding: 8px 10px; }
"""

EMPTY = '<div class="rag-sources"><p class="rag-meta">Cited passages appear here.</p></div>'


def _meta(hit: Hit) -> str:
    c = hit.chunk
    parts = [escape(c.doc_id)]
    if c.metadata.get("date"):
        parts.append(escape(str(c.metadata["date"])))
    parts.append(f"characters {c.start}–{c.end}")
    parts.append(f"retrieval score {hit.score:.4f}")
    return " · ".join(parts)


def passage_html(hit: Hit, spans: list[tuple[int, int]]) -> str:
    """The chunk text with the given spans (chunk offsets) wrapped in <mark>."""
    text = hit.chunk.text
    out, pos = [], 0
    for start, end in sorted(spans):
        start, end = max(start, pos), min(end, len(text))
        if start >= end:
            continue
        out.append(escape(text[pos:start]))
        out.append(f"<mark>{escape(text[start:end])}</mark>")
        pos = end
    out.append(escape(text[pos:]))
    return "".join(out)


def sources_html(answer: Answer) -> str:
    hits = {h.chunk.id: h for h in answer.hits}
    blocks = ['<div class="rag-sources">']
    if answer.abstained:
        blocks.append('<div class="rag-abstained" data-testid="abstained"><strong>Not in the documents.</strong> '
                      'No retrieved passage supports an answer. Closest passages:</div>')
        for hit in answer.hits[:3]:
            blocks.append(_block(None, hit, []))
    else:
        blocks.append(_short_answer_html(answer))
        by_chunk: dict[str, list] = {}
        for c in answer.citations:
            by_chunk.setdefault(c.chunk_id, []).append(c)
        for chunk_id, cites in by_chunk.items():
            hit = hits.get(chunk_id)
            if hit is None:
                continue
            spans = [(c.start - hit.chunk.start, c.end - hit.chunk.start) for c in cites]
            blocks.append(_block([c.marker for c in cites], hit, spans))
    blocks.append("</div>")
    return "\n".join(blocks)


def _block(markers: list[int] | None, hit: Hit, spans: list[tuple[int, int]]) -> str:
    label = "".join(f"[{m}]" for m in markers) + " " if markers else ""
    title = escape(hit.chunk.title or hit.chunk.doc_id)
    return (f'<div class="rag-source" data-testid="source">'
            f"<h4>{label}{title}</h4><div class=\"rag-meta\">{_meta(hit)}</div>"
            f'<div class="rag-passage">{passage_html(hit, spans)}</div></div>')


def answer_message(answer: Answer) -> str:
    """The chat message: the short answer and its marker, then the supporting quote. The chat shows
    messages as plain text (document text is never rendered), so the bold lead is in the sources panel."""
    if answer.abstained or answer.short_answer is None:
        return answer.text
    return f"{answer.short_answer.text} [{answer.short_answer.marker}]\n\n{answer.text}"


def _short_answer_html(answer: Answer) -> str:
    s = answer.short_answer
    if answer.abstained or s is None:
        return ""
    return f'<div class="rag-short" data-testid="short-answer"><strong>{escape(s.text)}</strong> [{s.marker}]</div>'


def error_html(message: str) -> str:
    return f'<div class="rag-sources"><div class="rag-error" data-testid="error">{escape(message)}</div></div>'
