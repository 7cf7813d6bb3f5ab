"""Make a follow-up question self-contained before retrieval.

"Where is it based now?" cannot be retrieved on its own. When a question leans on the
conversation (a pronoun, or too few words of its own) we append the subject of the previous
questions: the names and acronyms they mention, or else their content words. This is cheap,
needs no language model, and is visible: the standalone question is returned with the answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from rag.text.analysis import analyze

_PRONOUNS = re.compile(r"\b(it|its|it's|they|them|their|theirs|he|him|his|she|her|hers|this|that|these|those|"
                       r"there|the group|the organi[sz]ation|the company|the article|the same)\b", re.I)
_NAME = re.compile(r"\b(?:[A-Z][A-Za-z’'\-]+|[A-Z]{2,})(?:\s+(?:of\s+)?[A-Z][A-Za-z’'\-]+)*")
_SKIP_NAMES = {"When", "Where", "What", "Who", "Why", "How", "Which", "Did", "Does", "Do", "Is", "Are", "Was",
               "Were", "According", "Tell", "And", "The", "In", "On", "A", "An", "Can", "Could", "I"}


def user_turns(history: Sequence[Any] | None) -> list[str]:
    """User messages from either [(user, bot), ...] pairs or [{"role", "content"}, ...] messages."""
    turns: list[str] = []
    for item in history or ():
        if isinstance(item, dict):
            if item.get("role") == "user" and isinstance(item.get("content"), str):
                turns.append(item["content"])
        elif isinstance(item, (list, tuple)) and item and isinstance(item[0], str):
            turns.append(item[0])
    return turns


def subject_of(questions: Iterable[str]) -> list[str]:
    names: list[str] = []
    for q in questions:
        for m in _NAME.finditer(q):
            words = [w for w in m.group().split() if w not in _SKIP_NAMES]
            if words:
                names.append(" ".join(words))
    return list(dict.fromkeys(names))


def needs_context(question: str) -> bool:
    own_terms = [t for t in analyze(question) if t not in {"base", "now", "first", "later", "also"}]
    return bool(_PRONOUNS.search(question)) or (not subject_of([question]) and len(own_terms) <= 1)


_CONTEXT = re.compile(r"^(?P<own>.*\S)\s+\((?P<context>[^()]*)\)$", re.S)


def split_context(standalone: str) -> tuple[str, str]:
    """The user's own words and the conversation's subject that `condense` appended ("" if none).

    The appended subject tells retrieval where to look, but it is context, not the question: a
    sentence that only mentions the subject does not answer "who leads it?"."""
    m = _CONTEXT.match(standalone)
    if m:
        return m.group("own"), m.group("context")
    return standalone, ""


def condense(question: str, history: Sequence[Any] | None) -> str:
    previous = user_turns(history)
    if not previous or not needs_context(question):
        return question
    # The most recent question that names something is the likeliest antecedent.
    for earlier in reversed(previous[-3:]):
        names = subject_of([earlier])
        if names:
            return f"{question} ({', '.join(names[:3])})"
    words = [w for w in re.findall(r"[A-Za-z][\w’'-]+", previous[-1]) if len(analyze(w)) == 1][:6]
    return f"{question} ({' '.join(words)})" if words else question
