"""Text shown to a person carries no control that reorders it."""

from __future__ import annotations

from rag.safety.bidi import without_bidi
from rag.text.questions import clean_question

EVERY_CONTROL = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def test_every_bidirectional_control_is_removed_and_nothing_else():
    assert without_bidi(f"quote: “{EVERY_CONTROL}evil”") == "quote: “evil”"
    assert without_bidi("שלום, العربية and 中文\u200d") == "שלום, العربية and 中文\u200d"  # scripts and joiners stay


def test_a_question_loses_its_bidi_controls_but_keeps_its_words():
    assert clean_question("When was the \u202eIMU\u202c formed?") == "When was the IMU formed?"
