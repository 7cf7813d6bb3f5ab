"""Raw scraped text → clean text plus the metadata a reader would recognise.

Only whole, short lines are ever removed (navigation and sharing boilerplate). Title, date line,
byline and photo caption stay in the text, since people ask about them, and are also recorded
as metadata.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANKS = re.compile(r"\n{3,}")
BOILERPLATE_MAX_CHARS = 60
BOILERPLATE = [re.compile(p, re.I) for p in (
    r"(go|back|return) to (the )?top", r"skip to (main )?content", r"(skip|jump) to navigation",
    r"share( this( article| story| page)?)?( on \w+)?:?", r"(print|email|tweet|share)( this)?( article| story| page)?",
    r"advertisement", r"click here( to .*)?", r"subscribe( now| to .*)?", r"(this site uses |we use |accept )?cookies?.*",
    r"follow us( on .*)?", r"read more:?", r"related (articles|stories|posts|content):?", r"(sign|log) ?in( / (sign|log) ?up)?",
    r"menu", r"(main )?navigation", r"comments?( \(\d+\))?", r"loading\.*",
)]
_MONTHS = {m: i for i, m in enumerate(["january", "february", "march", "april", "may", "june", "july", "august",
                                       "september", "october", "november", "december"], 1)}
_WEEKDAY = r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s+)?"
_DATE_FORMS = [
    re.compile(rf"^{_WEEKDAY}(?P<month>[a-z]+)\.?\s+(?P<day>\d{{1,2}}),?\s+(?P<year>\d{{4}})$", re.I),
    re.compile(rf"^{_WEEKDAY}(?P<day>\d{{1,2}})\s+(?P<month>[a-z]+)\.?,?\s+(?P<year>\d{{4}})$", re.I),
    re.compile(r"^(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})(?:[T ][\d:.+\-Z]*)?$"),
]
_BYLINE = re.compile(r"^[Bb]y\s+([A-Z][\w.'’\-]+(?:\s+(?:and\s+)?[A-Z][\w.'’\-]+){0,5})$")
_PHOTO = re.compile(r"^(?:photo|image|picture)(?: credit)?\s*:\s*(?P<caption>.+?)\s*(?:\((?P<credit>[^()]+)\))?\.?$", re.I)


@dataclass(frozen=True)
class CleanedText:
    text: str
    title: str | None = None
    metadata: dict = field(default_factory=dict)


def parse_date(text: str) -> str | None:
    """ISO date for a line that is only a date ("Tuesday, June 17, 2014"), else None."""
    line = text.strip()
    for pattern in _DATE_FORMS:
        m = pattern.match(line)
        if not m:
            continue
        month = m.group("month").lower()
        # Full names, and abbreviations such as "Sept." or "Jun".
        month_num = int(month) if month.isdigit() else next(
            (n for name, n in _MONTHS.items() if len(month) >= 3 and name.startswith(month)), 0)
        try:
            return date(int(m.group("year")), month_num, int(m.group("day"))).isoformat()
        except (TypeError, ValueError):
            return None
    return None


def is_boilerplate(line: str) -> bool:
    stripped = line.strip().strip("|»«›‹·•-–—").strip()
    return len(stripped) <= BOILERPLATE_MAX_CHARS and any(p.fullmatch(stripped) for p in BOILERPLATE)


def normalize(raw: str) -> str:
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def clean_text(raw: str) -> CleanedText:
    lines = [line for line in normalize(raw).split("\n") if not is_boilerplate(line)]
    text = _BLANKS.sub("\n\n", "\n".join(lines)).strip()
    metadata: dict = {}
    title = None
    paragraphs = [p for p in text.split("\n") if p.strip()]
    if paragraphs:
        first = paragraphs[0]
        if len(first) <= 200 and not first.endswith((".", "!", "?", ":")) and parse_date(first) is None:
            title = first
    for line in paragraphs[:6]:
        iso = parse_date(line)
        if iso and "date" not in metadata:
            metadata["date"], metadata["date_text"] = iso, line.strip()
        byline = _BYLINE.match(line.strip())
        if byline and "byline" not in metadata:
            metadata["byline"] = byline.group(1)
    for line in paragraphs[-4:]:
        photo = _PHOTO.match(line.strip())
        if photo:
            metadata["photo_caption"] = line.strip()
            if photo.group("credit"):
                metadata["photo_credit"] = photo.group("credit").strip()
    return CleanedText(text, title, metadata)
