"""Fetching the web pages the operator names, politely and within bounds.

Only URLs the operator gives (`rag index https://…`, a sitemap, `--urls FILE`) are fetched:
nothing a web visitor types or uploads ever reaches here. Private and loopback addresses are
allowed, since the operator chose them.

Every request is bounded: robots.txt is read once per host and obeyed (under the configured
user agent), redirects are followed by hand so each target is checked again (scheme, robots.txt)
and their number is capped, the body is streamed and dropped at `max_page_mb` (a server sending
zeros forever costs at most that much), and connect, read and whole-fetch deadlines stop a server
that never answers or trickles. Requests to one host are spaced by `host_delay` (or the site's
Crawl-delay, if longer), one at a time.
"""

from __future__ import annotations

import html
import re
import time
import urllib.robotparser
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urldefrag, urljoin, urlsplit

from rag.core.errors import DocumentError, RagError

if TYPE_CHECKING:
    import httpx

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# The reader each content type goes to, named by the file suffix rag.ingest.formats reads.
SUFFIXES = {"text/html": ".html", "application/xhtml+xml": ".html", "application/pdf": ".pdf",
            "text/plain": ".txt", "text/markdown": ".md", DOCX_TYPE: ".docx"}
SITEMAP_TYPES = frozenset({"application/xml", "text/xml"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_ROBOTS_BYTES = 512 * 1024  # RFC 9309 asks crawlers to read at least 500 KiB
_MAX_CRAWL_DELAY = 60.0  # a site's Crawl-delay above this would stall the run; this is waited instead
_LOC = re.compile(r"<loc>\s*(.*?)\s*</loc>", re.S | re.I)
_SITEMAP_ROOT = re.compile(r"<(?:\w+:)?(urlset|sitemapindex)\b", re.I)


class FetchError(DocumentError):
    """A URL that could not be fetched; the message is the reason, in one line."""


@dataclass(frozen=True)
class WebSettings:
    """How pages are fetched (the `[web]` section of rag.toml)."""

    user_agent: str = "rag/0.1 (document indexer)"
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    max_fetch_seconds: float = 60.0
    max_redirects: int = 5
    max_page_mb: int = 20
    host_delay: float = 1.0
    content_types: tuple[str, ...] = tuple(SUFFIXES)
    max_sitemap_urls: int = 1000

    @property
    def max_bytes(self) -> int:
        return self.max_page_mb * 2**20


@dataclass(frozen=True)
class Fetched:
    """A URL's answer: 200 with its body, or 304 (unchanged since the validators sent)."""

    url: str  # as given
    final_url: str  # after redirects
    status: int
    data: bytes = b""
    content_type: str = ""
    etag: str = ""
    last_modified: str = ""

    @property
    def is_sitemap(self) -> bool:
        head = self.data[:4096].decode("utf-8", "replace")
        return self.content_type in SITEMAP_TYPES and bool(_SITEMAP_ROOT.search(head))


def is_url(text: str) -> bool:
    return text[:8].lower().startswith(("http://", "https://"))


def document_id(url: str) -> str:
    """The id of the document a URL gives: the URL without its #fragment (the same page)."""
    return urldefrag(url.strip())[0]


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise FetchError(f"not an http(s) URL: {url[:200]!r}")
    return url


def read_url_file(path: str | Path) -> list[str]:
    """The URLs of a file, one a line; blank lines and `#` comments are ignored."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RagError(f"file of URLs {path} does not exist; give a text file with one URL a line") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RagError(f"cannot read the file of URLs {path}: {getattr(exc, 'strerror', None) or exc}") from None
    urls = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):  # only whole lines: a URL may hold a #fragment
            continue
        if not is_url(line):
            raise RagError(f"{path}:{lineno}: {line[:100]!r} is not an http(s) URL; write one URL a line "
                           "(# starts a comment)")
        urls.append(line)
    return urls


def sitemap_urls(data: bytes) -> tuple[str, list[str]]:
    """("urlset" or "sitemapindex", the <loc> URLs) of a sitemap. Read with a pattern, not an XML
    parser: a sitemap is a flat list, and entity tricks in a hostile one then expand to nothing."""
    text = data.decode("utf-8", "replace")
    root = _SITEMAP_ROOT.search(text[:4096])
    kind = root.group(1).lower() if root else "urlset"
    return kind, [html.unescape(m) for m in _LOC.findall(text)]


class Fetcher:
    """One run's fetching: one HTTP client, robots.txt read once per host, hosts spaced out."""

    def __init__(self, settings: WebSettings | None = None, *, transport: httpx.BaseTransport | None = None):
        import importlib.util

        missing = [name for name in ("httpx", "trafilatura") if importlib.util.find_spec(name) is None]
        if missing:
            raise RagError(f"reading web pages needs {' and '.join(missing)}; install them with pip install 'rag[web]'")
        import httpx

        self.settings = settings or WebSettings()
        s = self.settings
        self._client = httpx.Client(
            headers={"User-Agent": s.user_agent,
                     "Accept": "text/html,application/xhtml+xml,application/pdf;q=0.9,text/*;q=0.8,*/*;q=0.1"},
            timeout=httpx.Timeout(s.read_timeout, connect=s.connect_timeout),
            follow_redirects=False, transport=transport, trust_env=False)
        self._robots: dict[str, urllib.robotparser.RobotFileParser | FetchError] = {}
        self._last: dict[str, float] = {}
        self.requests = 0

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def fetch(self, url: str, *, etag: str = "", last_modified: str = "") -> Fetched:
        """The page at `url`; with validators, a 304 comes back as `status == 304` and no body.
        Raises FetchError with the reason it was not fetched."""
        import httpx

        s = self.settings
        deadline = time.monotonic() + s.max_fetch_seconds
        current = check_url(url)
        for _ in range(s.max_redirects + 1):
            self._check_robots(current)
            headers = {}
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
            try:
                with self._request(current, headers) as response:
                    if response.status_code in _REDIRECTS:
                        location = response.headers.get("location", "").strip()
                        if not location:
                            raise FetchError(f"HTTP {response.status_code} redirect without a Location")
                        current = check_url(urljoin(current, location))
                        continue
                    if response.status_code == 304 and (etag or last_modified):
                        return Fetched(url, current, 304, etag=etag, last_modified=last_modified)
                    if response.status_code != 200:
                        reason = response.reason_phrase or "error"
                        raise FetchError(f"HTTP {response.status_code} {reason}")
                    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                    if kind not in s.content_types and kind not in SITEMAP_TYPES:
                        raise FetchError(f"content type {kind or 'none given'!r} is not HTML, PDF or another type "
                                         "rag reads (see web_content_types)")
                    data = self._body(response, deadline)
                    return Fetched(url, current, 200, data, kind, response.headers.get("etag", ""),
                                   response.headers.get("last-modified", ""))
            except httpx.ConnectTimeout:
                raise FetchError(f"no connection within web_connect_timeout ({s.connect_timeout:g} s)") from None
            except httpx.ReadTimeout:
                raise FetchError(f"timed out: no answer within web_read_timeout ({s.read_timeout:g} s)") from None
            except httpx.TimeoutException:
                raise FetchError("timed out") from None
            except httpx.ConnectError as exc:
                raise FetchError(f"cannot connect: {_first_line(exc)}") from None
            except httpx.HTTPError as exc:
                raise FetchError(f"the fetch failed: {type(exc).__name__}: {_first_line(exc)}") from None
        raise FetchError(f"more than web_max_redirects ({s.max_redirects}) redirects (a redirect loop?)")

    def _request(self, url: str, headers: dict[str, str]):
        self._wait_turn(url)
        self.requests += 1
        return self._client.stream("GET", url, headers=headers)

    def _body(self, response: httpx.Response, deadline: float) -> bytes:
        limit = self.settings.max_bytes
        too_large = f"too large: more than web_max_page_mb ({self.settings.max_page_mb} MB)"
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FetchError(too_large)
        parts, total = [], 0
        # Decoded bytes are counted, so a compressed body is bounded by what it unpacks to.
        for part in response.iter_bytes():
            total += len(part)
            if total > limit:
                raise FetchError(too_large)
            if time.monotonic() > deadline:
                raise FetchError(f"timed out: the page took longer than web_max_fetch_seconds "
                                 f"({self.settings.max_fetch_seconds:g} s)")
            parts.append(part)
        return b"".join(parts)

    def _wait_turn(self, url: str) -> None:
        host = _host(url)
        delay = self.settings.host_delay
        robots = self._robots.get(host)
        if isinstance(robots, urllib.robotparser.RobotFileParser):
            crawl_delay = robots.crawl_delay(self.settings.user_agent)
            if crawl_delay:
                delay = max(delay, min(float(crawl_delay), _MAX_CRAWL_DELAY))
        last = self._last.get(host)
        if last is not None:
            wait = last + delay - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        self._last[host] = time.monotonic()

    def _check_robots(self, url: str) -> None:
        host = _host(url)
        if host not in self._robots:
            self._robots[host] = self._read_robots(url)
        robots = self._robots[host]
        if isinstance(robots, FetchError):
            raise robots
        if not robots.can_fetch(self.settings.user_agent, url):
            raise FetchError("robots.txt disallows it; not fetched")

    def _read_robots(self, url: str) -> urllib.robotparser.RobotFileParser | FetchError:
        """The host's rules (RFC 9309): none when robots.txt is missing (4xx), everything
        disallowed when the server fails (5xx); unreachable, the host's pages are not fetched."""
        import httpx

        parts = urlsplit(url)
        robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
        rules = urllib.robotparser.RobotFileParser(robots_url)
        try:
            for _ in range(self.settings.max_redirects + 1):
                with self._request(robots_url, {}) as response:
                    if response.status_code in _REDIRECTS and response.headers.get("location"):
                        robots_url = urljoin(robots_url, response.headers["location"])
                        if urlsplit(robots_url).scheme not in ("http", "https"):
                            break
                        continue
                    status = response.status_code
                    body = b""
                    if status == 200:
                        parts_read, total = [], 0
                        for part in response.iter_bytes():
                            parts_read.append(part)
                            total += len(part)
                            if total >= _MAX_ROBOTS_BYTES:
                                break
                        body = b"".join(parts_read)[:_MAX_ROBOTS_BYTES]
                break
            else:
                status = 404  # redirected past the limit: RFC 9309 treats it as no rules
        except httpx.TimeoutException:
            return FetchError(f"timed out reading robots.txt (web_read_timeout {self.settings.read_timeout:g} s, "
                              f"web_connect_timeout {self.settings.connect_timeout:g} s)")
        except httpx.HTTPError as exc:
            return FetchError(f"cannot read robots.txt: {_first_line(exc)}")
        if status >= 500:
            return FetchError(f"robots.txt answered HTTP {status}; the site's pages are not fetched until it "
                              "answers (the server may be down)")
        if status == 200:
            rules.parse(body.decode("utf-8", "replace").splitlines())
        else:
            rules.parse([])  # 4xx: no rules, everything allowed
        return rules


def expand_sitemap(fetcher: Fetcher, sitemap: Fetched, limit: int) -> tuple[list[str], list[tuple[str, str]]]:
    """The page URLs of a sitemap (following a sitemap index one level down), at most `limit`,
    and (url, reason) for each nested sitemap that could not be read."""
    kind, locs = sitemap_urls(sitemap.data)
    over = (sitemap.url, f"the sitemap lists more than web_max_sitemap_urls ({limit:,}) pages; the first "
                         f"{limit:,} are read")
    if kind == "urlset":
        return _bounded(locs, limit), [over] if len(locs) > limit else []
    pages: list[str] = []
    failed: list[tuple[str, str]] = []
    for loc in locs:
        try:
            nested = fetcher.fetch(loc)
            if not nested.is_sitemap:
                raise FetchError("listed in a sitemap index but not a sitemap")
        except FetchError as exc:
            failed.append((loc, str(exc)))
            continue
        nested_kind, nested_locs = sitemap_urls(nested.data)
        if nested_kind != "urlset":
            failed.append((loc, "a sitemap index inside a sitemap index; not followed"))
            continue
        room = limit - len(pages)
        pages += _bounded(nested_locs, room)
        if len(nested_locs) > room:
            failed.append(over)
            break
    return pages, failed


def _bounded(urls: Iterable[str], limit: int) -> list[str]:
    out = []
    for url in urls:
        if len(out) >= limit:
            break
        if is_url(url):
            out.append(url)
    return out


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
