"""Typed answer extraction: the few words of a quoted sentence that answer the question.

The question's type says what kind of span answers it (`question_types.question_type`): a time for
"when", a number for "how many", a name for "who", a place for "where", a name or phrase for
"what/which X"; none for "why", "how" and yes/no questions, whose answer is the sentence itself.
The sentence is cut into typed candidates (dates, numbers and amounts, capitalised name sequences
and lists of them, quoted titles, and the phrases between the question's own words), and each is
scored by

    type match   how well the candidate's type fits the question's
  - overlap      the share of its words the question already says (a span that repeats the
                 question answers nothing)
  + proximity    closeness to the question's words in the sentence: the answer sits next to them
  - modifier     a name qualifying the next noun ("the Paris podium", "the Afghan Taliban")

The best candidate over a minimum score is the short answer; otherwise there is none. The weights
are an `ExtractiveWeights`; the word lists (`words`: English function words and the answer-type
nouns, none tied to particular questions) and patterns (`patterns`) are data modules of their own.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from rag.generators.extractive.patterns import (
    ABBREVIATION,
    CAPITALISED,
    DATE_LINE_END,
    DATES,
    DECADE_PART,
    ENDS_WITH_ABBREVIATION,
    LEADING_FILLER,
    MONEY,
    NUMBER_SPAN,
    NUMBER_WORD,
    POSSESSIVE,
    QUOTED,
    TOKEN,
    WORD,
    YEAR,
    YEAR_DIGITS,
)
from rag.generators.extractive.question_types import QuestionType, question_type
from rag.generators.extractive.weights import ExtractiveWeights
from rag.generators.extractive.words import (
    BOUNDARY_PUNCTUATION,
    CLAUSE_WORDS,
    DURATION_UNITS,
    FUNCTION_WORDS,
    LENGTH_UNITS,
    LIST_SEPARATORS,
    LOCATIVES,
    NAME_JOINERS,
    NAME_OPENERS,
    NOT_PERSON_ENDINGS,
    PARENTHESES,
    PREPOSITIONS,
)
from rag.text.analysis import analyze, stopwords, word_family

_DEFAULT_WEIGHTS = ExtractiveWeights()


@dataclass(frozen=True)
class Span:
    start: int  # offsets inside the sentence
    end: int
    text: str
    score: float
    kind: str
    # The parts of the score, kept as evidence for how sure the span is (`span_evidence`).
    fit: float = 0.0
    repeated: float = 0.0
    proximity: float = 0.0


def extract(question: str, sentences: Sequence[str], question_terms: set[str],
            qtype: QuestionType | None = None, weights: ExtractiveWeights | None = None) -> tuple[int, Span] | None:
    """The best short answer among `sentences` (in the answer's order): (sentence index, span)."""
    found = ranked_spans(question, sentences, question_terms, qtype, weights)
    return found[0] if found else None


def ranked_spans(question: str, sentences: Sequence[str], question_terms: set[str],
                 qtype: QuestionType | None = None, weights: ExtractiveWeights | None = None, *,
                 what_happened: bool = True) -> list[tuple[int, Span]]:
    """Every candidate over the minimum score, best first: (sentence index, span). `what_happened`:
    a count must stand next to what the question says happened ("injured"), not only count the
    right thing."""
    qtype = qtype or question_type(question)
    w = _DEFAULT_WEIGHTS if weights is None else weights
    if qtype.kind is None:
        return []
    if qtype.options:
        choice = _choice(sentences, qtype.options)
        return [choice] if choice else []
    q_words = {word.lower() for word in WORD.findall(question)}
    q_stems = set(question_terms) | set(analyze(question, _stop()))
    if qtype.head and qtype.head_names_answer:
        # "Which valley": the answer "Ferghana Valley" says "valley" too.
        head = head_word(qtype)
        q_words = q_words - {head, head.rstrip("s")}
        q_stems = q_stems - set(analyze(head, _stop()))
    found: list[tuple[int, Span]] = []
    for i, sentence in enumerate(sentences):
        for span in _candidates(sentence, qtype, q_words, q_stems, w, what_happened):
            score = span.score - w.later_sentence_penalty * i
            if score >= w.min_score:
                found.append((i, replace(span, score=score)))
    # Stable: among equal scores the earlier sentence and span win, as they always did.
    found.sort(key=lambda isp: -isp[1].score)
    return found


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


def head_word(qtype: QuestionType) -> str:
    """The head noun without a possessive: "university's" -> "university"."""
    return qtype.head.replace("’", "'").split("'")[0]


def _fills_slot(tokens: list[_Token], first: int, last: int, slot: frozenset[str], counted: frozenset[str],
                window: int) -> bool:
    """A count answers "how many people were injured" only next to "injured" (or a related form:
    "injuries"), and only when it counts people: the words right after it name them ("140 people"),
    or no other thing is named there ("killing dozens"). "Three ferries were cancelled" counts
    ferries, not buses; "23 people drowned" says nothing of injuries."""
    following = []
    for t in tokens[last + 1:last + 1 + window]:
        if _is_boundary(t) or t.text in ".!?":
            break
        if t.lower not in FUNCTION_WORDS:
            following.append(t)
    near = tokens[max(0, first - window):first] + tokens[last + 1:last + 1 + window]
    happened = slot - counted  # "injured": what the counted things underwent, when the question says
    if happened and not any(word_family(s) in happened for t in near for s in t.stems):
        return False  # "23 people drowned" does not say how many were injured
    if any(word_family(s) in counted for t in following[:3] for s in t.stems):
        return True
    if following and last + 1 < len(tokens) and following[0] is tokens[last + 1] and following[0].text.isalpha():
        return False  # the noun right after the number is what it counts, and it is something else
    return any(word_family(s) in slot for t in near for s in t.stems)


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    text: str
    lower: str
    stems: frozenset[str]



def _tokens(sentence: str) -> list[_Token]:
    out = []
    for m in TOKEN.finditer(sentence):
        text = m.group()
        if len(text) > 2 and text.endswith(".") and not ABBREVIATION.fullmatch(text):
            text = text.rstrip(".")
        out.append(_Token(m.start(), m.start() + len(text), text, text.lower(), _stems(text)))
    return out


@lru_cache(maxsize=50_000)
def _stems(word: str) -> frozenset[str]:
    return frozenset(analyze(word, _stop()))


def word_stems(text: str) -> list[str]:
    """The stems of a text's content words, as the extractor compares them with the question's."""
    return analyze(text, _stop())


def _candidates(sentence: str, qtype: QuestionType, q_words: set[str], q_stems: set[str],
                w: ExtractiveWeights, what_happened: bool = True) -> list[Span]:
    tokens = _tokens(sentence)
    if not tokens:
        return []
    q_families = {word_family(st) for st in q_stems}
    anchors = [i for i, t in enumerate(tokens)
               if t.stems & q_stems or t.lower in q_words and t.lower not in FUNCTION_WORDS
               or any(word_family(st) in q_families for st in t.stems)]
    fits = w.type_fit[qtype.kind or "phrase"]
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
                for m in QUOTED.finditer(sentence)]
    if "phrase" in fits:
        raw += _phrases(tokens, anchors, w.max_phrase_words, locative_only=qtype.kind == "place")
    prefixes = {word[:k] for word in q_words if len(word) >= 4 for k in range(4, len(word) + 1)}
    repeats = [_repeats(t, q_words, q_stems, prefixes) for t in tokens]
    # Distance counts content words and clause boundaries: "California, which was acquired by" is
    # farther from "acquired" than "by Facebook" is.
    content_before = [0]
    for t in tokens:
        content_before.append(content_before[-1] + ((t.text[0].isalnum() and t.lower not in FUNCTION_WORDS)
                                                    or (_is_boundary(t) and t.text not in PARENTHESES)))
    starts = [t.start for t in tokens]
    spans = []
    seen: set[tuple[int, int]] = set()
    q_years = {word for word in q_words if re.fullmatch(YEAR_DIGITS, word)}
    slot = frozenset(word_family(st) for word in qtype.slot for st in analyze(word, _stop()))
    counted = frozenset(word_family(st) for st in analyze(qtype.slot[0], _stop())) if qtype.slot else frozenset()
    head = set(analyze(head_word(qtype), _stop())) if qtype.head and qtype.head_names_answer else set()
    for start, end, kind in raw:
        raw_text = sentence[start:end]
        raw_span = _trim(sentence, start, end)
        if kind in ("name", "list") and any(s < end and start < e for s, e, _ in dates):
            continue  # "Sunday", "June": a time, not a name
        idx = [i for i in range(bisect_left(starts, start), len(tokens)) if tokens[i].start < end
               and tokens[i].end <= end]
        # Words the question already says are no part of the answer: "Pakistani Prime Minister Nawaz
        # Sharif" answers "who is the Prime Minister of Pakistan?" with "Nawaz Sharif".
        while idx and (repeats[idx[0]] or tokens[idx[0]].lower in FUNCTION_WORDS) and kind != "date":
            idx.pop(0)
        while idx and (repeats[idx[-1]] or tokens[idx[-1]].lower in FUNCTION_WORDS) and kind != "date":
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
            fit += w.money_bonus
        if kind == "list" and qtype.plural:
            fit = max(fit, w.plural_list_fit) + w.plural_list_bonus  # "which countries": all of them
        if kind == "name" and POSSESSIVE.search(raw_text):
            fit -= w.possessive_penalty
        if kind == "name" and qtype.kind == "place" and ", " in sentence[start:end]:
            fit += w.place_with_region_bonus  # "Tampa, Florida" says more than "Tampa"
        if not fit:
            continue
        content = [i for i in idx if tokens[i].text[0].isalnum() and tokens[i].lower not in FUNCTION_WORDS]
        if not content:
            continue
        repeated = sum(repeats[i] for i in content) / len(content)
        if repeated >= 1.0:
            continue  # the question's own words answer nothing
        if kind == "name" and qtype.kind == "place" and _after_locative(tokens, start):
            fit += w.locative_place_bonus
        if q_years and qtype.kind == "time" and kind in ("date", "year"):
            years = set(YEAR.findall(sentence[start:end]))
            if kind == "year" or (years and not years & q_years):
                continue  # the question fixes the year ("the 2020 NBA Draft"): another year is another event
        if kind in ("date", "year") and _is_date_line_prefix(sentence, start, end):
            continue  # "Jun 4, 2023 ... The iPhone 11, released on ...": when the page was written
        if kind == "name" and qtype.kind == "person" and _after_locative(tokens, start):
            fit -= w.locative_person_penalty  # "a teacher in Las Vegas": a place, not the person asked for
        first, last = idx[0], idx[-1]
        if kind == "name" and qtype.kind == "person" and tokens[last].lower in NOT_PERSON_ENDINGS:
            continue  # "the Swat Valley" is a place: it cannot be who did something
        if kind in ("number", "money") and slot and not _fills_slot(tokens, first, last, slot if what_happened else counted, counted,
                                                                   w.slot_window):
            continue
        if head and (all(tokens[i].stems & head for i in content)
                     or kind == "phrase" and any(tokens[i].stems & head for i in content)):
            # "which comedian": "Comedian" is the question's word, not the one asked for; a phrase
            # running through it ("focused publication Registan and") holds the answer beside it.
            continue
        if head and kind == "name" and any(tokens[i].stems & head for i in range(max(0, first - 1), last + 1)):
            fit += w.head_bonus  # "which publication": "the publication Registan"; "which valley": "Ferghana Valley"
        if kind == "name" and _qualifies_next(tokens, first, last, raw_text, repeats, start):
            fit -= w.modifier_penalty
        # Distance in content words: "launched a long-delayed ground assault" is adjacent. A "who" is
        # usually the subject before the question's words; a time, number or thing follows them.
        subject_first = qtype.kind == "person"
        proximity = 0.0
        for a in anchors:
            if first <= a <= last:
                continue
            gap = content_before[first] - content_before[a + 1] if a < first else content_before[a] - \
                content_before[last + 1]
            side = 1.0 if (a < first) != subject_first else w.direction_discount
            proximity = max(proximity, side * w.proximity_weight / (1 + gap))
        if subject_first and kind == "name" and content_before[first] == 0:
            proximity += w.subject_bonus
        length = max(0, len(idx) - w.long_phrase_words) * w.long_phrase_penalty if kind == "phrase" else 0.0
        trimmed = w.trim_penalty if kind == "name" and (start, end) != raw_span else 0.0
        spans.append(Span(start, end, sentence[start:end],
                          fit - w.overlap_penalty * repeated + proximity - length - trimmed, kind,
                          fit=fit, repeated=repeated, proximity=proximity))
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
            and following.lower not in FUNCTION_WORDS and not repeats[nxt])


