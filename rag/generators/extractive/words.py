"""The word lists the extractive generator reads questions and sentences with.

English function words and answer-type nouns only: no list is tied to particular questions or
documents, so the rules carry over to any corpus.
"""

from __future__ import annotations

# --- sentence support (generator) ---

# Stop words a search engine may drop but an answer must respect: "where is it *now*", "*first* formed".
MEANINGFUL_WORDS = frozenset({
    "now", "first", "last", "most", "more", "only", "before", "after", "during", "against", "again", "few", "over",
    "under", "same", "other", "own", "still", "no", "not", "never"})
# The question's frame, not its topic: a sentence earns no coverage for saying "did" or "article".
QUESTION_WORDS = frozenset({
    "who", "whom", "whose", "what", "when", "where", "why", "which", "how", "many", "much", "did", "does", "do", "is",
    "are", "was", "were", "has", "have", "had", "be", "been", "according", "article", "say", "said", "tell",
    "describe", "name", "called"})

# --- answer types (question classification) ---

# The answer type a question's head noun names ("what year", "which city", "Tesla's revenue").
TIME_NOUNS = frozenset({"year", "date", "day", "month", "decade", "century", "time", "era", "season"})
PLACE_NOUNS = frozenset({
    "city", "country", "state", "town", "place", "region", "area", "province", "continent", "location", "venue",
    "capital", "headquarters", "valley", "village", "island", "nation"})
NUMBER_NOUNS = frozenset({
    "number", "amount", "population", "percentage", "percent", "total", "revenue", "price", "cost", "size", "count",
    "sales", "income", "profit", "budget", "salary", "score"})
PERSON_NOUNS = frozenset({
    "person", "man", "woman", "winner", "founder", "director", "author", "leader", "president", "ceo", "chairman",
    "editor", "player", "actor", "actress", "singer", "spokesman"})
NAME_NOUNS = frozenset({"name", "acronym", "abbreviation", "nickname", "title"})
# A question opening with one of these and no question word is a yes/no question ("Did the IMU ...?").
AUXILIARIES = frozenset({
    "is", "are", "was", "were", "do", "does", "did", "has", "have", "had", "can", "could", "will", "would", "should",
    "may", "might", "must"})
# "What is the X of ...": the head noun is X, past the verb; after any other auxiliary there is none.
COPULAS = frozenset({"is", "are", "was", "were"})
# The question words a head noun follows ("which valley", "what premiere date").
WHAT_WHICH = frozenset({"what", "which"})
# Skipped before the head noun: "what is *the* premiere date".
DETERMINERS = frozenset({"the", "a", "an", "another", "its", "their", "his", "her"})
# "How many", "how much": the number alone answers; after "how long", "how old" its unit belongs to it.
UNITLESS_MEASURES = frozenset({"many", "much"})
# What the unit of a "how long" answer can be: a duration or a length, never a count of things
# ("more than 100 militants" does not say how long an offensive lasted).
DURATION_UNITS = frozenset({
    "second", "seconds", "minute", "minutes", "hour", "hours", "day", "days", "week", "weeks", "month", "months",
    "year", "years", "decade", "decades", "century", "centuries", "night", "nights", "season", "seasons"})
LENGTH_UNITS = frozenset({
    "mm", "cm", "m", "km", "millimetres", "millimeters", "centimetres", "centimeters", "metre", "metres", "meter",
    "meters", "kilometre", "kilometres", "kilometer", "kilometers", "inch", "inches", "foot", "feet", "yard",
    "yards", "mile", "miles", "miles-long", "kilometres-long"})
# A name ending in one of these is a place or an organisation, never the person a "who" asks for
# ("the Swat Valley", "George Washington University").
NOT_PERSON_ENDINGS = PLACE_NOUNS | frozenset({
    "river", "mountains", "mountain", "lake", "sea", "ocean", "street", "road", "square", "airport", "park",
    "district", "county", "university", "college", "school", "institute", "party", "movement", "company",
    "corporation", "agency", "ministry", "department", "council", "army", "forces", "taliban", "group",
    "bank", "club", "league", "association", "committee", "organisation", "organization", "hospital"})

# --- spans (short-answer extraction) ---

PREPOSITIONS = frozenset({
    "in", "on", "at", "to", "for", "from", "with", "by", "into", "onto", "as", "than", "about", "over", "under",
    "after", "before", "during", "since", "through", "between", "among", "against", "within", "without", "upon", "via",
    "per", "across", "toward", "towards"})
# Words that open a clause: a phrase answer stops at them, as at punctuation.
CLAUSE_WORDS = frozenset({
    "which", "who", "whom", "whose", "that", "while", "because", "although", "though", "but", "where", "when",
    "whereas", "if", "says", "said", "according"})
# A span never starts or ends with one, and a sentence's first capitalised word that is one is not a name.
# "across" and "toward(s)" are prepositions that may stay at a span's edge.
FUNCTION_WORDS = AUXILIARIES | CLAUSE_WORDS | (PREPOSITIONS - {"across", "toward", "towards"}) | frozenset({
    "a", "an", "the", "and", "or", "of", "be", "been", "being", "its", "their", "his", "her", "our", "your", "this",
    "these", "those", "it", "they", "he", "she", "we", "also", "then", "now", "not", "so", "yet", "still", "thereafter",
    "however", "meanwhile", "indeed", "alongside", "outside", "what", "why", "how", "despite", "there", "here",
    "just", "only", "even", "very", "all", "some", "such", "own", "out", "up", "down", "off"})
# The noun phrase after "what/which" ends at these: "which group *of* fighters", "what movie *won*".
HEAD_NOUN_ENDS = PREPOSITIONS | AUXILIARIES | CLAUSE_WORDS | frozenset({"and", "or"})
# A name after one of these is where something is: "based *in* North Waziristan".
LOCATIVES = frozenset({"in", "at", "from", "near", "to", "into", "across", "outside", "inside", "atop", "throughout"})
# Lower-case words inside a name: "Islamic Movement *of* Uzbekistan", "Leonardo *da* Vinci".
NAME_JOINERS = frozenset({"of", "de", "da", "del", "la", "le", "van", "von", "der", "den", "du", "bin", "al", "&"})
# What separates the names of a list: "Kyrgyzstan *and* Tajikistan", "A*,* B*, and* C".
LIST_SEPARATORS = frozenset({(",",), ("and",), (",", "and"), ("or",), (",", "or")})
# After these a capital opens a quote or a clause, as at a sentence's start: it may be an ordinary word.
NAME_OPENERS = frozenset({"“", '"', "(", ":"})
# Punctuation that ends a phrase answer as a clause word does.
BOUNDARY_PUNCTUATION = frozenset(",;:()[]“”\"–—!?")
# Parentheses do not move an answer farther from the question's words; other boundaries do.
PARENTHESES = frozenset("()")
