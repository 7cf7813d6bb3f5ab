"""What the web server refuses before Gradio sees a request: uploads a read-only deployment does
not take, uploads by a signed-in user whose role takes none (a reader), uploads from another
site's page, upload requests over the size bound, and logins guessed faster than a person types.

An ASGI middleware, given to Gradio's FastAPI app when it is made (`app_kwargs`), so it stands in
front of every route, including the ones Gradio adds by itself.
"""

from __future__ import annotations

import ipaddress
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit

# Routes that write a request's files to the upload cache. The page has no recording component,
# but the route exists all the same.
FILE_ROUTES = ("/gradio_api/upload", "/gradio_api/process_recording")
LOGIN_ROUTES = ("/login",)

FREE_TRIES = 5  # failed logins a client may make before it has to wait
FIRST_WAIT = 1.0  # seconds after the first failure past the free ones; each further one doubles it
LONGEST_WAIT = 300.0
MAX_CLIENTS = 10_000  # clients remembered; the ones seen longest ago are forgotten first


class LoginThrottle:
    """Failed logins per client address. The first FREE_TRIES are free; after that each failure
    locks the client out for twice as long as the one before (1 s, 2 s, 4 s … up to LONGEST_WAIT),
    and a login that succeeds clears its count. Behind a proxy every visitor has the proxy's
    address, so they share one count."""

    def __init__(self, *, free: int = FREE_TRIES, first: float = FIRST_WAIT, longest: float = LONGEST_WAIT,
                 clock: Callable[[], float] = time.monotonic, max_clients: int = MAX_CLIENTS):
        self.free, self.first, self.longest, self.clock, self.max_clients = free, first, longest, clock, max_clients
        self._clients: OrderedDict[str, tuple[int, float]] = OrderedDict()  # address -> (failures, locked until)
        self._lock = threading.Lock()

    def wait(self, client: str) -> float:
        """Seconds before `client` may try again (0: now)."""
        with self._lock:
            _, until = self._clients.get(client, (0, 0.0))
        return max(0.0, until - self.clock())

    def failed(self, client: str) -> None:
        with self._lock:
            failures = self._clients.pop(client, (0, 0.0))[0] + 1
            over = failures - self.free
            lock = 0.0 if over <= 0 else min(self.longest, self.first * 2 ** min(over - 1, 32))
            self._clients[client] = (failures, self.clock() + lock)
            while len(self._clients) > self.max_clients:
                self._clients.popitem(last=False)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._clients.pop(client, None)


class Guard:
    """The middleware. `max_upload_request`: the most bytes one upload request may carry."""

    def __init__(self, app, *, read_only: bool = False, max_upload_request: int | None = None,
                 throttle: LoginThrottle | None = None, may_upload: Callable[[str | None], bool] | None = None):
        """`may_upload(user)`: whether the signed-in user (None: nobody signed in) may upload."""
        self.app = app
        self.read_only = read_only
        self.may_upload = may_upload
        self.max_upload_request = max_upload_request if max_upload_request is not None else math.inf
        self.throttle = throttle

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        path = scope["path"].rstrip("/")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if path in FILE_ROUTES:
            refusal = self._upload_refusal(headers) or self._role_refusal(scope, headers)
            if refusal:
                return await _refuse(send, *refusal)
        elif path in LOGIN_ROUTES and self.throttle is not None:
            return await self._login(scope, receive, send)
        return await self.app(scope, receive, send)

    def _upload_refusal(self, headers: dict[str, str]) -> tuple[int, str] | None:
        if self.read_only:
            return 403, "this deployment is read-only: it takes no uploads"
        if not same_origin(headers):
            return 403, "uploads are taken from this server's own page only"
        length = headers.get("content-length", "")
        if not length.isdigit():
            return 411, "an upload must say its length (Content-Length)"
        if int(length) > self.max_upload_request:
            return 413, f"an upload request is limited to {self.max_upload_request / 1e6:.0f} MB"
        return None

    def _role_refusal(self, scope, headers: dict[str, str]) -> tuple[int, str] | None:
        if self.may_upload is None or self.may_upload(signed_in(scope, headers)):
            return None
        return 403, "your role does not allow uploads (a reader asks and searches only)"

    async def _login(self, scope, receive, send):
        client = (scope.get("client") or ("unknown", 0))[0]
        wait = self.throttle.wait(client)
        if wait > 0:
            return await _refuse(send, 429, f"too many failed logins; try again in {math.ceil(wait)} s",
                                 [(b"retry-after", str(math.ceil(wait)).encode())])
        status = {}

        async def watch(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        await self.app(scope, receive, watch)
        if status.get("code") == 200:
            self.throttle.succeeded(client)
        elif status.get("code") in (400, 401, 403):
            self.throttle.failed(client)


def signed_in(scope, headers: dict[str, str]) -> str | None:
    """The user the request's login cookie belongs to, by the Gradio app's own session table
    (the app a middleware stands in front of is `scope["app"]`); None when nobody is signed in."""
    app = scope.get("app")
    tokens, cookie_id = getattr(app, "tokens", None), getattr(app, "cookie_id", None)
    if not isinstance(tokens, dict) or not cookie_id:
        return None
    cookies = SimpleCookie()
    try:
        cookies.load(headers.get("cookie", ""))
    except CookieError:
        return None
    for name in (f"access-token-{cookie_id}", f"access-token-unsecure-{cookie_id}"):
        if name in cookies and cookies[name].value in tokens:
            return tokens[cookies[name].value]
    return None


def same_origin(headers: dict[str, str]) -> bool:
    """True unless the request says it comes from another site's page (its Origin names another
    host than the one it was sent to). Programs send no Origin, and are let through."""
    origin = headers.get("origin")
    if origin is None:
        return True
    netloc = urlsplit(origin).netloc.lower()
    hosts = {headers.get("host", "").lower(), *(h.strip().lower() for h in headers.get("x-forwarded-host", "").split(","))}
    return bool(netloc) and netloc in hosts


async def _refuse(send, status: int, message: str, extra: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"detail": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *extra]})
    await send({"type": "http.response.body", "body": body})


def is_public(host: str) -> bool:
    """Whether binding to `host` lets other machines reach the server."""
    if host in ("localhost", ""):
        return host == ""
    try:
        return not ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a name: it may resolve to anything
        return True


def exposure_warning(*, host: str, share: bool, login: bool, read_only: bool) -> str | None:
    """A warning for a server others can reach, with no login, that takes uploads and removals."""
    if login or read_only or not (share or is_public(host)):
        return None
    where = "through a public share link" if share else f"on {host}, which other machines can reach,"
    return (f"the web chat is served {where} without a login, and anyone who reaches it can upload and "
            "remove documents; add --auth USER:PASS, or --read-only")
