"""What one client may cost the server: requests a minute per key and the size of a request body.
How many answers are computed at once is `rag.app.slots`, shared with the page."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

WINDOW = 60.0  # seconds: the rate limit counts requests a minute
MAX_TRACKED = 10_000  # principals remembered; the least recently seen are forgotten first


class RateLimiter:
    """A sliding window of `per_minute` requests per principal. `allow` returns 0 when the
    request may go ahead, else the seconds until it may (for Retry-After)."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic):
        self.per_minute = per_minute
        self.clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, who: str) -> float:
        if self.per_minute <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            times = self._seen.pop(who, None) or deque()
            self._seen[who] = times  # most recently seen last
            while times and times[0] <= now - WINDOW:
                times.popleft()
            if len(times) >= self.per_minute:
                return max(0.001, times[0] + WINDOW - now)
            times.append(now)
            while len(self._seen) > MAX_TRACKED:
                self._seen.pop(next(iter(self._seen)))
            return 0.0


def retry_after(wait: float) -> str:
    return str(max(1, math.ceil(wait)))


class BodyLimit:
    """ASGI middleware refusing a /v1 request whose body is over `limit` bytes (`upload_limit`
    for the document upload route), by its Content-Length and, for a chunked body, as it arrives."""

    def __init__(self, app, *, limit: int, upload_limit: int, is_upload: Callable[[str, str], bool], refuse):
        self.app, self.limit, self.upload_limit, self.is_upload, self.refuse = app, limit, upload_limit, is_upload, refuse

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.upload_limit if self.is_upload(scope["method"], scope["path"]) else self.limit
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            return await self.refuse(send, limit)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        try:
            await self.app(scope, counted, send)
        except BodyTooLarge:
            await self.refuse(send, limit)


class BodyTooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(f"request body over {limit} bytes")
        self.limit = limit
