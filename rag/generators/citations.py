"""Check a generated answer against the passages it was given.

A sentence is kept only when the passages it cites support each of its claims
(`rag.generators.claims`): markers pointing to passages that were not given are removed; a
sentence whose own markers do not support it is re-attributed to a passage that does, or dropped,
and the answer counts what was dropped so it can say so. Markers in the returned text are
renumbered 1..n in order of appearance, each mapped to a `Citation` holding the exact supporting
quote and its span in the document.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.core.pages import span_pages
from rag.core.records import Citation, Hit
from rag.generators.claims import ClaimSettings, check
from rag.generators.prompts import NOT_IN_DOCUMENTS
from rag.text.analysis import analyze
from rag.text.sentences import split_sentences

_MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
_ABSTAIN = re.compile(
    r"(documents?|passages?|sources?|context|texts?|articles?)\s+(do(es)?\s*n[o']t|did\s*n[o']t|does not|do not)\s+"
    r"(say|mention|contain|state|specify|provide|include|address|answer)"
    r"|\bno (information|mention|answer)\b|\bnot (mentioned|stated|specified|provided|in the (documents|passages))\b"
    r"|\bcannot (be )?(answer|determine|found)|\bcan't (answer|determine|tell)|\b(is|are) unknown\b"
    r"|\bI don't know\b|\bI do not know\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class VerifiedText:
    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    notes: tuple[str, ...]
    dropped: int = 0  # sentences removed because no passage supports them


def with_markers(sentence: str, markers: list[int]) -> str:
    """Markers go before the closing punctuation: 'formed in the late 1990s [1].'"""
    tags = "".join(f"[{m}]" for m in markers)
    sentence = sentence.rstrip()
    m = re.search(r"[.!?]+[\"'”’)\]]*$", sentence)
    if m and m.start() > 0:
        return f"{sentence[:m.start()]} {tags}{sentence[m.start():]}"
    return f"{sentence} {tags}"


def strip_markers(text: str) -> str:
    """The text without `[n]` markers: a document's own reference marks are not our citations."""
    return _MARKER.sub("", text)


def is_abstention(text: str) -> bool:
    return bool(_ABSTAIN.search(text))


def make_citation(marker: int, hit: Hit, start: int, end: int, score: float) -> Citation:
    c = hit.chunk
    first, last = span_pages(c.metadata, c.start + start, c.start + end)
    return Citation(marker=marker, chunk_id=c.id, doc_id=c.doc_id, start=c.start + start, end=c.start + end,
                    quote=c.text[start:end], title=c.title, support=score, page_start=first, page_end=last,
                    url=str(c.metadata.get("url") or ""))


def verify(raw: str, passages: Sequence[Hit], settings: ClaimSettings | None = None) -> VerifiedText:
    settings = settings or ClaimSettings()
    raw = raw.strip()
    notes: list[str] = []
    if not raw:
        return VerifiedText(NOT_IN_DOCUMENTS, (), True, ("the model returned an empty answer",))
    citations: list[Citation] = []
    by_span: dict[tuple[str, int, int], int] = {}
    kept: list[str] = []
    dropped = 0
    for s, e in split_sentences(raw):
        sentence = raw[s:e]
        claim = strip_markers(sentence).strip()
        if not analyze(claim):
            continue
        if is_abstention(claim):
            continue
        given = [int(n) for group in _MARKER.findall(sentence) for n in re.split(r"\s*,\s*", group)]
        invalid = sorted({n for n in given if not 1 <= n <= len(passages)})
        if invalid:
            notes.append(f"removed citation(s) {invalid} that point to no passage")
        candidates = [n for n in dict.fromkeys(given) if 1 <= n <= len(passages)]
        verdict = check(claim, [passages[n - 1] for n in candidates], candidates, settings)
        if not verdict.supports:
            # The model may have cited the wrong passage or none: accept the best one that supports it.
            others = [check(claim, [h], [n], settings) for n, h in enumerate(passages, 1) if n not in candidates]
            others = [v for v in others if v.supports]
            if others:
                reason, verdict = verdict.reason, max(others, key=lambda v: v.score)
                if candidates:
                    notes.append(f"re-attributed a sentence cited as {candidates} to passage "
                                 f"{verdict.supports[0].passage} ({reason})")
            else:
                dropped += 1
                why = verdict.reason if candidates else "it cites no passage"
                notes.append(f"removed a sentence no passage supports ({why}): {claim!r}")
                continue
        markers = []
        for found in verdict.supports:
            hit = passages[found.passage - 1]
            key = (hit.chunk.id, found.start, found.end)
            if key not in by_span:
                by_span[key] = len(citations) + 1
                citations.append(make_citation(by_span[key], hit, found.start, found.end, found.score))
            markers.append(by_span[key])
        kept.append(with_markers(claim, list(dict.fromkeys(markers))))
    if not kept:
        return VerifiedText(NOT_IN_DOCUMENTS, (), True, tuple(notes), dropped)
    return VerifiedText(" ".join(kept), tuple(citations), False, tuple(notes), dropped)


def left_out(dropped: int) -> str:
    """What a reader is told about the sentences the check removed ("" when none were)."""
    if dropped <= 0:
        return ""
    if dropped == 1:
        return "1 sentence was left out: its cited passages do not support it."
    return f"{dropped} sentences were left out: their cited passages do not support them."
