"""Page numbers and section headings of spans of a document.

A paged document records where each page starts (`page_starts`, offsets into its text) and a
structured one its headings (`sections`: `[offset, level, heading]`). A chunk carries the pages
it spans (`page_start`, `page_end`) and, when it crosses pages, the offsets where later pages
begin (`page_breaks`), so a citation of any span inside it can name its own page.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from typing import Any


def chunk_structure(doc_metadata: Mapping[str, Any], start: int, end: int) -> dict[str, Any]:
    """The page and section metadata of `document.text[start:end]`."""
    out: dict[str, Any] = {}
    starts: Sequence[int] = doc_metadata.get("page_starts") or ()
    if starts:
        first = bisect_right(starts, start)
        last = bisect_right(starts, max(start, end - 1))
        out["page_start"], out["page_end"] = first, last
        if last > first:
            out["page_breaks"] = list(starts[first:last])
    sections = doc_metadata.get("sections") or ()
    if sections:
        offsets = [s[0] for s in sections]
        i = bisect_right(offsets, start) - 1
        if i < 0 and offsets[0] < end:  # text before the first heading, then the heading
            i = 0
        if i >= 0:
            out["section"] = sections[i][2]
    return out


def span_pages(chunk_metadata: Mapping[str, Any], start: int, end: int) -> tuple[int | None, int | None]:
    """First and last page of a span (document offsets) inside a chunk; (None, None) when the
    document has no pages."""
    first = chunk_metadata.get("page_start")
    if not isinstance(first, int):
        return None, None
    breaks = chunk_metadata.get("page_breaks") or []
    return first + bisect_right(breaks, start), first + bisect_right(breaks, max(start, end - 1))


def pages_label(first: int | None, last: int | None) -> str:
    """"p. 2", "pp. 2–3", or "" for a document without pages."""
    if first is None:
        return ""
    if last is None or last == first:
        return f"p. {first}"
    return f"pp. {first}–{last}"
