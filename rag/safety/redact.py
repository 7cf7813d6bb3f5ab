"""Masking of secrets in any text that leaves the program.

Secrets are the configured API key (read from the environment variables named by
`openai_api_key_env`, so a key exported after start-up is covered too) and anything shaped like
a bearer token or an OpenAI-style `sk-...` key. Masking happens before truncation or formatting:
a cut-off key is no longer recognisable as the key, so the order is the whole point.

    redact(text)                 the text with every secret replaced by ***
    StreamRedactor().feed(piece) the same for text arriving in pieces (a key split across two
                                 pieces is still masked)
    install_log_redaction()      every log record, whoever logs it, is masked when it is made
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable
from typing import Any

MASK = "***"
# A configured key shorter than this is not a real key (a placeholder such as "x"), and masking
# every occurrence of a short word would garble the output.
MIN_SECRET_CHARS = 8
_TOKEN_CHARS = r"A-Za-z0-9._~+/=\-"
_PATTERNS = (
    # "Authorization: Bearer <token>" and "bearer <token>" in any error body or message.
    (re.compile(rf"(?i)\b(bearer)(\s+)[{_TOKEN_CHARS}]{{8,}}"), rf"\1\2{MASK}"),
    # OpenAI-style keys (sk-..., sk-proj-...), wherever they stand.
    (re.compile(r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_\-]{10,}"), MASK),
    # This server's own API keys (rag.app.access): rag_<id>_<secret>.
    (re.compile(r"(?<![A-Za-z0-9])rag_[0-9a-f]{8}_[A-Za-z0-9_\-]{20,}"), MASK),
)

_lock = threading.Lock()
_env_names: set[str] = {"OPENAI_API_KEY"}
_values: set[str] = set()


def watch_env(name: str) -> None:
    """Treat the value of environment variable `name` as a secret (read at every use)."""
    if name:
        with _lock:
            _env_names.add(name)


def remember(secret: str | None) -> None:
    """Treat `secret` as a secret from now on (e.g. a key passed in code rather than by environment)."""
    if secret and len(secret) >= MIN_SECRET_CHARS:
        with _lock:
            _values.add(secret)


def secrets() -> list[str]:
    """The literal secrets known now, longest first (so a key containing another is masked whole)."""
    with _lock:
        found = set(_values)
        names = list(_env_names)
    for name in names:
        value = os.environ.get(name, "").strip()
        if len(value) >= MIN_SECRET_CHARS:
            found.add(value)
    return sorted(found, key=len, reverse=True)


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """`text` with every known secret and every token-shaped string replaced by ***."""
    if not text:
        return text
    for secret in [*secrets(), *(s for s in extra if s and len(s) >= MIN_SECRET_CHARS)]:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_data(value: Any) -> Any:
    """`redact` applied to every string inside nested dicts, lists and tuples (JSON-like data)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_data(v) for v in value)
    return value


class StreamRedactor:
    """Masks text that arrives in pieces. The tail that could still be the start of a secret (the
    last two whitespace-separated words: "Bearer" and a token are two) is held back until the next
    piece shows how it ends; `flush()` releases it at the end of the stream."""

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, piece: str) -> str:
        self._pending += piece
        cut = _hold_from(self._pending)
        ready, self._pending = self._pending[:cut], self._pending[cut:]
        return redact(ready)

    def flush(self) -> str:
        ready, self._pending = self._pending, ""
        return redact(ready)


def _hold_from(text: str) -> int:
    """Where the possibly unfinished tail of `text` begins: its last two words and what follows."""
    end = len(text)
    for _ in range(2):
        while end > 0 and not text[end - 1].isspace():
            end -= 1
        if end == 0:
            return 0
        while end > 0 and text[end - 1].isspace():
            end -= 1
    return end


_installed = False


def install_log_redaction() -> None:
    """Mask every log record as it is created, whichever library logs it and wherever it goes
    (a filter on one logger or handler would miss records of other loggers and other handlers)."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    make_record = logging.getLogRecordFactory()

    def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call is the logging module's to report
            return record
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            clean = redact(text)
            if clean != text:
                record.exc_text = clean
        return record

    logging.setLogRecordFactory(masked_record)
