"""Is a question in English? The embedding model is English-only: a question in another
language finds the wrong passages, and the user should be told rather than left with a refusal.

Offline and instant: the share of letters outside the Latin script, then a count of each
language's most frequent function words (a question is short, but nearly every question has a
few of them). Only a clear majority for another language counts, so English questions full of
foreign names stay English.
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)

def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The commonest function words; words shared with English ("a", "in", "die" …) are left out.
FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "English": _words("the of and to is was are were what when where who whom which why how does did do "
                         "has have had it its this that these those with from for by at on an be been "
                         "first many much there their they he she his her can could would should"),
    "Spanish": _words("el la los las de del que qué y es fue son cuándo cuando dónde donde quién quien "
                         "cómo como cuál cual cuántos cuántas por para con una un se su sus lo al está "
                         "están fueron tiene hay primera primero"),
    "German": _words("der die das den dem des und ist war sind wann wo wer wie warum welche welcher "
                        "wurde wurden hat haben ein eine einen nicht mit von zu im auf für sich gegründet "
                        "viele wieviele basiert heute zuerst"),
    "French": _words("le la les des du et est était sont quand où qui comment pourquoi quel quelle "
                        "quels combien une un pas avec pour sur dans été fut première premier se sa son "
                        "ses au aux"),
    "Italian": _words("il lo la gli le di del della che è era sono quando dove chi come perché quale "
                         "quanti una un con per nel nella stato stata prima"),
    "Portuguese": _words("o os as do da dos das que é foi são quando onde quem como porque qual quantos "
                            "uma um com para no na pela pelo primeira"),
    "Dutch": _words("de het een en is was zijn wanneer waar wie hoe waarom welke werd werden heeft "
                       "hebben niet met van voor op eerst"),
}


def question_language(question: str) -> str:
    """'English', another language's name, or 'another language' for a non-Latin script."""
    letters = [ch for ch in question if ch.isalpha()]
    if not letters:
        return "English"
    non_latin = sum(1 for ch in letters if not unicodedata.name(ch, "").startswith("LATIN"))
    if non_latin / len(letters) > 0.3:
        return "another language"
    words = [w.lower() for w in _WORD.findall(question)]
    counts = {lang: sum(w in vocab for w in words) for lang, vocab in FUNCTION_WORDS.items()}
    english = counts.pop("English")
    best = max(counts, key=counts.get)
    if counts[best] >= 2 and counts[best] > english:
        return best
    if "¿" in question or "ß" in question:
        return "Spanish" if "¿" in question else "German"
    return "English"


def language_note(question: str) -> str:
    """A note for the user when the question is not English, else ''."""
    language = question_language(question)
    if language == "English":
        return ""
    return (f"This question looks like {language}. The documents are searched with an English-only model, "
            "so answers are found best when you ask in English.")
