"""Fetching and reading web pages: only what the operator names, within every bound, one reason
for each page not read. A local site on 127.0.0.1 counts the requests it receives."""

from __future__ import annotations

import time

import pytest

from bench.samples import boilerplate_page, endless_zeros, html_page, local_site, silent_server, sitemap, sitemap_index
from rag.core.errors import DocumentError, RagError
from rag.ingest.fetch import Fetcher, FetchError, WebSettings, document_id, expand_sitemap, read_url_file
from rag.ingest.loaders import load_web_document

from ..support.files import make_pdf

FAST = WebSettings(host_delay=0.0, connect_timeout=2.0, read_timeout=2.0, max_fetch_seconds=10.0, max_page_mb=2)
HARBOUR = "The new harbour in Kilwa opened on 5 March, said the mayor, Amina Said, to a crowd of two thousand people."


def read(fetcher: Fetcher, url: str):
    got = fetcher.fetch(url)
    return load_web_document(document_id(url), ".html" if "html" in got.content_type else ".pdf", got.data)


def test_a_page_gives_its_main_text_title_and_date_without_navigation_or_footer():
    with local_site() as site, Fetcher(FAST) as fetcher:
        url = site.put("/news/harbour", html_page("The harbour opens", [HARBOUR, "Twelve ships docked."],
                                                  date="2024-03-05", headings=[None, "Ships"]))
        doc = read(fetcher, url)
    assert doc.id == url and doc.metadata["url"] == url and doc.source == url
    assert doc.title == "The harbour opens" and doc.metadata["date"] == "2024-03-05"
    assert HARBOUR in doc.text and "Twelve ships docked." in doc.text
    for boilerplate in ("About us", "Cookie", "Copyright", "Privacy"):
        assert boilerplate not in doc.text
    assert [s[2] for s in doc.metadata["sections"]] == ["The harbour opens", "Ships"]


def test_a_page_without_a_declared_date_gets_none_from_its_copyright_line():
    with local_site() as site, Fetcher(FAST) as fetcher:
        doc = read(fetcher, site.put("/p", html_page("Tides", ["Tides in Kilwa rise twice a day, about six hours apart."])))
    assert "date" not in doc.metadata


