"""Words that decide how a generated sentence is cut into claims and which of its words must be
found in the passage it cites. Data, so a language or a domain can change them without touching
the checking code."""

from __future__ import annotations

# Words that start a new claim inside a sentence: "…in Northern Afghanistan, and the password is
# hunter2" makes two claims, and each must be supported on its own.
CLAUSE_WORDS = frozenset({
    "and", "but", "or", "nor", "yet", "so", "while", "whereas", "although", "though", "because", "since",
    "unless", "whereby", "where", "when", "which", "who", "whom", "whose", "including", "plus",
})

# Numbers written as words are facts as much as digits are: "several thousand fighters" is not
# "a few hundred fighters".
NUMBER_WORDS = frozenset({
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty", "thirty",
    "forty", "fifty", "sixty", "seventy", "eighty", "ninety", "hundred", "hundreds", "thousand", "thousands",
    "million", "millions", "billion", "billions", "dozen", "dozens", "twice", "thrice", "percent",
})

# Words that carry no claim of their own (pronouns, auxiliaries, determiners, prepositions):
# "and most of them were Uzbeks" claims one thing, Uzbeks. Added to the index's stop words when
# a sentence's support is counted, so a short claim is not diluted by its grammar.
FUNCTION_WORDS = frozenset({
    "i", "me", "my", "mine", "we", "us", "our", "ours", "you", "your", "yours", "he", "him", "his", "she", "her",
    "hers", "its", "itself", "them", "themselves", "theirs", "himself", "herself", "ourselves", "who", "whom",
    "whose", "which", "what", "where", "when", "why", "how", "those", "am", "were", "been", "being", "has",
    "have", "had", "having", "do", "does", "did", "doing", "can", "could", "would", "should", "shall", "may",
    "might", "must", "about", "above", "after", "against", "along", "among", "around", "before", "behind",
    "below", "between", "beyond", "during", "from", "over", "through", "toward", "towards", "under", "upon",
    "within", "without", "so", "than", "too", "very", "just", "also", "only", "both", "each", "either",
    "neither", "all", "any", "some", "most", "more", "much", "many", "few", "other", "another", "same", "own",
    "here", "now", "yet", "while", "because", "although", "though", "since", "until", "unless", "whether",
    "whereas", "however", "thus", "therefore", "indeed", "still", "even", "ever", "again", "further", "once",
    "nor", "onto", "per", "via", "like",
})
