"""Who is asking: the bearer key of a /v1 request, checked against the key file on every request
(re-read when it changes, so a revoked key stops at once), then the key's rate limit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Request

from rag.api.errors import APIError
from rag.api.limits import RateLimiter, retry_after
from rag.app.access import KEY_PREFIX, LOCAL, KeyStore, Principal
from rag.app.slots import AnswerSlots
from ui.guard import same_origin

# Query parameters a client might put a key in. A key in a URL ends up in proxies' and browsers'
# histories and logs, so such a request is refused, not served.
KEY_PARAMS = frozenset({"key", "api_key", "apikey", "api-key", "token", "access_token", "authorization"})


@dataclass
class AccessPolicy:
    """`keys`: the key file; `open_local`: without one, whether /v1 answers (only on a server
    bound to loopback, where only this machine's users reach it)."""

    keys: KeyStore
    open_local: bool
    limiter: RateLimiter
    slots: AnswerSlots


def _refuse_key_in_url(request: Request) -> None:
    for name, value in parse_qsl(request.url.query, keep_blank_values=True):
        if name.lower() in KEY_PARAMS or value.startswith(KEY_PREFIX):
            raise APIError(400, "send the API key in the Authorization header (Bearer), never in the URL",
                           code="key_in_url")


def principal(request: Request) -> Principal:
    """The FastAPI dependency every /v1 route but health takes."""
    policy: AccessPolicy = request.app.state.access
    _refuse_key_in_url(request)
    header = request.headers.get("authorization", "")
    if not policy.keys.exists():
        if not policy.open_local:
            raise APIError(401, "this server has no API keys and is reachable from other machines, so /v1 "
                                "is closed; create a key with `rag keys create --role reader`",
                           code="no_keys", headers={"WWW-Authenticate": "Bearer"})
        # No key stands between a web page the user visits and this loopback server, so a
        # request sent by another site's page is refused, as the page's upload route does.
        if not same_origin({k.lower(): v for k, v in request.headers.items()}):
            raise APIError(403, "requests from another site's page are refused; without API keys /v1 serves "
                                "programs on this machine", code="cross_site")
        who = LOCAL
    else:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise APIError(401, "an API key is needed: send the header Authorization: Bearer KEY",
                           code="missing_api_key", headers={"WWW-Authenticate": "Bearer"})
        found = policy.keys.principal(token.strip())
        if found is None:
            raise APIError(401, "the API key is not valid (unknown or revoked)", code="invalid_api_key",
                           headers={"WWW-Authenticate": "Bearer"})
        who = found
    wait = policy.limiter.allow(who.id)
    if wait:
        raise APIError(429, f"rate limit of {policy.limiter.per_minute} requests a minute reached; "
                            f"try again in {retry_after(wait)} s", code="rate_limit_exceeded",
                       headers={"Retry-After": retry_after(wait)})
    return who


Caller = Annotated[Principal, Depends(principal)]  # a route's `who: Caller` is whoever made the request
