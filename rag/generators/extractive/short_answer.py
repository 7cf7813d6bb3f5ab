"""Typed answer extraction: the few words of a quoted sentence that answer the question.

The question's type says what kind of span answers it (`question_kind`): a time for "when", a
number for "how many", a name for "who", a place for "where", a name or phrase for "what/which
X"; none for "why", "how" and yes/no questions, whose answer is the sentence itself. The sentence
is cut into typed candidates (dates, numbers and amounts, capitalised name sequences and lists of
them, quoted titles, and the phrases between the question's own words), and each is scored by

    type match   how well the candidate's type fits the question's
  - overlap      the share of its words the question already says (a span that repeats the
                 question answers nothing)
  + proximity    closeness to the question's words in the sentence: the answer sits next to them
  - modifier     a name qualifying the next noun ("the Paris podium", "the Afghan Taliban")

The best candidate over a minimum score is the short answer; otherwise there is none. No word
lists tied to particular questions: only English function words and the answer-type nouns.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rag.text.analysis import analyze, stopwords

MIN_SCORE = 0.75
PROXIMITY_WEIGHT = 0.5
OVERLAP_PENALTY = 0.6
LATER_SENTENCE_PENALTY = 0.1
MAX_PHRASE_WORDS = 8
DIRECTION_DISCOUNT = 0.8  # a candidate on the unusual side of the question's words
SUBJECT_BONUS = 0.2  # "Emma Stone has won the best actress Oscar": who is the sentence's subject
TRIM_PENALTY = 0.1  # a name cut down around the question's words is less sure than a whole one
POSSESSIVE_PENALTY = 0.5  # "Central Asia’s Ferghana Valley": the owner only qualifies the thing asked for
# "the Afghan Taliban", "the Paris podium": a name that qualifies the next word is an adjective here.
MODIFIER_PENALTY = 0.25

# The answer type a question's head noun names ("what year", "which city", "Tesla's revenue").
_TIME_NOUNS = {"year", "date", "day", "month", "decade", "century", "time", "era", "season"}
_PLACE_NOUNS = {"city", "country", "state", "town", "place", "region", "area", "province", "continent",
                "location", "venue", "capital", "headquarters", "valley", "village", "island", "nation"}
_NUMBER_NOUNS = {"number", "amount", "population", "percentage", "percent", "total", "revenue", "price",
                 "cost", "size", "count", "sales", "income", "profit", "budget", "salary", "score"}
_PERSON_NOUNS = {"person", "man", "woman", "winner", "founder", "director", "author", "leader", "president",
                 "ceo", "chairman", "editor", "player", "actor", "actress", "singer", "spokesman"}
_NAME_NOUNS = {"name", "acronym", "abbreviation", "nickname", "title"}
# Function words: a span never starts or ends with one, and a sentence's first capitalised word
# that is one is not a name.
_FUNCTION = {"a", "an", "the", "and", "or", "but", "of", "in", "on", "at", "to", "for", "from", "with", "by",
             "into", "onto", "as", "than", "about", "over", "under", "after", "before", "during", "since",
             "through", "between", "among", "against", "within", "without", "upon", "via", "per", "is", "are",
             "was", "were", "be", "been", "being", "has", "have", "had", "do", "does", "did", "will", "would",
             "can", "could", "should", "may", "might", "must", "its", "their", "his", "her", "our", "your",
             "this", "that", "these", "those", "it", "they", "he", "she", "we", "also", "then", "now", "not",
             "so", "yet", "still", "thereafter", "however", "meanwhile", "indeed", "alongside", "outside",
             "although", "though", "while", "whereas", "when", "where", "which", "who", "whom", "whose",
             "what", "why", "how", "if", "because", "despite", "according", "says", "said", "there", "here",
             "just", "only", "even", "very", "all", "some", "such", "own", "out", "up", "down", "off"}
_PREPOSITIONS = {"in", "on", "at", "to", "for", "from", "with", "by", "into", "onto", "as", "than", "about",
                 "over", "under", "after", "before", "during", "since", "through", "between", "among",
                 "against", "within", "without", "upon", "via", "per", "across", "toward", "towards"}
_LOCATIVE = {"in", "at", "from", "near", "to", "into", "across", "outside", "inside", "atop", "throughout"}
_CLAUSE_WORDS = {"which", "who", "whom", "whose", "that", "while", "because", "although", "though", "but",
                 "where", "when", "whereas", "if", "says", "said", "according"}
_NAME_JOINERS = {"of", "de", "da", "del", "la", "le", "van", "von", "der", "den", "du", "bin", "al", "&"}
_NUMBER_WORDS = ("one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|"
                 "fifty|hundred|a dozen|dozens|hundreds|thousands|millions|billions|a few|few|several")

_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
          r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
_DATES = [re.compile(p) for p in (
    rf"\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+(?:of\s+)?\d{{4}}\b",
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+\d{{4}}\b",
    rf"\b{_MONTH},?\s+\d{{4}}\b",
    rf"\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?\b",
    r"\b(?:the\s+)?(?:early|mid|late)[\s-]+\d{4}s\b",
    r"\b(?:the\s+)?(?:early|mid|late)[\s-]+\d0s\b",
    r"\b(?:the\s+)?\d{4}s\b",
    r"\bQ[1-4]\s+\d{4}\b",
    r"\b(?:1[5-9]\d\d|20\d\d)\b",
    r"\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b",
)]
_MODIFIER = r"(?:(?:more|less|fewer)\s+than|about|around|nearly|almost|over|under|at\s+least|up\s+to|" \
            r"some|only|roughly|approximately|an\s+estimated)\s+"
_MONEY = re.compile(r"(?:[$€£¥]\s?\d[\d,]*(?:\.\d+)?(?:\s*(?:million|billion|trillion|bn|m|k)\b)?"
                    r"|\b\d[\d,]*(?:\.\d+)?\s*(?:million|billion|trillion)?\s*(?:dollars|euros|pounds|yen|yuan)\b)",
                    re.I)
_NUMBER = re.compile(rf"(?:\b{_MODIFIER})?(?:\b\d[\d,]*(?:\.\d+)?%?|\b(?:{_NUMBER_WORDS})\b)"
                     r"(?:\s+(?:hundred|thousand|million|billion|trillion|percent|per\s+cent)\b)?", re.I)
_QUOTED = re.compile(r"“([^”]{2,120})”|\"([^\"]{2,120})\"")
_TOKEN = re.compile(r"[$€£¥]?\d[\d,.]*\d%?|[$€£¥]?\d%?|[^\W\d_](?:[\w'’.\-]*\w)?\.?|[^\w\s]")
_CAPITAL = re.compile(r"^(?:[A-Z][\w'’.\-]*|[A-Z]{2,}s?)$")
_POSSESSIVE = re.compile(r"\w['’]s$")
_BOUNDARY_PUNCT = set(",;:()[]“”\"–—!?")


@dataclass(frozen=True)
class QuestionType:
    kind: str | None  # time, number, person, place, entity, phrase; None: the sentence is the answer
    with_unit: bool = False  # "how long", "how old": the unit belongs to the answer
    plural: bool = False  # "which countries": a list answers
    money: bool = False  # "how much"
    head: str = ""  # the noun the question asks for: "valley" in "which valley"; part of a name answer
    options: tuple[str, ...] = ()  # "which is stronger, the IMU or the TTP?": the answer is one of them


@dataclass(frozen=True)
class Span:
    start: int  # offsets inside the sentence
    end: int
    text: str
    score: float
    kind: str


_OPTIONS = re.compile(r"(?:,|\bbetween)\s+(?:the\s+)?([\w'’.\- ]{1,40}?)\s+(?:or|and)\s+(?:the\s+)?([\w'’.\- ]{1,40}?)\s*\?*$",
                      re.I)


def question_kind(question: str) -> QuestionType:
    qtype = _question_kind(question)
    m = _OPTIONS.search(question)
    if m and qtype.kind in ("entity", "person", "place", "phrase"):
        return QuestionType(qtype.kind, options=(m.group(1), m.group(2)), head=qtype.head)
    return qtype


def _question_kind(question: str) -> QuestionType:
    q = question.lower().strip()
    words = re.findall(r"[a-z][a-z'’\-]*", q)
    if re.search(r"\bwhy\b|\bfor what reason\b", q):
        return QuestionType(None)
    m = re.search(r"\bhow (many|much|long|old|far|tall|big|large|often|high|deep|wide)\b", q)
    if m:
        return QuestionType("number", with_unit=m.group(1) not in ("many", "much"), money=m.group(1) == "much")
    if re.search(r"\bhow (do|does|did|is|are|was|were|would|could|can)\b.*\b(describe|call|characteri[sz]e|"
                 r"define|refer to|name|label|term)\b", q):
        return QuestionType("phrase")
    if re.search(r"\bwhen\b", q):
        return QuestionType("time")
    wh = next((i for i, w in enumerate(words) if w in ("what", "which")), None)
    head = _head_noun(words[wh + 1:]) if wh is not None else None
    if head is None and not re.search(r"\b(who|whom|whose|where|what|which|how)\b", q):
        if words and words[0] in _AUXILIARIES:
            return QuestionType(None)  # yes/no
        head = words[-1] if words else None  # a keyword query: "Super Bowl 2021 location"
    typed = _noun_kind(head)
    if typed:
        return QuestionType(typed, plural=bool(head and head.endswith("s") and not head.endswith("ss")
                                                 and typed == "place"), head=head or "")
    if re.search(r"\b(who|whom|whose)\b", q):
        return QuestionType("person")
    if re.search(r"\bwhere\b", q):
        return QuestionType("place")
    if re.search(r"\bhow\b", q):
        return QuestionType(None)  # manner: the sentence is the answer
    if wh is not None:
        if head:
            return QuestionType("entity", plural=head.endswith("s") and not head.endswith("ss"), head=head)
        return QuestionType("phrase")
    return QuestionType(None)


_AUXILIARIES = {"is", "are", "was", "were", "do", "does", "did", "has", "have", "had", "can", "could", "will",
                "would", "should", "may", "might", "must"}


def _head_noun(after_wh: list[str]) -> str | None:
    """The noun right after "what/which" ("which group", "what is the premiere date of"), if any."""
    phrase: list[str] = []
    for i, w in enumerate(after_wh):
        if i == 0 and w in _AUXILIARIES:
            # "what is the X of ...": the head is the subject's noun; "what did X do": no head.
            if w not in ("is", "are", "was", "were"):
                return None
            continue
        if i == 0:
            # "which valley did ...", "what movie won ...": the noun right after the question word,
            # or the typed noun after it ("what premiere date").
            nxt = after_wh[1] if len(after_wh) > 1 else ""
            return nxt if _noun_kind(nxt) and not _noun_kind(w) else w
        if w in ("the", "a", "an", "another", "its", "their", "his", "her") and not phrase:
            continue
        if w in _PREPOSITIONS or w in _AUXILIARIES or w in _CLAUSE_WORDS or w in ("and", "or"):
            break
        phrase.append(w)
    if not phrase:
        return None
    # "premiere date", "Tesla's revenue": the head is the last word; a typed noun anywhere names the type.
    typed = [w for w in phrase if _noun_kind(w)]
    return typed[-1] if typed else phrase[-1]


def _noun_kind(noun: str | None) -> str | None:
    if not noun:
        return None
    singular = noun[:-1] if noun.endswith("s") and not noun.endswith("ss") else noun
    for kind, nouns in (("time", _TIME_NOUNS), ("place", _PLACE_NOUNS), ("number", _NUMBER_NOUNS),
                        ("person", _PERSON_NOUNS), ("name", _NAME_NOUNS)):
        if noun in nouns or singular in nouns or (singular.endswith("ie") and singular[:-2] + "y" in nouns):
            return kind
    return None


# Type fit: how well a candidate of one type answers a question of another.
_FIT = {
    "time": {"date": 1.0, "year": 0.85, "weekday": 0.6},
    "number": {"number": 1.0, "money": 1.0},
    "person": {"name": 1.0, "list": 0.7},
    "name": {"name": 1.0, "quoted": 0.95, "list": 0.7},
    "place": {"name": 1.0, "list": 0.7, "phrase": 0.55},
    "entity": {"name": 1.0, "list": 0.8, "quoted": 0.9, "phrase": 0.75, "date": 0.5, "number": 0.5, "money": 0.5},
    "phrase": {"phrase": 0.9, "name": 0.85, "quoted": 0.95, "list": 0.7, "date": 0.6, "number": 0.6,
               "money": 0.6},
}


def extract(question: str, sentences: Sequence[str], question_terms: set[str],
            qtype: QuestionType | None = None) -> tuple[int, Span] | None:
    """The best short answer among `sentences` (in the answer's order): (sentence index, span)."""
    qtype = qtype or question_kind(question)
    if qtype.kind is None:
        return None
    if qtype.options:
        return _choice(sentences, qtype.options)
    q_words = {w.lower() for w in re.findall(r"\w+", question)}
    q_stems = set(question_terms) | set(analyze(question, _stop()))
    if qtype.head:
        # "Which valley": the answer "Ferghana Valley" says "valley" too.
        q_words = q_words - {qtype.head, qtype.head.rstrip("s")}
        q_stems = q_stems - set(analyze(qtype.head, _stop()))
    best: tuple[int, Span] | None = None
    for i, sentence in enumerate(sentences):
        for span in _candidates(sentence, qtype, q_words, q_stems):
            score = span.score - LATER_SENTENCE_PENALTY * i
            if score >= MIN_SCORE and (best is None or score > best[1].score):
                best = (i, Span(span.start, span.end, span.text, score, span.kind))
    return best


def _choice(sentences: Sequence[str], options: tuple[str, ...]) -> tuple[int, Span] | None:
    """The one option of "the IMU or the TTP?" that a quoted sentence names (none when both or neither)."""
    for i, sentence in enumerate(sentences):
        found = [m for o in options for m in [re.search(rf"\b{re.escape(o.strip())}\b", sentence, re.I)] if m]
        if len(found) == 1:
            m = found[0]
            return i, Span(m.start(), m.end(), m.group(), 1.0, "choice")
    return None


@lru_cache(maxsize=1)
def _stop() -> frozenset[str]:
    return frozenset(stopwords())


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    text: str
    lower: str
    stems: frozenset[str]


_ABBREVIATION = re.compile(r"(?:[A-Za-z]\.){2,}")


def _tokens(sentence: str) -> list[_Token]:
    out = []
    for m in _TOKEN.finditer(sentence):
        text = m.group()
        if len(text) > 2 and text.endswith(".") and not _ABBREVIATION.fullmatch(text):
            text = text.rstrip(".")
        out.append(_Token(m.start(), m.start() + len(text), text, text.lower(), _stems(text)))
    return out


@lru_cache(maxsize=50_000)
def _stems(word: str) -> frozenset[str]:
    return frozenset(analyze(word, _stop()))


def _candidates(sentence: str, qtype: QuestionType, q_words: set[str], q_stems: set[str]) -> list[Span]:
    tokens = _tokens(sentence)
    if not tokens:
        return []
    anchors = [i for i, t in enumerate(tokens) if t.stems & q_stems or t.lower in q_words and t.lower not in _FUNCTION]
    fits = _FIT[qtype.kind or "phrase"]
    raw: list[tuple[int, int, str]] = []
    dates = _dates(sentence)
    if "date" in fits or "year" in fits:
        raw += dates
    if "number" in fits:
        raw += _numbers(sentence, tokens, qtype, q_words, dates)
    if "name" in fits:
        raw += _names(tokens)
    if "quoted" in fits:
        raw += [(m.start(1) if m.group(1) else m.start(2), m.end(1) if m.group(1) else m.end(2), "quoted")
                for m in _QUOTED.finditer(sentence)]
    if "phrase" in fits:
        raw += _phrases(tokens, anchors, locative_only=qtype.kind == "place")
    prefixes = {w[:k] for w in q_words if len(w) >= 4 for k in range(4, len(w) + 1)}
    repeats = [_repeats(t, q_words, q_stems, prefixes) for t in tokens]
    # Distance counts content words and clause boundaries: "California, which was acquired by" is
    # farther from "acquired" than "by Facebook" is.
    content_before = [0]
    for t in tokens:
        content_before.append(content_before[-1] + ((t.text[0].isalnum() and t.lower not in _FUNCTION)
                                                    or (_is_boundary(t) and t.text not in "()")))
    starts = [t.start for t in tokens]
    spans = []
    seen: set[tuple[int, int]] = set()
    q_years = {w for w in q_words if re.fullmatch(r"1[5-9]\d\d|20\d\d", w)}
    for start, end, kind in raw:
        raw_text = sentence[start:end]
        raw_span = _trim(sentence, start, end)
        if kind in ("name", "list") and any(s < end and start < e for s, e, _ in dates):
            continue  # "Sunday", "June": a time, not a name
        idx = [i for i in range(bisect_left(starts, start), len(tokens)) if tokens[i].start < end
               and tokens[i].end <= end]
        # Words the question already says are no part of the answer: "Pakistani Prime Minister Nawaz
        # Sharif" answers "who is the Prime Minister of Pakistan?" with "Nawaz Sharif".
        while idx and (repeats[idx[0]] or tokens[idx[0]].lower in _FUNCTION) and kind != "date":
            idx.pop(0)
        while idx and (repeats[idx[-1]] or tokens[idx[-1]].lower in _FUNCTION) and kind != "date":
            idx.pop()
        if not idx:
            continue
        if kind not in ("date", "number", "money"):
            start, end = tokens[idx[0]].start, tokens[idx[-1]].end
        start, end = _trim(sentence, start, end)
        if end <= start or (start, end) in seen:
            continue
        seen.add((start, end))
        fit = fits.get(kind, 0.0)
        if kind == "money" and qtype.money:
            fit += 0.1
        if kind == "list" and qtype.plural:
            fit = max(fit, 1.0) + 0.2  # "which countries": all of them
        if kind == "name" and _POSSESSIVE.search(raw_text):
            fit -= POSSESSIVE_PENALTY
        if kind == "name" and qtype.kind == "place" and ", " in sentence[start:end]:
            fit += 0.05  # "Tampa, Florida" says more than "Tampa"
        if not fit:
            continue
        content = [i for i in idx if tokens[i].text[0].isalnum() and tokens[i].lower not in _FUNCTION]
        if not content:
            continue
        repeated = sum(repeats[i] for i in content) / len(content)
        if repeated >= 1.0:
            continue  # the question's own words answer nothing
        if kind == "name" and qtype.kind == "place" and _after_locative(tokens, start):
            fit += 0.1
        if q_years and qtype.kind == "time" and kind in ("date", "year"):
            years = set(re.findall(r"\b(?:1[5-9]\d\d|20\d\d)\b", sentence[start:end]))
            if kind == "year" or (years and not years & q_years):
                continue  # the question fixes the year ("the 2020 NBA Draft"): another year is another event
        if kind in ("date", "year") and _is_date_line_prefix(sentence, start, end):
            continue  # "Jun 4, 2023 ... The iPhone 11, released on ...": when the page was written
        if kind == "name" and qtype.kind == "person" and _after_locative(tokens, start):
            fit -= 0.2  # "a teacher in Las Vegas": a place, not the person asked for
        first, last = idx[0], idx[-1]
        if kind == "name" and _qualifies_next(tokens, first, last, raw_text, repeats, start):
            fit -= MODIFIER_PENALTY
        # Distance in content words: "launched a long-delayed ground assault" is adjacent. A "who" is
        # usually the subject before the question's words; a time, number or thing follows them.
        subject_first = qtype.kind == "person"
        proximity = 0.0
        for a in anchors:
            if first <= a <= last:
                continue
            gap = content_before[first] - content_before[a + 1] if a < first else content_before[a] - \
                content_before[last + 1]
            side = 1.0 if (a < first) != subject_first else DIRECTION_DISCOUNT
            proximity = max(proximity, side * PROXIMITY_WEIGHT / (1 + gap))
        if subject_first and kind == "name" and content_before[first] == 0:
            proximity += SUBJECT_BONUS
        length = max(0, len(idx) - 5) * 0.04 if kind == "phrase" else 0.0
        trimmed = TRIM_PENALTY if kind == "name" and (start, end) != raw_span else 0.0
        spans.append(Span(start, end, sentence[start:end],
                          fit - OVERLAP_PENALTY * repeated + proximity - length - trimmed, kind))
    return spans


def _qualifies_next(tokens: list[_Token], first: int, last: int, raw_text: str, repeats: list[bool],
                    start: int) -> bool:
    """A name used as an adjective: one word followed by a lower-case noun of the sentence ("the Paris
    podium", "Pakistani security forces"), or a name whose last words, cut off as the question's own,
    were the noun it qualifies ("the Afghan Taliban" when the question asks about the Pakistani one)."""
    nxt = last + 1
    if nxt >= len(tokens):
        return False
    following = tokens[nxt]
    if tokens[last].end - tokens[first].start < len(raw_text.rstrip()) and following.start < start + len(raw_text) \
            and repeats[nxt] and following.text[:1].isupper():
        return True
    return (first == last and following.text[:1].islower() and following.text[0].isalpha()
            and following.lower not in _FUNCTION and not repeats[nxt])


def _repeats(token: _Token, q_words: set[str], q_stems: set[str], q_prefixes: set[str]) -> bool:
    """Whether the question says this word already ("Pakistani" when it asks about Pakistan):
    the same stem, or one word beginning with the other."""
    if token.stems & q_stems or token.lower in q_words:
        return True
    w = token.lower.replace("’", "'").split("'")[0]
    return len(w) >= 4 and (w in q_prefixes or any(w[:k] in q_words for k in range(4, len(w))))


_DATE_LINE_END = re.compile(r"\s*(?:\.\.\.|…|—|·|\|)")


def _is_date_line_prefix(sentence: str, start: int, end: int) -> bool:
    return not sentence[:start].strip(" ,") .replace(",", "").isalpha() and bool(_DATE_LINE_END.match(sentence, end)) \
        and len(sentence[:start].split()) <= 1


def _dates(sentence: str) -> list[tuple[int, int, str]]:
    found: list[tuple[int, int, str]] = []
    for pattern in _DATES:
        for m in pattern.finditer(sentence):
            if any(s <= m.start() and m.end() <= e for s, e, _ in found):
                continue
            text = m.group()
            kind = "weekday" if text[0].isalpha() and text.rstrip("y").endswith("da") else (
                "year" if text.isdigit() else "date")
            found.append((m.start(), m.end(), kind))
    return found


def _numbers(sentence: str, tokens: list[_Token], qtype: QuestionType, q_words: set[str],
             dates: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    found = [(m.start(), m.end(), "money") for m in _MONEY.finditer(sentence)]
    for m in _NUMBER.finditer(sentence):
        start, end = m.start(), m.end()
        if any(s < end and start < e for s, e, k in dates if k != "weekday" and k != "year") or \
                any(s <= start and end <= e for s, e, _ in found):
            continue
        if qtype.with_unit:
            nxt = next((t for t in tokens if t.start > end), None)
            if nxt and nxt.text.isalpha() and nxt.lower not in _FUNCTION and nxt.lower not in q_words:
                end = nxt.end
        found.append((start, end, "number"))
    return found


def _names(tokens: list[_Token]) -> list[tuple[int, int, str]]:
    """Capitalised sequences ("Islamic Movement of Uzbekistan", "TTP"), "City, State" and lists of names."""
    names: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        if not _is_name_word(tokens, i):
            i += 1
            continue
        j = i
        while j + 1 < len(tokens) and not _POSSESSIVE.search(tokens[j].text):
            # "Pixar's Soul": the owner and the thing owned are two names.
            if _is_name_word(tokens, j + 1) and tokens[j + 1].start - tokens[j].end <= 1:
                j += 1
            elif (tokens[j + 1].lower in _NAME_JOINERS and j + 2 < len(tokens) and _is_name_word(tokens, j + 2)):
                j += 2
            else:
                break
        names.append((i, j))
        i = j + 1
    out = [(tokens[a].start, tokens[b].end, "name") for a, b in names]
    # "Tampa, Florida": a name, a comma and a one-word name the sentence goes on from.
    for (a, b), (c, d) in zip(names, names[1:]):
        if c == b + 2 and tokens[b + 1].text == "," and c == d:
            out.append((tokens[a].start, tokens[d].end, "name"))
    # "Kyrgyzstan and Tajikistan", "A, B and C"
    run = [names[0]] if names else []
    for prev, cur in zip(names, names[1:]):
        between = [t.lower for t in tokens[prev[1] + 1:cur[0]]]
        if between in ([","], ["and"], [",", "and"], ["or"], [",", "or"]):
            run.append(cur)
            continue
        if len(run) > 1:
            out.append((tokens[run[0][0]].start, tokens[run[-1][1]].end, "list"))
        run = [cur]
    if len(run) > 1:
        out.append((tokens[run[0][0]].start, tokens[run[-1][1]].end, "list"))
    return out


def _is_name_word(tokens: list[_Token], i: int) -> bool:
    t = tokens[i]
    if not _CAPITAL.match(t.text) or t.lower in _FUNCTION and i == 0:
        return False
    if i == 0 or tokens[i - 1].text in ("“", '"', "(", ":"):
        # The sentence's first word is capitalised anyway: a name only if it is no function word.
        return t.lower not in _FUNCTION and not re.fullmatch(_NUMBER_WORDS, t.lower)
    return True


def _after_locative(tokens: list[_Token], start: int) -> bool:
    before = [t for t in tokens if t.end <= start]
    return bool(before) and before[-1].lower in _LOCATIVE


def _phrases(tokens: list[_Token], anchors: list[int], *, locative_only: bool = False) -> list[tuple[int, int, str]]:
    """The runs of words between the question's words and the clause boundaries, cut at a preposition."""
    anchor_set = set(anchors)
    out = []
    i = 0
    while i < len(tokens):
        if i in anchor_set or _is_boundary(tokens[i]):
            i += 1
            continue
        j = i
        while j + 1 < len(tokens) and j + 1 not in anchor_set and not _is_boundary(tokens[j + 1]):
            j += 1
        run = tokens[i:j + 1]
        i = j + 1
        if locative_only and not (run[0].lower in _LOCATIVE or _after_locative(tokens, run[0].start)):
            continue
        # Drop the leading function words, then stop at the first preposition ("of" binds a noun phrase).
        k = 0
        while k < len(run) and run[k].lower in _FUNCTION:
            k += 1
        run = run[k:]
        cut = next((n for n, t in enumerate(run) if n and t.lower in _PREPOSITIONS and t.lower != "of"), len(run))
        run = run[:cut]
        if run and len(run) <= MAX_PHRASE_WORDS:
            out.append((run[0].start, run[-1].end, "phrase"))
    return out


def _is_boundary(token: _Token) -> bool:
    return token.text in _BOUNDARY_PUNCT or token.lower in _CLAUSE_WORDS


def _trim(sentence: str, start: int, end: int) -> tuple[int, int]:
    """No leading or trailing function words, punctuation or spaces."""
    text = sentence[start:end]
    m = re.match(r"^(?:(?:the|a|an|in|on|at|of|by|from|to)\s+)*", text, re.I)
    lead = m.end() if m and m.end() < len(text) and not re.match(r"(?:the\s+)?(?:early|mid|late)[\s-]", text,
                                                                     re.I) else 0
    start += lead
    if re.search(r"\w['’]s$", sentence[start:end]):
        end -= 2  # "Garry Marshall's"
    while end > start and sentence[end - 1] in " ,.;:’'\"”)":
        if sentence[end - 1] == "." and re.search(r"\b(?:[A-Za-z]\.){2,}$", sentence[start:end]):
            break
        end -= 1
    while start < end and sentence[start] in " ,;:(“\"‘":
        start += 1
    return start, end
