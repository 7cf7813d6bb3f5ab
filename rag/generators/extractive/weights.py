"""The tuned numbers of the extractive generator, in one place.

Each default is the value the answers on the evaluation sets were tuned with (README "Quality"):
changing one changes answers, so `rag eval` writes them into its report beside the figures they
produced. Settings a user chooses (the abstention threshold, how many sentences are re-scored)
are user settings (`ExtractiveSettings`), not weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


def _type_fit() -> dict[str, dict[str, float]]:
    return {
        "time": {"date": 1.0, "year": 0.85, "weekday": 0.6},
        "number": {"number": 1.0, "money": 1.0},
        "person": {"name": 1.0, "list": 0.7},
        "name": {"name": 1.0, "quoted": 0.95, "list": 0.7},
        "place": {"name": 1.0, "list": 0.7, "phrase": 0.55},
        "entity": {"name": 1.0, "list": 0.8, "quoted": 0.9, "phrase": 0.75, "date": 0.5, "number": 0.5,
                   "money": 0.5},
        "phrase": {"phrase": 0.9, "name": 0.85, "quoted": 0.95, "list": 0.7, "date": 0.6, "number": 0.6,
                   "money": 0.6},
    }


@dataclass(frozen=True)
class ExtractiveWeights:
    # --- a sentence's support: cosine_weight * cosine + (1 - cosine_weight) * coverage + bonus - penalty ---
    cosine_weight: float = 0.4  # the embedding's share of support; the rest is IDF-weighted term coverage
    previous_sentence_credit: float = 0.5  # a question term found only in the sentence before counts this much
    kind_bonus: float = 0.10  # the sentence holds the kind of thing asked for (a year for "when", a cause for "why")
    # Numbers in a question (a year, an edition: "in 2019", "the 92nd Academy Awards") are constraints:
    # a sentence about another year answers another question.
    missing_number_penalty: float = 0.3  # the sentence (with the one before) lacks a number the question names
    # Questions about the document itself ("what is the headline?", "when was it published?", "who took
    # the photo?") are answered by its title, date line or photo caption, which share no words with them.
    structure_support: float = 0.75  # such a match counts as this well supported at least
    # A sentence's own vector raised its support by at most 0.097 on the three eval sets (0.05 at p99);
    # with this margin every answer stayed the same and the answer step on realtimeqa_2023 took about
    # 6 ms less at p50.
    rescore_margin: float = 0.1  # only sentences this close to the best are re-embedded on their own
    min_sentence_terms: int = 2  # fewer content words than this and a sentence is no candidate

    # --- which sentences are quoted ---
    answer_margin: float = 0.3  # sentences this close to the best compete on holding the answer's type (a date
    #                             for "when"): the quote moves, never the confidence
    answer_weight: float = 0.3  # how much a sentence's best short-answer score moves it among those
    answer_score_cap: float = 1.3  # ... counted up to this score, so one strong span cannot outweigh support
    question_sentence_penalty: float = 0.2  # a sentence that is itself a question answers nothing
    second_sentence_margin: float = 0.06  # a second sentence must score this close to the first
    max_sentences: int = 2  # the most sentences an answer quotes

    # --- page structure that is no statement of fact ---
    headline_words: int = 15  # a first line this short above a blank line is a headline
    date_line_chars: int = 40  # a line longer than this is no date line

    # --- the short answer: type fit - overlap + proximity - penalties, at least min_score ---
    min_score: float = 0.75  # below this no span is sure enough to lead the answer
    proximity_weight: float = 0.5  # the score of a span right next to the question's words
    direction_discount: float = 0.8  # a span on the unusual side of the question's words (a "who" after them)
    subject_bonus: float = 0.2  # "Emma Stone has won the best actress Oscar": who is the sentence's subject
    overlap_penalty: float = 0.6  # times the share of a span's words the question already says
    later_sentence_penalty: float = 0.1  # per quoted sentence before the one holding the span
    max_phrase_words: int = 8  # a longer run of words is no phrase answer
    long_phrase_words: int = 5  # a phrase answer longer than this ...
    long_phrase_penalty: float = 0.04  # ... loses this much per extra word
    trim_penalty: float = 0.1  # a name cut down around the question's words is less sure than a whole one
    possessive_penalty: float = 0.5  # "Central Asia’s Ferghana Valley": the owner only qualifies the thing asked for
    modifier_penalty: float = 0.25  # "the Afghan Taliban", "the Paris podium": a name used as an adjective
    head_bonus: float = 0.5  # "which university": "George Washington University" names the kind asked for
    slot_window: int = 6  # words either side of a count where the counted thing must be named
    money_bonus: float = 0.1  # "how much" prefers an amount of money to a bare number
    plural_list_fit: float = 1.0  # "which countries": a list fits at least this well ...
    plural_list_bonus: float = 0.2  # ... plus this: all of them, not one
    place_with_region_bonus: float = 0.05  # "Tampa, Florida" says more than "Tampa"
    locative_place_bonus: float = 0.1  # "based in North Waziristan": a name after "in" is a place
    locative_person_penalty: float = 0.2  # "a teacher in Las Vegas": a place, not the person asked for
    # How well a span of one kind (date, name, list, ...) answers a question of another (time, person, ...):
    # the spans a question's kind looks for are the keys of its row.
    type_fit: Mapping[str, Mapping[str, float]] = field(default_factory=_type_fit, hash=False)
