"""Text made safe for a terminal: what documents and models say is shown, never obeyed.

A document id, title or passage (or a model's reply) may hold escape sequences that would move
the cursor, rewrite earlier lines, change the window title or hide text. Control characters are
shown as visible escapes (ESC as `\\x1b`), as are the Unicode controls that reorder text.
"""

from __future__ import annotations

import json
import re

from rag.safety.redact import redact, redact_data

# C0 and C1 controls and DEL, plus bidirectional overrides and isolates.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROLS_BUT_LAYOUT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def plain(text: object, *, multiline: bool = False) -> str:
    """`text` with secrets masked and control characters made visible; `multiline` keeps newlines
    and tabs (for passages and answers), otherwise they are escaped too (ids, titles)."""
    pattern = _CONTROLS_BUT_LAYOUT if multiline else _CONTROLS
    return pattern.sub(_visible, redact(str(text)))


def json_text(data: object) -> str:
    """`data` as indented JSON, secrets masked; controls JSON leaves raw (DEL, C1, bidi) are escaped
    as \\uXXXX, which only ever occur inside strings, so the output stays the same JSON."""
    text = json.dumps(redact_data(data), ensure_ascii=False, indent=2)
    return _JSON_RAW_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


_JSON_RAW_CONTROLS = re.compile("[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
