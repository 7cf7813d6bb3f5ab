"""Validation of user questions, shared by every entry point."""

from __future__ import annotations

import re
import unicodedata

from rag.core.errors import QuestionError
from rag.safety.bidi import without_bidi

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_question(question: object, max_chars: int = 4000) -> str:
    if not isinstance(question, str):
        raise QuestionError(f"the question must be text, not {type(question).__name__}")
    # Undecodable bytes arrive as surrogate escapes (\udc80-\udcff); a string cut inside an emoji
    # holds half a surrogate pair. Neither is text, and the tokenizer would fail on both.
    if any("\ud800" <= ch <= "\udfff" for ch in question):
        raise QuestionError("the question is not valid UTF-8 text; re-type it or fix the terminal encoding")
    # Controls that only reorder text are dropped; zero-width characters (format characters, which
    # str.split() does not take for spaces) are kept inside words but are not a question alone.
    text = " ".join(_CONTROL.sub(" ", without_bidi(question)).split())
    if not text or all(unicodedata.category(ch) == "Cf" or ch.isspace() for ch in text):
        raise QuestionError("the question is empty; type a question about the documents")
    if len(text) > max_chars:
        raise QuestionError(f"the question is {len(text):,} characters long; the limit is {max_chars:,} "
                            "(set max_question_chars to change it). Ask about one thing at a time.")
    return text