def _repeats(token: _Token, q_words: set[str], q_stems: set[str], q_prefixes: set[str]) -> bool:
    """Whether the question says this word already ("Pakistani" when it asks about Pakistan):
    the same stem, or one word beginning with the other."""
    if token.stems & q_stems or token.lower in q_words:
        return True
    w = token.lower.replace("’", "'").split("'")[0]
    return len(w) >= 4 and (w in q_prefixes or any(w[:k] in q_words for k in range(4, len(w))))



def _is_date_line_prefix(sentence: str, start: int, end: int) -> bool:
    return not sentence[:start].strip(" ,") .replace(",", "").isalpha() and bool(DATE_LINE_END.match(sentence, end)) \
        and len(sentence[:start].split()) <= 1


def _dates(sentence: str) -> list[tuple[int, int, str]]:
    found: list[tuple[int, int, str]] = []
    for pattern in DATES:
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
    found = [(m.start(), m.end(), "money") for m in MONEY.finditer(sentence)]
    for m in NUMBER_SPAN.finditer(sentence):
        start, end = m.start(), m.end()
        if any(s < end and start < e for s, e, k in dates if k != "weekday" and k != "year") or \
                any(s <= start and end <= e for s, e, _ in found):
            continue
        if qtype.with_unit:
            nxt = next((t for t in tokens if t.start > end), None)
            if nxt and nxt.text.isalpha() and nxt.lower not in FUNCTION_WORDS and nxt.lower not in q_words:
                if qtype.measure == "long" and nxt.lower not in DURATION_UNITS | LENGTH_UNITS:
                    continue  # "more than 100 militants" is no length of time or distance
                end = nxt.end
            elif qtype.measure == "long":
                continue  # a bare number says nothing of how long
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
        while j + 1 < len(tokens) and not POSSESSIVE.search(tokens[j].text):
            # "Pixar's Soul": the owner and the thing owned are two names.
            if _is_name_word(tokens, j + 1) and tokens[j + 1].start - tokens[j].end <= 1:
                j += 1
            elif (tokens[j + 1].lower in NAME_JOINERS and j + 2 < len(tokens) and _is_name_word(tokens, j + 2)):
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
        between = tuple(t.lower for t in tokens[prev[1] + 1:cur[0]])
        if between in LIST_SEPARATORS:
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
    if not CAPITALISED.match(t.text) or t.lower in FUNCTION_WORDS and i == 0:
        return False
    if i == 0 or tokens[i - 1].text in NAME_OPENERS:
        # The sentence's first word is capitalised anyway: a name only if it is no function word.
        return t.lower not in FUNCTION_WORDS and not NUMBER_WORD.fullmatch(t.lower)
    return True


