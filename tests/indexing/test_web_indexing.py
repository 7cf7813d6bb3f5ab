"""Web pages in the index: the URL is the document and the citation; a page is downloaded again
only when it changed, embedded again only when its text did; folders synced later keep it."""

from __future__ import annotations

import json

import pytest

from bench.samples import html_page, local_site, sitemap
from rag.app import factory
from rag.app.pipeline import Pipeline
from rag.core.config import Config
from rag.index.store import IndexStore
from rag.indexing.web_sources import STATE_FILE
from rag.safety.ownership import OwnedDir

from ..support.files import write

HARBOUR = "The new harbour in Kilwa opened on 5 March, said the mayor, Amina Said, to a crowd of two thousand people."
SHIPS = "Twelve ships docked at the Kilwa harbour on its first day, carrying rice and timber."


@pytest.fixture
def site():
    with local_site() as s:
        yield s


@pytest.fixture
def setup(tmp_path, embedder):
    config = Config(index_dir=tmp_path / "index", corpus_dir=tmp_path / "corpus", web_host_delay=0.0)
    return config, factory.indexer(config, embedder)


def documents(config: Config) -> dict:
    return IndexStore(config.index_dir).read_manifest().documents


def test_an_indexed_page_answers_with_its_url_as_document_and_citation_link(site, setup, embedder):
    config, indexer = setup
    url = site.put("/news/harbour", html_page("The harbour opens", [HARBOUR], date="2024-03-05"))
    report = indexer.index_paths([], config.index_dir, urls=[url])
    assert report.added == [url]
    retriever = factory.retriever(config, embedder=embedder)
    answer = Pipeline(retriever, factory.generator(config, "extractive", retriever=retriever)).ask(
        "Who opened the new harbour in Kilwa?")
    assert not answer.abstained and answer.citations
    cite = answer.citations[0]
    assert cite.doc_id == url and cite.url == url and "Amina Said" in cite.quote
    assert answer.to_dict()["citations"][0]["url"] == url
    meta = documents(config)[url]["metadata"]
    assert meta["url"] == url and meta["date"] == "2024-03-05"


def test_an_unchanged_page_is_not_downloaded_again(site, setup):
    config, indexer = setup
    url = site.put("/harbour", html_page("Harbour", [HARBOUR]))
    indexer.index_paths([], config.index_dir, urls=[url])
    report = indexer.index_paths([], config.index_dir, urls=[url])
    assert site.requests["/harbour"] == 2 and site.downloads["/harbour"] == 1  # the second answer was a 304
    assert report.unchanged == [url] and report.embedded_chunks == 0 and not report.changed


def test_a_changed_page_is_fetched_and_indexed_again(site, setup):
    config, indexer = setup
    url = site.put("/harbour", html_page("Harbour", [HARBOUR]))
    indexer.index_paths([], config.index_dir, urls=[url])
    site.put("/harbour", html_page("Harbour", [HARBOUR, SHIPS]))
    report = indexer.index_paths([], config.index_dir, urls=[url])
    assert site.downloads["/harbour"] == 2 and report.updated == [url] and report.embedded_chunks > 0
    assert documents(config)[url]["n_chunks"] >= 1
    third = indexer.index_paths([], config.index_dir, urls=[url])
    assert third.unchanged == [url] and site.downloads["/harbour"] == 2


def test_a_page_whose_main_text_did_not_change_is_not_embedded_again(site, setup):
    config, indexer = setup
    url = site.put("/harbour", html_page("Harbour", [HARBOUR]))
    indexer.index_paths([], config.index_dir, urls=[url])
    # New bytes (a new ETag), the same article: only the banner changed.
    site.put("/harbour", html_page("Harbour", [HARBOUR]).replace("We use cookies.", "We use fewer cookies."))
    report = indexer.index_paths([], config.index_dir, urls=[url])
    assert site.downloads["/harbour"] == 2
    assert report.unchanged == [url] and report.embedded_chunks == 0


def test_every_page_of_a_sitemap_is_indexed_and_the_sitemap_itself_is_not(site, setup):
    config, indexer = setup
    urls = [site.put(f"/p{i}", html_page(f"Page {i}", [f"Page {i} says the Kilwa ferry number {i} leaves at dawn."]))
            for i in range(3)]
    listing = site.put("/sitemap.xml", sitemap(urls), content_type="application/xml")
    report = indexer.index_paths([], config.index_dir, urls=[listing])
    assert sorted(report.added) == sorted(urls) and listing not in documents(config)


def test_a_folder_synced_afterwards_keeps_the_web_pages(site, setup, tmp_path):
    config, indexer = setup
    corpus = tmp_path / "corpus"
    write(corpus / "notes.txt", "Notes: the Kilwa market opens on Saturdays.")
    url = site.put("/harbour", html_page("Harbour", [HARBOUR]))
    indexer.index_paths([corpus], config.index_dir, urls=[url])
    (corpus / "notes.txt").unlink()
    write(corpus / "other.txt", "Other notes: the Kilwa ferry leaves at dawn.")
    report = indexer.index_paths([corpus], config.index_dir)
    assert report.removed == ["notes.txt"] and set(documents(config)) == {"other.txt", url}
    assert site.requests["/harbour"] == 1  # a folder sync fetches nothing


def test_a_page_leaves_by_name_and_is_then_fetched_whole_again(site, setup):
    config, indexer = setup
    url = site.put("/harbour", html_page("Harbour", [HARBOUR]))
    indexer.index_paths([], config.index_dir, urls=[url])
    removal = indexer.remove_documents([url], config.index_dir)
    assert removal.removed == (url,) and removal.kept_files == () and url not in documents(config)
    # Its validators are not sent for a page the index no longer holds: a 304 would index nothing.
    report = indexer.index_paths([], config.index_dir, urls=[url])
    assert report.added == [url] and site.downloads["/harbour"] == 2


def test_a_page_that_fails_to_fetch_keeps_its_indexed_version(site, setup):
    config, indexer = setup
    url = site.put("/harbour", html_page("Harbour", [HARBOUR]))
    other = site.put("/ships", html_page("Ships", [SHIPS]))
    indexer.index_paths([], config.index_dir, urls=[url, other])
    site.put("/harbour", "down for maintenance", status=500)
    report = indexer.index_paths([], config.index_dir, urls=[url, other])
    assert [s.path for s in report.skipped] == [url] and "HTTP 500" in report.skipped[0].reason
    assert url in documents(config) and report.unchanged == [other]


def test_the_validators_file_is_the_index_directorys_own_and_written_whole(site, setup):
    config, indexer = setup
    url = site.put("/harbour", html_page("Harbour", [HARBOUR]))
    indexer.index_paths([], config.index_dir, urls=[url])
    state = json.loads((config.index_dir / STATE_FILE).read_text())
    assert state["pages"][url]["etag"] and state["pages"][url]["hash"] == documents(config)[url]["hash"]
    assert OwnedDir(config.index_dir, "index").owns(STATE_FILE)
    assert not [p for p in config.index_dir.iterdir() if p.name.startswith("tmp-")]


def test_a_rebuild_fetches_every_page_whole(site, setup):
    config, indexer = setup
    url = site.put("/harbour", html_page("Harbour", [HARBOUR]))
    indexer.index_paths([], config.index_dir, urls=[url])
    report = indexer.index_paths([], config.index_dir, urls=[url], rebuild=True)
    assert report.added == [url] and site.downloads["/harbour"] == 2
