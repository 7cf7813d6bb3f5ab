"""Where the API key may go: the hosted endpoints the operator configured, and no others.

The web page and its APIs let a visitor pick a hosted endpoint, and the generator sends the
operator's API key to whatever endpoint it talks to. So a visitor's choice is checked against
`openai_base_url` plus `openai_allowed_base_urls`; anything else is refused before a generator
(and its key) is made. The command line is the operator's own and is not restricted.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from rag.core.config import Config
from rag.core.errors import EndpointNotAllowedError


def normalise(url: str) -> str:
    """The form URLs are compared in: scheme and host lower-cased, no trailing slash."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def allowed_endpoints(config: Config) -> list[str]:
    """The configured base URL first, then the allow-list, without duplicates."""
    urls: dict[str, str] = {}
    for url in (config.openai_base_url, *config.openai_allowed_base_urls):
        if url.strip():
            urls.setdefault(normalise(url), url.strip().rstrip("/"))
    return list(urls.values())


def check_endpoint(config: Config, url: str) -> str:
    """`url` if the operator allowed it (empty means the configured one), else a refusal that
    names the endpoints this server may use."""
    if not (url or "").strip():
        return config.openai_base_url
    allowed = allowed_endpoints(config)
    if normalise(url) in {normalise(u) for u in allowed}:
        return url.strip()
    raise EndpointNotAllowedError(
        f"this server does not send its API key to {url.strip()!r}: choose one of the hosted endpoints it "
        f"allows ({', '.join(allowed)}); the operator can add others with the openai_allowed_base_urls setting")
