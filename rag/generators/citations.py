"""Check a generated answer against the passages it was given.

A sentence is kept only when a passage supports it: at least `MIN_SUPPORT` (60%) of its
content words (stop words removed, stemmed) occur in one sentence, or two adjacent sentences,
of the passage. Markers pointing to passages that were not given are removed; a sentence whose
own markers do not support it is re-attributed to a passage that does, or dropped. Markers in the
returned text are renumbered 1..n in order of appearance, each mapped to a `Citation` holding
the exact supporting quote and its span in the document. 60% lets a model paraphrase and add
connecting words, while a sentence bringing facts of its own (names, numbers) falls below it.
A passage sentence that tells the model to ignore its instructions is never evidence: a reply
echoing it ("PWNED") repeats the attack, not a fact of the documents.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.core.pages import span_pages
from rag.core.records import Citation, Hit
from rag.generators.prompts import NOT_IN_DOCUMENTS
from rag.text.analysis import analyze
from rag.text.sentences import split_sentences

MIN_SUPPORT = 0.6
_MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
_ABSTAIN = re.compile(
    r"(documents?|passages?|sources?|context|texts?|articles?)\s+(do(es)?\s*n[o']t|did\s*n[o']t|does not|do not)\s+"
    r"(say|mention|contain|state|specify|provide|include|address|answer)"
    r"|\bno (information|mention|answer)\b|\bnot (mentioned|stated|specified|provided|in the (documents|passages))\b"
    r"|\bcannot (be )?(answer|determine|found)|\bcan't (answer|determine|tell)|\b(is|are) unknown\b"
    r"|\bI don't know\b|\bI do not know\b",
    re.IGNORECASE,
)
_INJECTION = re.compile(
    r"\b(ignore|disregard|forget)\s+(all\s+|any\s+)?(of\s+)?(the\s+|your\s+)?(previous|prior|above|earlier|preceding)\s+"
    r"(instructions?|rules|directions|prompts?)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class VerifiedText:
    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    notes: tuple[str, ...]


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


def support(claim: str, source: str) -> float:
    """Share of the claim's content words that the source contains."""
    words = set(analyze(claim))
    if not words:
        return 0.0
    return len(words & set(analyze(source))) / len(words)


def best_span(claim: str, hit: Hit) -> tuple[float, int, int]:
    """(support, start, end) of the best supporting sentence or pair of sentences, in chunk offsets."""
    text = hit.chunk.text
    spans = split_sentences(text) or [(0, len(text))]
    evidence = [not _INJECTION.search(text[s:e]) for s, e in spans]
    best = (0.0, spans[0][0], spans[0][1])
    for i, (s, e) in enumerate(spans):
        if not evidence[i]:
            continue
        score = support(claim, text[s:e])
        if score > best[0]:
            best = (score, s, e)
        if i + 1 < len(spans) and evidence[i + 1]:
            pair = support(claim, text[s:spans[i + 1][1]])
            if pair > best[0] + 0.15:  # a second sentence must add real support to widen the quote
                best = (pair, s, spans[i + 1][1])
    return best


def make_citation(marker: int, hit: Hit, start: int, end: int, score: float) -> Citation:
    c = hit.chunk
    first, last = span_pages(c.metadata, c.start + start, c.start + end)
    return Citation(marker=marker, chunk_id=c.id, doc_id=c.doc_id, start=c.start + start, end=c.start + end,
                    quote=c.text[start:end], title=c.title, support=score, page_start=first, page_end=last)


def verify(raw: str, passages: Sequence[Hit], *, min_support: float = MIN_SUPPORT) -> VerifiedText:
    raw = raw.strip()
    notes: list[str] = []
    if not raw:
        return VerifiedText(NOT_IN_DOCUMENTS, (), True, ("the model returned an empty answer",))
    citations: list[Citation] = []
    by_span: dict[tuple[str, int, int], int] = {}
    kept: list[str] = []
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
        supported = []
        for n in candidates:
            score, cs, ce = best_span(claim, passages[n - 1])
            if score >= min_support:
                supported.append((n, score, cs, ce))
        if not supported:
            # The model may have cited the wrong passage or none: accept the best one that supports it.
            scored = [(n, *best_span(claim, h)) for n, h in enumerate(passages, 1)]
            scored = [x for x in scored if x[1] >= min_support]
            if scored:
                supported = [max(scored, key=lambda x: x[1])]
                if candidates:
                    notes.append(f"re-attributed a sentence cited as {candidates} to passage {supported[0][0]}")
            else:
                notes.append(f"removed a sentence no passage supports: {claim!r}")
                continue
        markers = []
        for n, score, cs, ce in supported:
            key = (passages[n - 1].chunk.id, cs, ce)
            if key not in by_span:
                by_span[key] = len(citations) + 1
                citations.append(make_citation(by_span[key], passages[n - 1], cs, ce, score))
            markers.append(by_span[key])
        kept.append(with_markers(claim, list(dict.fromkeys(markers))))
    if not kept:
        return VerifiedText(NOT_IN_DOCUMENTS, (), True, tuple(notes))
    return VerifiedText(" ".join(kept), tuple(citations), False, tuple(notes))
