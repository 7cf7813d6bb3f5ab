"""The regular expressions the extractive generator reads questions and sentences with.

Grouped by what they read. Where two patterns look alike but match different things (a number a
sentence mentions vs. a number span that answers), both are kept, named for the difference: the
answers were tuned with each.
"""

from __future__ import annotations

import re

# --- shared fragments ---

# A year as the documents write one: four digits from 1500 to 2099.
YEAR_DIGITS = r"(?:1[5-9]\d\d|20\d\d)"
WEEKDAYS = r"Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
MONTH_NAMES = r"January|February|March|April|May|June|July|August|September|October|November|December"
# Month names as dates abbreviate them: "Sept. 5", "Jun 4, 2023".
MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
         r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
# Counts said in words; also never the start of a name ("Two Afghan soldiers").
NUMBER_WORDS = ("one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|"
                "fifty|hundred|a dozen|dozens|hundreds|thousands|millions|billions|a few|few|several")
# "more than", "about", "an estimated": part of an amount's answer, not noise before it.
AMOUNT_MODIFIER = (r"(?:(?:more|less|fewer)\s+than|about|around|nearly|almost|over|under|at\s+least|up\s+to|"
                   r"some|only|roughly|approximately|an\s+estimated)\s+")

# --- questions: what kind of thing is asked for (question_types) ---

# The words of a question, for finding its head noun ("which *valley*").
QUESTION_WORD_TOKEN = re.compile(r"[a-z][a-z'’\-]*")
# A reason is asked for: no span answers; the sentence is the answer.
ASKS_WHY = re.compile(r"\bwhy\b|\bfor what reason\b")
# A reason in a wider sense ("what caused"): a causal sentence earns the support bonus and a
# "Thereafter" quote brings its cause.
ASKS_REASON = re.compile(r"\bwhy\b|\bfor what reason\b|\bwhat (explains|caused|drove|made)\b", re.I)
# "How many", "how long", "how tall": a number answers; the word says whether its unit goes with it.
ASKS_MEASURE = re.compile(r"\bhow (many|much|long|old|far|tall|big|large|often|high|deep|wide)\b")
# "How do experts describe ...": the answer is the words used, a phrase.
ASKS_WORDING = re.compile(r"\bhow (do|does|did|is|are|was|were|would|could|can)\b.*\b(describe|call|characteri[sz]e|"
                          r"define|refer to|name|label|term)\b")
ASKS_WHEN = re.compile(r"\bwhen\b")
ASKS_PERSON = re.compile(r"\b(who|whom|whose)\b")
ASKS_WHERE = re.compile(r"\bwhere\b")
ASKS_HOW = re.compile(r"\bhow\b")
# Any question word: without one, a question is a yes/no question or a keyword query.
HAS_QUESTION_WORD = re.compile(r"\b(who|whom|whose|where|what|which|how)\b")
# "Which is stronger, the IMU or the TTP?": the answer is one of the two named.
OPTIONS = re.compile(r"(?:,|\bbetween)\s+(?:the\s+)?([\w'’.\- ]{1,40}?)\s+(?:or|and)\s+(?:the\s+)?([\w'’.\- ]{1,40}?)"
                     r"\s*\?*$", re.I)
# The coarser reading the support bonus was calibrated with: a count or size ...
ASKS_COUNT_OR_SIZE = re.compile(r"\bhow (many|much)\b|\bnumber of\b|\bhow large\b|\bhow big\b")
# ... a time named by its noun ("what year", "which month") ...
ASKS_TIME_NOUN = re.compile(r"\bwhat (year|date|day|month|decade|time)\b|\bwhich (year|date|day|month)\b")
# ... or a place named by its noun ("which city").
ASKS_PLACE_NOUN = re.compile(r"\bwhich (city|country|region|place|area)\b")

# --- questions about the document itself (answered by its title, date line or photo caption) ---

ASKS_TITLE = re.compile(r"\b(headline|title)\b", re.I)
ASKS_DATE = re.compile(r"\b(published|publication date|dated)\b|\bdate of (the|this) (article|story|piece)\b", re.I)
ASKS_PHOTO = re.compile(r"\b(photo|photograph|picture|image)\b", re.I)
PHOTO_CAPTION = re.compile(r"^(photo|photograph|picture|image)( credit)?\s*:", re.I)

# --- questions of two parts ---

# "Who founded the IMU, and where were they based?": a second question word after a comma or "and".
SECOND_QUESTION = re.compile(r"(?:,\s*(?:and\s+)?|\s+and\s+|\?\s+)(?=(?:who|whom|what|when|where|which|why|how)\b)",
                             re.I)
# Each part must open as a question of its own: "According to the military, what ..." is one question.
OPENS_QUESTION = re.compile(r"^(who|whom|whose|what|when|where|which|why|how|is|are|was|were|do|does|did|has|have|"
                            r"had|can|could|will|would)\b", re.I)

# --- sentences: what they hold, for the support bonus (generator) ---

