"""Loose matching of a quote to the text of a page, piece by piece.

The quote is the document's text as indexed: lines joined, words broken at line ends rejoined,
ligatures spelt out, running headers gone. The page's text is what its text layer or OCR holds,
in pieces (a character, or a word) that each have a place on the page. Both are folded to their
letters and digits (case, accents, spacing and punctuation dropped), so most quotes are found
exactly; when not (a running header between two pages, a word OCR read differently), runs of
words are aligned instead, and the quote counts as found only when most of its letters are.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

# A quote aligned word by word counts as found when this share of its letters and digits is.
MIN_SHARE = 0.6
# Words a stretch of aligned page text may hold beyond the quote's own (a running header and a
# page number between two pages), besides a quarter of the quote's length.
SLACK_WORDS = 24


@dataclass(frozen=True)
class Match:
    """The pieces of the page text (indexes into the sequence given) that hold the quote, in
    order, and the share of the quote's letters and digits found (0-1)."""

    pieces: tuple[int, ...] = ()
    share: float = 0.0


def fold(text: str) -> str:
    """`text` as its letters and digits only: lower case, accents and ligatures spelt out."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed.casefold() if c.isalnum())


def _folded_pieces(pieces: Sequence[str]) -> tuple[str, list[int], list[tuple[str, list[int]]]]:
    """The folded text of the pieces, the piece each of its characters came from, and its words,
    each with the pieces of its characters. A piece of one character (a text layer's) joins the
    word before it unless it is a space; a longer piece (an OCR word) is a word of its own."""
    chars: list[str] = []
    owners: list[int] = []
    words: list[tuple[str, list[int]]] = []
    word: list[int] = []  # positions in chars

    def close() -> None:
        if word:
            words.append(("".join(chars[k] for k in word), [owners[k] for k in word]))
            word.clear()

    for i, piece in enumerate(pieces):
        folded = fold(piece)
        if len(piece) > 1 or piece.isspace():
            close()
        word.extend(range(len(chars), len(chars) + len(folded)))
        chars.extend(folded)
        owners.extend([i] * len(folded))
        if len(piece) > 1:
            close()
    close()
    return "".join(chars), owners, words


def find(quote: str, pieces: Sequence[str]) -> Match:
    """Where `quote` is in the text made of `pieces` (in reading order): exactly, once folded;
    else by aligning its words. An empty Match when it is not there."""
    wanted = fold(quote)
    if not wanted:
        return Match()
    text, owners, words = _folded_pieces(pieces)
    at = text.find(wanted)
    if at >= 0:
        return Match(tuple(dict.fromkeys(owners[at:at + len(wanted)])), 1.0)
    return _aligned(quote, wanted, words)


def _aligned(quote: str, wanted: str, words: list[tuple[str, list[int]]]) -> Match:
    """The quote's words aligned to the page's: the longest common run anchors the alignment,
    and only runs that keep close to it (a few words inserted or left out) count, so common
    words elsewhere on the page are not taken for the quote."""
    quote_words = [w for w in (fold(part) for part in quote.split()) if w]
    page_words = [w for w, _ in words]
    if not quote_words or not page_words:
        return Match()
    matcher = difflib.SequenceMatcher(None, quote_words, page_words, autojunk=False)
    blocks = [b for b in matcher.get_matching_blocks() if b.size]
    if not blocks:
        return Match()

    def letters(block) -> int:
        return sum(len(w) for w in quote_words[block.a:block.a + block.size])

    anchor = max(blocks, key=letters)
    slack = SLACK_WORDS + len(quote_words) // 4
    kept = [b for b in blocks if abs((b.b - b.a) - (anchor.b - anchor.a)) <= slack]
    share = sum(letters(b) for b in kept) / len(wanted)
    if share < MIN_SHARE:
        return Match()
    found = [i for b in kept for _, owners in words[b.b:b.b + b.size] for i in owners]
    return Match(tuple(dict.fromkeys(found)), min(1.0, share))
