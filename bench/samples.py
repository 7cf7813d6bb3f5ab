"""Builders of real sample files (and, for web pages, a small site served on 127.0.0.1), shared by
the tests, the fault bench and the readers benchmark. Each format's builders are one block."""

from __future__ import annotations

import contextlib
import hashlib
import html
import http.server
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path

# --- web pages ---

_BOILERPLATE_NAV = ('<nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li>'
                    '<li><a href="/about">About us</a></li><li><a href="/contact">Contact</a></li></ul></nav>')
_BOILERPLATE_FOOT = ('<footer><p>Copyright 2024 Harbour Press. All rights reserved.</p>'
                     '<a href="/privacy">Privacy policy</a> <a href="/cookies">Cookie settings</a></footer>')


def html_page(title: str, paragraphs: list[str], *, date: str | None = None, headings: list[str] | None = None) -> str:
    """A news-style page: navigation, a cookie banner and a footer around an <article> holding an
    <h1> title and `paragraphs` (each after the matching entry of `headings`, if given, as <h2>)."""
    body = []
    for i, text in enumerate(paragraphs):
        if headings and i < len(headings) and headings[i]:
            body.append(f"<h2>{html.escape(headings[i])}</h2>")
        body.append(f"<p>{html.escape(text)}</p>")
    meta = f'<meta property="article:published_time" content="{html.escape(date)}">' if date else ""
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)} | Harbour Press</title>"
            f"{meta}</head><body>{_BOILERPLATE_NAV}<div class=\"cookie-banner\">We use cookies. Accept all.</div>"
            f"<main><article><h1>{html.escape(title)}</h1>{''.join(body)}</article></main>{_BOILERPLATE_FOOT}"
            "</body></html>")


def boilerplate_page() -> str:
    """A page with navigation, a banner and a footer and no main text at all."""
    return (f"<!doctype html><html><head><title>Menu</title></head><body>{_BOILERPLATE_NAV}"
            f"<div class=\"cookie-banner\">We use cookies. Accept all.</div>{_BOILERPLATE_FOOT}</body></html>")


def sitemap(urls: list[str]) -> str:
    entries = "".join(f"<url><loc>{html.escape(u)}</loc></url>" for u in urls)
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'


def sitemap_index(urls: list[str]) -> str:
    entries = "".join(f"<sitemap><loc>{html.escape(u)}</loc></sitemap>" for u in urls)
    return (f'<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{entries}</sitemapindex>")


@dataclass
class Page:
    """What the site answers at one path: a body with its content type (served with an ETag and a
    Last-Modified, and 304 to a request that sends them back), a status, a redirect, or a
    `stream` callable that writes the body itself (endless data)."""

    body: bytes | str = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    location: str = ""
    stream: Callable[[object], None] | None = None
    modified: float = 1_700_000_000.0
    validators: bool = True


@dataclass
class LocalSite:
    """A web site on 127.0.0.1 (a thread of this process) that counts requests per path and how
    many of them were answered with a body (200)."""

    pages: dict[str, Page] = field(default_factory=dict)
    requests: Counter = field(default_factory=Counter)
    downloads: Counter = field(default_factory=Counter)
    agents: list[str] = field(default_factory=list)  # the User-Agent of each request
    base: str = ""

    def url(self, path: str) -> str:
        return self.base + path

    def put(self, path: str, body: bytes | str = b"", **kw) -> str:
        """Serve `body` at `path` (replacing what was there: a new ETag); returns its URL."""
        self.pages[path] = Page(body, **kw)
        return self.url(path)


def _handler(site: LocalSite) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            path = self.path.split("?", 1)[0]
            site.requests[path] += 1
            site.agents.append(self.headers.get("User-Agent", ""))
            page = site.pages.get(path)
            if page is None:
                return self._send(404, b"not found", "text/plain")
            if page.location:
                self.send_response(page.status if page.status != 200 else 302)
                self.send_header("Location", page.location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            if page.stream is not None:
                self.send_response(page.status)
                self.send_header("Content-Type", page.content_type)
                self.send_header("Connection", "close")
                self.end_headers()
                with contextlib.suppress(OSError):
                    page.stream(self.wfile)
                self.close_connection = True
                return None
            body = page.body.encode("utf-8") if isinstance(page.body, str) else page.body
            headers = {}
            if page.validators:
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                modified = formatdate(page.modified, usegmt=True)
                headers = {"ETag": etag, "Last-Modified": modified}
                if self.headers.get("If-None-Match") == etag or (
                        not self.headers.get("If-None-Match") and self.headers.get("If-Modified-Since") == modified):
                    self.send_response(304)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
            if page.status == 200:
                site.downloads[path] += 1
            return self._send(page.status, body, page.content_type, headers)

        def _send(self, status: int, body: bytes, kind: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

    return Handler


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        pass  # a client hanging up mid-body (a size limit, a timeout) is what the site is for


@contextlib.contextmanager
def local_site(pages: dict[str, Page] | None = None) -> Iterator[LocalSite]:
    """A LocalSite serving `pages` (more can be put while it runs), stopped on exit."""
    site = LocalSite(dict(pages or {}))
    server = _QuietServer(("127.0.0.1", 0), _handler(site))
    server.daemon_threads = True
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


def endless_zeros(out) -> None:
    """A body that never ends: zeros, a megabyte at a time, until the reader hangs up."""
    block = bytes(1 << 20)
    while True:
        out.write(block)


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """A server on 127.0.0.1 that accepts connections and never answers; yields its base URL."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not done.is_set():
            try:
                conn, _ = listener.accept()
                held.append(conn)
            except (TimeoutError, OSError):
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        done.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


def write_html_page(path: Path, title: str, paragraphs: list[str], *, date: str | None = None) -> Path:
    """`html_page` written to `path`."""
    path.write_text(html_page(title, paragraphs, date=date), encoding="utf-8")
    return path

# --- end of web pages ---