def test_a_page_robots_txt_disallows_is_never_requested():
    with local_site() as site, Fetcher(FAST) as fetcher:
        site.put("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
        url = site.put("/private/minutes", html_page("Minutes", [HARBOUR]))
        with pytest.raises(FetchError, match="robots.txt disallows"):
            fetcher.fetch(url)
        fetcher.fetch(site.put("/public", html_page("Public", [HARBOUR])))
    assert site.requests["/private/minutes"] == 0
    assert site.requests["/robots.txt"] == 1  # once per host, however many pages


def test_robots_txt_naming_the_indexer_applies_to_it():
    with local_site() as site, Fetcher(FAST) as fetcher:
        site.put("/robots.txt", "User-agent: rag\nDisallow: /\n\nUser-agent: *\nAllow: /\n", content_type="text/plain")
        with pytest.raises(FetchError, match="robots.txt"):
            fetcher.fetch(site.put("/a", html_page("A", [HARBOUR])))
    assert site.requests["/a"] == 0


def test_a_redirect_is_followed_and_its_target_checked_against_robots_txt():
    with local_site() as site, Fetcher(FAST) as fetcher:
        site.put("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
        site.put("/old", location="/new", status=301)
        site.put("/new", html_page("Moved", [HARBOUR]))
        got = fetcher.fetch(site.url("/old"))
        assert got.final_url == site.url("/new") and got.status == 200
        site.put("/sneaky", location="/private/minutes", status=302)
        site.put("/private/minutes", html_page("Minutes", [HARBOUR]))
        with pytest.raises(FetchError, match="robots.txt disallows"):
            fetcher.fetch(site.url("/sneaky"))
    assert site.requests["/private/minutes"] == 0


def test_a_redirect_to_another_scheme_is_refused():
    with local_site() as site, Fetcher(FAST) as fetcher:
        site.put("/file", location="file:///etc/passwd", status=302)
        with pytest.raises(FetchError, match="not an http"):
            fetcher.fetch(site.url("/file"))


def test_a_redirect_loop_stops_at_the_limit():
    with local_site() as site, Fetcher(FAST) as fetcher:
        site.put("/loop", location="/loop")
        with pytest.raises(FetchError, match=r"web_max_redirects \(5\)"):
            fetcher.fetch(site.url("/loop"))
    assert site.requests["/loop"] == 6


def test_an_endless_body_is_dropped_at_the_size_limit_quickly():
    with local_site() as site, Fetcher(FAST) as fetcher:
        site.put("/zeros", stream=endless_zeros)
        t0 = time.perf_counter()
        with pytest.raises(FetchError, match=r"too large: more than web_max_page_mb \(2 MB\)"):
            fetcher.fetch(site.url("/zeros"))
    assert time.perf_counter() - t0 < 5


def test_a_declared_length_over_the_limit_is_refused_before_reading():
    with local_site() as site, Fetcher(FAST) as fetcher:
        site.put("/big", b"x" * (3 * 2**20))
        with pytest.raises(FetchError, match="too large"):
            fetcher.fetch(site.url("/big"))


def test_a_server_that_never_answers_times_out():
    with silent_server() as base, Fetcher(WebSettings(host_delay=0.0, read_timeout=0.5)) as fetcher:
        t0 = time.perf_counter()
        with pytest.raises(FetchError, match="timed out"):
            fetcher.fetch(base + "/page")
        with pytest.raises(FetchError, match="timed out"):  # the host's failure is remembered: no second wait
            fetcher.fetch(base + "/other")
    assert time.perf_counter() - t0 < 3


def test_a_trickling_server_is_stopped_by_the_whole_fetch_deadline():
    def trickle(out) -> None:
        for _ in range(100):
            out.write(b"<p>tick</p>")
            out.flush()
            time.sleep(0.1)

    settings = WebSettings(host_delay=0.0, read_timeout=5.0, max_fetch_seconds=0.5)
    with local_site() as site, Fetcher(settings) as fetcher:
        site.put("/slow", stream=trickle)
        with pytest.raises(FetchError, match="web_max_fetch_seconds"):
            fetcher.fetch(site.url("/slow"))


@pytest.mark.parametrize(("path", "kw", "reason"), [
    ("/error", {"body": "oops", "status": 500}, "HTTP 500"),
    ("/missing-page", None, "HTTP 404"),
    ("/blob", {"body": bytes(range(256)) * 64, "content_type": "application/octet-stream"}, "content type"),
])
def test_pages_that_cannot_be_read_say_why(path, kw, reason):
    with local_site() as site, Fetcher(FAST) as fetcher:
        if kw is not None:
            site.put(path, **kw)
        with pytest.raises(FetchError, match=reason):
            fetcher.fetch(site.url(path))


def test_a_binary_body_served_as_html_and_a_page_of_boilerplate_are_refused():
    with local_site() as site, Fetcher(FAST) as fetcher:
        site.put("/fake.html", bytes(range(256)) * 64)
        site.put("/menu", boilerplate_page())
        with pytest.raises(DocumentError, match="binary"):
            read(fetcher, site.url("/fake.html"))
        with pytest.raises(DocumentError, match="no main text"):
            read(fetcher, site.url("/menu"))


def test_a_url_serving_a_pdf_is_read_by_the_pdf_reader():
    with local_site() as site, Fetcher(FAST) as fetcher:
        url = site.put("/report.pdf", make_pdf(HARBOUR), content_type="application/pdf")
        doc = read(fetcher, url)
    assert "Amina Said" in doc.text and doc.metadata["type"] == "pdf" and doc.metadata["url"] == url


def test_requests_to_one_host_are_spaced_by_the_host_delay():
    with local_site() as site, Fetcher(WebSettings(host_delay=0.3)) as fetcher:
        urls = [site.put(f"/p{i}", html_page(f"P{i}", [HARBOUR])) for i in range(3)]
        t0 = time.perf_counter()
        for url in urls:
            fetcher.fetch(url)
    assert time.perf_counter() - t0 >= 0.3 * 3  # robots.txt, then three pages, a delay apart


def test_a_sitemap_index_expands_to_its_sitemaps_pages_bounded_in_number():
    with local_site() as site, Fetcher(FAST) as fetcher:
        pages = [site.url(f"/p{i}") for i in range(5)]
        site.put("/a.xml", sitemap(pages[:3]), content_type="application/xml")
        site.put("/b.xml", sitemap(pages[3:]), content_type="text/xml")
        site.put("/sitemap.xml", sitemap_index([site.url("/a.xml"), site.url("/b.xml")]), content_type="application/xml")
        got = fetcher.fetch(site.url("/sitemap.xml"))
        assert got.is_sitemap
        assert expand_sitemap(fetcher, got, 100) == (pages, [])
        found, over = expand_sitemap(fetcher, got, 4)
    assert found == pages[:4] and len(over) == 1 and "web_max_sitemap_urls (4)" in over[0][1]


def test_a_file_of_urls_has_one_a_line_and_comment_lines(tmp_path):
    listing = tmp_path / "urls.txt"
    listing.write_text("# the intranet\nhttps://intranet.example/a#top\n\n  http://127.0.0.1:8000/b  \n")
    assert read_url_file(listing) == ["https://intranet.example/a#top", "http://127.0.0.1:8000/b"]
    listing.write_text("intranet.example/a\n")
    with pytest.raises(RagError, match="urls.txt:1: .* is not an http"):
        read_url_file(listing)


def test_the_user_agent_names_the_indexer():
    with local_site() as site, Fetcher(FAST) as fetcher:
        fetcher.fetch(site.put("/ua", html_page("UA", [HARBOUR])))
    assert len(site.agents) == 2 and all(agent.startswith("rag/") for agent in site.agents)


def test_a_crawl_delay_longer_than_the_host_delay_is_waited():
    with local_site() as site, Fetcher(FAST) as fetcher:
        site.put("/robots.txt", "User-agent: *\nCrawl-delay: 1\n", content_type="text/plain")
        url = site.put("/p", html_page("P", [HARBOUR]))
        t0 = time.perf_counter()
        fetcher.fetch(url)
        fetcher.fetch(url)
    assert time.perf_counter() - t0 >= 2  # after robots.txt, then between the two pages
