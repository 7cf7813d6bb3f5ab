"""`rag index https://…`, `--urls FILE`: pages indexed and cited by URL, one line for each page not
read, and the pages kept through later `rag index corpus/` runs until removed by name."""

from __future__ import annotations

import json

import pytest

from bench.samples import endless_zeros, html_page, local_site

from ..support.cli import run
from ..support.files import write

pytestmark = pytest.mark.usefixtures("shared_model")

HARBOUR = "The new harbour in Kilwa opened on 5 March, said the mayor, Amina Said, to a crowd of two thousand people."
QUESTION = "Who opened the new harbour in Kilwa?"


@pytest.fixture(autouse=True)
def no_delay(monkeypatch):
    monkeypatch.setenv("RAG_WEB_HOST_DELAY", "0")
    monkeypatch.setenv("RAG_WEB_MAX_PAGE_MB", "2")


@pytest.fixture
def site():
    with local_site() as s:
        yield s


def test_rag_ask_cites_an_indexed_page_by_its_url(site, tmp_path, capsys):
    index = str(tmp_path / "idx")
    url = site.put("/news/harbour", html_page("The harbour opens", [HARBOUR]))
    code, out, err = run(capsys, "index", url, "--index", index)
    assert code == 0 and "1 added" in out and err == ""
    code, out, _ = run(capsys, "ask", QUESTION, "--index", index)
    assert code == 0 and f"[1] {url}, characters" in out
    code, out, _ = run(capsys, "ask", QUESTION, "--json", "--index", index)
    cite = json.loads(out)["citations"][0]
    assert cite["doc_id"] == url and cite["url"] == url
    code, out, _ = run(capsys, "index", url, "--index", index)
    assert "1 unchanged" in out and site.downloads["/news/harbour"] == 1


def test_each_page_not_read_is_one_line_and_the_rest_is_indexed(site, tmp_path, capsys):
    site.put("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    good = site.put("/good", html_page("Harbour", [HARBOUR]))
    bad = {site.put("/loop", location="/loop"): "web_max_redirects",
           site.put("/zeros", stream=endless_zeros): "too large",
           site.put("/private/minutes", html_page("Minutes", [HARBOUR])): "robots.txt disallows"}
    code, out, err = run(capsys, "index", good, *bad, "--index", str(tmp_path / "idx"))
    assert code == 0 and "1 added" in out and "3 skipped" in out
    lines = err.strip().splitlines()
    assert len(lines) == 3 and "Traceback" not in err
    for url, reason in bad.items():
        assert [line for line in lines if line.startswith(f"skipped {url}: ")][0].count(reason) == 1
    assert site.requests["/private/minutes"] == 0


def test_a_file_of_urls_and_a_folder_in_one_run(site, tmp_path, capsys):
    corpus = write(tmp_path / "corpus" / "notes.txt", "Notes: the Kilwa market opens on Saturdays.").parent
    url = site.put("/harbour", html_page("Harbour", [HARBOUR]))
    listing = write(tmp_path / "urls.txt", f"# intranet pages\n{url}\n")
    code, out, _ = run(capsys, "index", str(corpus), "--urls", str(listing), "--index", str(tmp_path / "idx"))
    assert code == 0 and "2 added" in out


def test_rag_index_of_the_folder_afterwards_keeps_the_pages_until_removed(site, tmp_path, capsys):
    corpus = write(tmp_path / "corpus" / "notes.txt", "Notes: the Kilwa market opens on Saturdays.").parent
    index = str(tmp_path / "idx")
    url = site.put("/harbour", html_page("Harbour", [HARBOUR]))
    run(capsys, "index", url, "--index", index)
    code, out, _ = run(capsys, "index", str(corpus), "--index", index)
    assert code == 0 and "1 added, 0 updated, 0 removed" in out
    code, out, _ = run(capsys, "docs", "--json", "--index", index)
    assert {d["id"] for d in json.loads(out)} == {"notes.txt", url}
    code, out, _ = run(capsys, "docs", "remove", url, "--index", index)
    assert code == 0 and out.strip() == f"removed {url}"
    code, out, _ = run(capsys, "docs", "--json", "--index", index)
    assert {d["id"] for d in json.loads(out)} == {"notes.txt"}


def test_only_http_urls_are_fetched(tmp_path, capsys):
    code, _, err = run(capsys, "index", "ftp://example.com/a.html", "--index", str(tmp_path / "idx"))
    assert code == 1 and err.strip() == "rag: error: ftp://example.com/a.html: only http:// and https:// URLs are fetched"
