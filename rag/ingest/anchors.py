"""Positions in extracted text (page starts, headings) carried through cleaning.

Cleaning rewrites whitespace and drops lines, so an offset into the raw text means nothing
afterwards. Each position is marked in the raw text with a private-use character sequence that
no cleaning rule touches, and read back (and removed) from the cleaned text. Private-use
characters in the document itself are removed first, so a document cannot forge a marker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_OPEN, _CLOSE = "\ue000", "\ue001"
_ANCHOR = re.compile(f"{_OPEN}([ps])(\\d+){_CLOSE}")


@dataclass(frozen=True)
class Section:
    level: int  # 0 for a document title style, 1-6 for headings
    heading: str


@dataclass(frozen=True)
class Extracted:
    """Raw text with anchors; `pages` is the page count of a paged format (0 otherwise).
    `warnings`: what was not read (a sheet cut at max_chars), one line each, told to the user with
    the file's name. `title_from_text` False: a first line is never the title (it is a sheet's name
    or a row), so without `title` the title comes from the file name. `section_breaks`: each section
    is a unit of its own (a sheet, a slide) that no chunk runs across."""

    text: str
    title: str | None = None
    metadata: dict = field(default_factory=dict)
    pages: int = 0
    sections: tuple[Section, ...] = ()
    warnings: tuple[str, ...] = ()
    title_from_text: bool = True
    section_breaks: bool = False


def scrub(text: str) -> str:
    """The text without the characters anchors are made of."""
    return text.replace(_OPEN, "").replace(_CLOSE, "")


def mark(kind: str, n: int) -> str:
    """The anchor for page `n` (kind "p") or section `n` (kind "s"); place it right before the
    first visible character of what it marks."""
    return f"{_OPEN}{kind}{n}{_CLOSE}"


def locate(text: str) -> tuple[str, dict[tuple[str, int], int]]:
    """The text without anchors, and where each anchor was in it."""
    out: list[str] = []
    found: dict[tuple[str, int], int] = {}
    pos = length = 0
    for m in _ANCHOR.finditer(text):
        out.append(text[pos:m.start()])
        length += m.start() - pos
        found.setdefault((m.group(1), int(m.group(2))), length)
        pos = m.end()
        if m.start() == 0 or text[m.start() - 1] == "\n":
            while pos < len(text) and text[pos] in " \t":  # a heading's leading blanks
                pos += 1
    out.append(text[pos:])
    return "".join(out), found
