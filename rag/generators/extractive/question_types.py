"""What a question asks for, read once for both the sentence choice and the short answer.

`question_type` gives two readings of the question, each tuned with the step that uses it:

- `kind`, the span that answers it, for the short answer: a time for "when", a number for "how
  many", a name for "who", a place for "where", a name or phrase for "what/which X"; none for
  "why", "how" and yes/no questions, whose answer is the sentence itself. The head noun after
  "what/which" names the type ("which valley" is a place, "what year" a time).
- `sentence_kind`, what a supporting sentence should mention, for the support bonus: a coarser
  reading of the question words alone ("how long" and "what is the population" earn no number
  bonus; "why ..., when ..." a time bonus). The abstention threshold was calibrated with it.

and `asks_reason`, whether it asks for a cause ("why", "what caused"), which brings causal
sentences forward and a "Thereafter" sentence's cause with it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Literal

from rag.generators.extractive.patterns import (
    ASKS_COUNT_OR_SIZE,
    ASKS_HOW,
    ASKS_MEASURE,
    ASKS_PERSON,
    ASKS_PLACE_NOUN,
    ASKS_REASON,
    ASKS_TIME_NOUN,
    ASKS_WHEN,
    ASKS_WHERE,
    ASKS_WHY,
    ASKS_WORDING,
    HAS_QUESTION_WORD,
    OPTIONS,
    QUESTION_WORD_TOKEN,
)
from rag.generators.extractive.words import (
    AUXILIARIES,
    COPULAS,
    DETERMINERS,
    HEAD_NOUN_ENDS,
    NAME_NOUNS,
    NUMBER_NOUNS,
    PERSON_NOUNS,
    PLACE_NOUNS,
    TIME_NOUNS,
    UNITLESS_MEASURES,
    WHAT_WHICH,
)

AnswerKind = Literal["time", "number", "person", "place", "name", "entity", "phrase"]
SentenceKind = Literal["time", "number", "person", "place"]

# The answer type each head noun names; the first list holding the noun wins.
_TYPED_NOUNS: tuple[tuple[AnswerKind, frozenset[str]], ...] = (
    ("time", TIME_NOUNS), ("place", PLACE_NOUNS), ("number", NUMBER_NOUNS), ("person", PERSON_NOUNS),
    ("name", NAME_NOUNS))
# A choice between two named options is offered only where a name or phrase answers.
_CHOICE_KINDS = ("entity", "person", "place", "phrase")


@dataclass(frozen=True)
class QuestionType:
    kind: AnswerKind | None  # the span that answers; None: the sentence is the answer
    with_unit: bool = False  # "how long", "how old": the unit belongs to the answer
    plural: bool = False  # "which countries": a list answers
    money: bool = False  # "how much"
    head: str = ""  # the noun the question asks for: "valley" in "which valley"; part of a name answer
    options: tuple[str, ...] = ()  # "which is stronger, the IMU or the TTP?": the answer is one of them
    sentence_kind: SentenceKind | None = None  # what a supporting sentence should mention (the support bonus)
    asks_reason: bool = False  # "why", "what caused": a causal sentence answers
    # The head noun names the answer's type right after the question word ("which valley": the answer
    # may say "valley" too); a head found further on ("what is the TTP also known as") is the
    # question's own word, which no answer repeats.
    head_names_answer: bool = False
    measure: str = ""  # "long" in "how long", "many" in "how many"
    # The words a counted answer must stand next to: the thing counted and what happened to it
    # ("how many people were injured": people, injured); a number elsewhere counts something else.
    slot: tuple[str, ...] = ()


@lru_cache(maxsize=4096)
def question_type(question: str) -> QuestionType:
    q = question.lower().strip()
    return replace(_answer_type(question, q), sentence_kind=_sentence_kind(q),
                   asks_reason=bool(ASKS_REASON.search(question)))


def _answer_type(question: str, q: str) -> QuestionType:
    qtype = _span_type(q)
    m = OPTIONS.search(question)
    if m and qtype.kind in _CHOICE_KINDS:
        return QuestionType(qtype.kind, options=(m.group(1), m.group(2)), head=qtype.head)
    return qtype


def _span_type(q: str) -> QuestionType:
    words = QUESTION_WORD_TOKEN.findall(q)
    if ASKS_WHY.search(q):
        return QuestionType(None)
    m = ASKS_MEASURE.search(q)
    if m:
        return QuestionType("number", with_unit=m.group(1) not in UNITLESS_MEASURES, money=m.group(1) == "much",
                            measure=m.group(1), slot=_counted(QUESTION_WORD_TOKEN.findall(q[m.end():]))
                            if m.group(1) == "many" else ())
    if ASKS_WORDING.search(q):
        return QuestionType("phrase")
    if ASKS_WHEN.search(q):
        return QuestionType("time")
    wh = next((i for i, w in enumerate(words) if w in WHAT_WHICH), None)
    head = _head_noun(words[wh + 1:]) if wh is not None else None
    if head is None and not HAS_QUESTION_WORD.search(q):
        if words and words[0] in AUXILIARIES:
            return QuestionType(None)  # yes/no
        head = words[-1] if words else None  # a keyword query: "Super Bowl 2021 location"
    typed = _noun_kind(head)
    names_answer = bool(typed) or (wh is not None and head is not None and wh + 1 < len(words)
                                   and words[wh + 1] == head)
    if typed:
        return QuestionType(typed, plural=bool(head and head.endswith("s") and not head.endswith("ss")
                                                 and typed == "place"), head=head or "", head_names_answer=True)
    if ASKS_PERSON.search(q):
        return QuestionType("person")
    if ASKS_WHERE.search(q):
        return QuestionType("place")
    if ASKS_HOW.search(q):
        return QuestionType(None)  # manner: the sentence is the answer
    if wh is not None:
        if head:
            return QuestionType("entity", plural=head.endswith("s") and not head.endswith("ss"), head=head,
                                head_names_answer=names_answer)
        return QuestionType("phrase")
    return QuestionType(None)


def _sentence_kind(q: str) -> SentenceKind | None:
    if ASKS_COUNT_OR_SIZE.search(q):
        return "number"
    if ASKS_WHEN.search(q) or ASKS_TIME_NOUN.search(q):
        return "time"
    if ASKS_PERSON.search(q):
        return "person"
    if ASKS_WHERE.search(q) or ASKS_PLACE_NOUN.search(q):
        return "place"
    return None


def _counted(after_measure: list[str]) -> tuple[str, ...]:
    """"how many [people] were [injured] ...": the counted noun and the participle after its verb."""
    if not after_measure or after_measure[0] in AUXILIARIES:
        return ()
    slot = [after_measure[0]]
    if len(after_measure) > 2 and after_measure[1] in COPULAS | {"been"} and after_measure[2] not in DETERMINERS:
        slot.append(after_measure[2])
    return tuple(slot)


def _head_noun(after_wh: list[str]) -> str | None:
    """The noun right after "what/which" ("which group", "what is the premiere date of"), if any."""
    phrase: list[str] = []
    for i, w in enumerate(after_wh):
        if i == 0 and w in AUXILIARIES:
            # "what is the X of ...": the head is the subject's noun; "what did X do": no head.
            if w not in COPULAS:
                return None
            continue
        if i == 0:
            # "which valley did ...", "what movie won ...": the noun right after the question word,
            # or the typed noun after it ("what premiere date").
            nxt = after_wh[1] if len(after_wh) > 1 else ""
            return nxt if _noun_kind(nxt) and not _noun_kind(w) else w
        if w in DETERMINERS and not phrase:
            continue
        if w in HEAD_NOUN_ENDS:
            break
        phrase.append(w)
    if not phrase:
        return None
    # "premiere date", "Tesla's revenue": the head is the last word; a typed noun anywhere names the type.
    typed = [w for w in phrase if _noun_kind(w)]
    return typed[-1] if typed else phrase[-1]


def _noun_kind(noun: str | None) -> AnswerKind | None:
    if not noun:
        return None
    singular = noun[:-1] if noun.endswith("s") and not noun.endswith("ss") else noun
    for kind, nouns in _TYPED_NOUNS:
        if noun in nouns or singular in nouns or (singular.endswith("ie") and singular[:-2] + "y" in nouns):
            return kind
    return None
