"""Sentences and clauses with exact character spans: what chunking aligns to, what the answer
step scores and cites, and what the index stores a vector for."""

from __future__ import annotations

import re

# A sentence ends at . ! or ? (plus closing quotes/brackets) followed by whitespace and
# something that starts a sentence; line breaks always end one (titles, datelines, captions).
_SENTENCE_END = re.compile(r"""[.!?]+["'”’)\]]*(?=\s+["'“‘(\[]?[A-Z0-9])|\n+""")
# Words that end in a period without ending the sentence.
ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "gen", "col", "lt", "sgt", "capt",
    "gov", "sen", "rep", "rev", "vs", "etc", "inc", "ltd", "co", "corp", "no", "fig", "jan",
    "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "e.g", "i.e",
    "u.s", "u.k", "u.n", "a.m", "p.m",
}


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Character spans of the sentences in `text[start:end]`, whitespace trimmed off both ends."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _SENTENCE_END.finditer(text, start, end):
        stop = match.end() if match.group().strip() else match.start()
        if match.group().strip() and _ends_with_abbreviation(text, cursor, match.start()):
            continue
        append_trimmed(text, cursor, stop, spans)
        cursor = match.end()
    append_trimmed(text, cursor, end, spans)
    return spans


def _ends_with_abbreviation(text: str, sentence_start: int, dot: int) -> bool:
    word = re.search(r"([\w.]+)$", text[sentence_start:dot])
    if not word:
        return False
    token = word.group(1).lower().rstrip(".")
    return token in ABBREVIATIONS or (len(token) == 1 and token.isalpha())


def append_trimmed(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


CLAUSE_BREAK = re.compile(r",\s+|;\s+|:\s+|\s+[–—]\s+")


def clauses(sentence: str, min_words: int = 5) -> list[str]:
    """Comma/semicolon-separated parts long enough to carry a fact, when the sentence has several."""
    parts = [p.strip() for p in CLAUSE_BREAK.split(sentence)]
    merged: list[str] = []
    for p in parts:
        if merged and len(merged[-1].split()) < min_words:
            merged[-1] = f"{merged[-1]}, {p}"
        else:
            merged.append(p)
    return merged if len(merged) > 1 else []


def piece_spans(text: str) -> list[tuple[str, int, int]]:
    """The texts the extractive generator embeds for a passage, with their character spans:
    each sentence, then its clauses (the same strings the generator builds)."""
    out: list[tuple[str, int, int]] = []
    for s, e in split_sentences(text):
        sentence = text[s:e]
        out.append((sentence, s, e))
        parts_of = clauses(sentence)
        if not parts_of:
            continue
        # Where each stripped part lies, so a merged clause ("a, b") covers its parts' range.
        parts, cursor = [], 0
        for part in (p.strip() for p in CLAUSE_BREAK.split(sentence)):
            at = sentence.find(part, cursor)
            if at < 0:
                parts = []
                break
            parts.append((at, at + len(part)))
            cursor = at + len(part)
        spans = _merge_like_clauses(sentence, parts)
        if len(spans) == len(parts_of):
            out.extend((c, s + a, s + b) for c, (a, b) in zip(parts_of, spans))
    return out


def _merge_like_clauses(sentence: str, parts: list[tuple[int, int]], min_words: int = 5) -> list[tuple[int, int]]:
    """The spans of `clauses`: a part shorter than `min_words` words takes in the next one."""
    merged: list[tuple[str, int, int]] = []
    for a, b in parts:
        if merged and len(merged[-1][0].split()) < min_words:
            merged[-1] = (f"{merged[-1][0]}, {sentence[a:b]}", merged[-1][1], b)
        else:
            merged.append((sentence[a:b], a, b))
    return [(a, b) for _, a, b in merged]


def claim_clauses(sentence: str, min_words: int = 2) -> list[str]:
    """The claims a sentence makes: its parts between commas, semicolons, colons, dashes and the
    words that join clauses (`claim_words.CLAUSE_WORDS`). A part with fewer than `min_words`
    content words (`claim_words.FUNCTION_WORDS` aside: "In short", "Tajikistan" in "Kyrgyzstan and
    Tajikistan") is no claim of its own
    and joins the part before it (or after it, when it comes first)."""
    from rag.text.analysis import analyze, stopwords
    from rag.text.claim_words import CLAUSE_WORDS, FUNCTION_WORDS

    stop = stopwords() | FUNCTION_WORDS
    words = "|".join(sorted(CLAUSE_WORDS, key=len, reverse=True))
    pieces = [p.strip() for p in re.split(rf"{CLAUSE_BREAK.pattern}|\s+(?=(?:{words})\b)", sentence,
                                          flags=re.IGNORECASE)]
    merged: list[str] = []
    carry = ""
    for piece in (p for p in pieces if p):
        if carry:
            piece, carry = f"{carry} {piece}", ""
        if len(analyze(piece, stop)) >= min_words:
            merged.append(piece)
        elif merged:
            merged[-1] = f"{merged[-1]} {piece}"
        else:
            carry = piece
    if carry:
        merged.append(carry)
    return merged