def _after_locative(tokens: list[_Token], start: int) -> bool:
    before = [t for t in tokens if t.end <= start]
    return bool(before) and before[-1].lower in LOCATIVES


def _phrases(tokens: list[_Token], anchors: list[int], max_words: int, *,
             locative_only: bool = False) -> list[tuple[int, int, str]]:
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
        if locative_only and not (run[0].lower in LOCATIVES or _after_locative(tokens, run[0].start)):
            continue
        # Drop the leading function words, then stop at the first preposition ("of" binds a noun phrase).
        k = 0
        while k < len(run) and run[k].lower in FUNCTION_WORDS:
            k += 1
        run = run[k:]
        cut = next((n for n, t in enumerate(run) if n and t.lower in PREPOSITIONS and t.lower != "of"), len(run))
        run = run[:cut]
        if run and len(run) <= max_words:
            out.append((run[0].start, run[-1].end, "phrase"))
    return out


def _is_boundary(token: _Token) -> bool:
    return token.text in BOUNDARY_PUNCTUATION or token.lower in CLAUSE_WORDS


def _trim(sentence: str, start: int, end: int) -> tuple[int, int]:
    """No leading or trailing function words, punctuation or spaces."""
    text = sentence[start:end]
    m = LEADING_FILLER.match(text)
    lead = m.end() if m and m.end() < len(text) and not DECADE_PART.match(text) else 0
    start += lead
    if POSSESSIVE.search(sentence[start:end]):
        end -= 2  # "Garry Marshall's"
    while end > start and sentence[end - 1] in " ,.;:’'\"”)":
        if sentence[end - 1] == "." and ENDS_WITH_ABBREVIATION.search(sentence[start:end]):
            break
        end -= 1
    while start < end and sentence[start] in " ,;:(“\"‘":
        start += 1
    return start, end
