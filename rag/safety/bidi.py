"""Text made safe to show: the Unicode controls that reorder text are removed.

An embedding (U+202A-U+202E), isolate (U+2066-U+2069) or mark (U+200E, U+200F) inside a document
makes a browser or terminal draw the characters after it in another order, so a quote can be
shown reversed, or a title made to read as something else. They carry no words, so display drops
them; the stored text keeps them, and citation offsets stay offsets into it.
"""

from __future__ import annotations

import re

BIDI_CONTROLS = "\u200e\u200f\u202a-\u202e\u2066-\u2069"
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")


def without_bidi(text: str) -> str:
    """`text` with every bidirectional control removed."""
    return _BIDI.sub("", text)