# The digits of a number a question names ("in 2019", "the 92nd"): a sentence about another number
# answers another question.
NAMED_NUMBER = re.compile(r"\b(\d+)(?:st|nd|rd|th)?\b")
# A sentence mentions a time: a year or decade, a month or a weekday.
MENTIONS_TIME = re.compile(rf"\b{YEAR_DIGITS}s?\b|\b(?:{MONTH_NAMES}|{WEEKDAYS})\b", re.I)
# A sentence mentions a number: any digits or a count word, however loose ("many").
MENTIONS_NUMBER = re.compile(r"\b\d[\d,.]*\b|\b(one|two|three|four|five|six|seven|eight|nine|ten|dozens?|hundreds?|"
                             r"thousands?|millions?|few|several|many)\b", re.I)
# A capitalised word inside a sentence (not its first): a name, for "who" and "where".
PROPER_NAME_WORD = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+")
# The words of a question, to tell a name the sentence adds from one the question says.
LETTERS = re.compile(r"[A-Za-z]+")
# A sentence opening with a connector continues the one before, which holds its cause.
OPENS_WITH_CONNECTOR = re.compile(r"^(thereafter|then|so|thus|therefore|consequently|hence|afterwards|after that|"
                                  r"later|since then|as a result|in turn|that is why|this is why)\b", re.I)
# A sentence that states a cause answers a "why" better than one that only shares its words.
STATES_CAUSE = re.compile(r"\b(because|due to|as a result|since|so that|in order to|caus(e|ed|es)|led to|leads? to|"
                          r"reasons?|results? of|product of|owing to|thanks to|driven|forced|incentive|explains?|"
                          r"has to do with|stems? from)\b", re.I)
# A page's date line is part of the page, not a statement: "3 hours ago" ...
RELATIVE_DATE_LINE = re.compile(r"\d+\s+(minutes?|hours?|days?|weeks?|months?)\s+ago", re.I)
# ... or "Jun 4, 2023".
SHORT_DATE_LINE = re.compile(r"[A-Z][a-z]{2}\.? \d{1,2}, \d{4}")
# Streaming hands out an answer word by word, each with the space after it.
STREAMED_WORD = re.compile(r"\S+\s*")

# --- spans: the candidates a short answer is chosen from (short_answer) ---

YEAR = re.compile(rf"\b{YEAR_DIGITS}\b")
# Most specific first: a span inside one already found is not found again.
DATES = tuple(re.compile(p) for p in (
    rf"\b{MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+(?:of\s+)?\d{{4}}\b",
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{MONTH},?\s+\d{{4}}\b",
    rf"\b{MONTH},?\s+\d{{4}}\b",
    rf"\b{MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?\b",
    r"\b(?:the\s+)?(?:early|mid|late)[\s-]+\d{4}s\b",
    r"\b(?:the\s+)?(?:early|mid|late)[\s-]+\d0s\b",
    r"\b(?:the\s+)?\d{4}s\b",
    r"\bQ[1-4]\s+\d{4}\b",
    YEAR.pattern,
    rf"\b(?:{WEEKDAYS})\b",
))
MONEY = re.compile(r"(?:[$€£¥]\s?\d[\d,]*(?:\.\d+)?(?:\s*(?:million|billion|trillion|bn|m|k)\b)?"
                   r"|\b\d[\d,]*(?:\.\d+)?\s*(?:million|billion|trillion)?\s*(?:dollars|euros|pounds|yen|yuan)\b)",
                   re.I)
# An amount that answers "how many": with its modifier and scale ("more than 2 million").
NUMBER_SPAN = re.compile(rf"(?:\b{AMOUNT_MODIFIER})?(?:\b\d[\d,]*(?:\.\d+)?%?|\b(?:{NUMBER_WORDS})\b)"
                         r"(?:\s+(?:hundred|thousand|million|billion|trillion|percent|per\s+cent)\b)?", re.I)
NUMBER_WORD = re.compile(NUMBER_WORDS)
QUOTED = re.compile(r"“([^”]{2,120})”|\"([^\"]{2,120})\"")
# A sentence's tokens: amounts with their currency, words with inner apostrophes, dots and hyphens, punctuation.
TOKEN = re.compile(r"[$€£¥]?\d[\d,.]*\d%?|[$€£¥]?\d%?|[^\W\d_](?:[\w'’.\-]*\w)?\.?|[^\w\s]")
# The words a question is made of, for telling which words of a sentence it already says.
WORD = re.compile(r"\w+")
CAPITALISED = re.compile(r"^(?:[A-Z][\w'’.\-]*|[A-Z]{2,}s?)$")
# "Central Asia’s": the owner qualifies the thing named after it.
POSSESSIVE = re.compile(r"\w['’]s$")
# "U.S.": its last dot belongs to it, not to the sentence.
ABBREVIATION = re.compile(r"(?:[A-Za-z]\.){2,}")
ENDS_WITH_ABBREVIATION = re.compile(r"\b(?:[A-Za-z]\.){2,}$")
# What follows a page's date line: "Jun 4, 2023 ... The iPhone 11".
DATE_LINE_END = re.compile(r"\s*(?:\.\.\.|…|—|·|\|)")
# Articles and prepositions a span does not start with ("in the late 1990s" answers "late 1990s") ...
LEADING_FILLER = re.compile(r"^(?:(?:the|a|an|in|on|at|of|by|from|to)\s+)*", re.I)
# ... except before a part of a decade, which keeps its article: "the late 1990s".
DECADE_PART = re.compile(r"(?:the\s+)?(?:early|mid|late)[\s-]", re.I)
