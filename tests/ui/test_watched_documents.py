"""A server watching its corpus: the open page's Documents list follows files added to and deleted
from the folder, without a reload."""

from __future__ import annotations

import shutil

import pytest

from rag.app import factory
from rag.app.service import ChatService
from rag.core.config import Config

from ..conftest import ARTICLE
from ..support.files import write
from ..support.web import open_documents

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def watched(tmp_path_factory, embedder, monkeypatch_module):
    from rag.generators.local_server import free_port
    from ui.app import serve

    root = tmp_path_factory.mktemp("watched")
    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copy(ARTICLE, corpus / ARTICLE.name)
    config = Config(corpus_dir=corpus, index_dir=root / "index", watch_debounce_ms=300, watch_quiet_ms=100)
    factory.indexer(config, embedder).index_paths([corpus], config.index_dir)
    monkeypatch_module.setattr("rag.app.factory.load_embedder", lambda *a, **k: embedder)
    service = ChatService(config, embedder=embedder)
    stop = service.watch_folders([corpus], lambda batch: None)
    port = free_port()
    app = serve(config, port=port, block=False, service=service)
    yield f"http://127.0.0.1:{port}/", corpus
    stop(30)
    app.close()


def test_the_documents_list_follows_the_watched_folder(browser, watched):
    url, corpus = watched
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(url)
        page.wait_for_selector("#question textarea")
        open_documents(page)
        page.wait_for_selector(f"#doc-list [data-doc-id='{ARTICLE.name}']")
        assert page.locator("#doc-list [data-testid='doc-row']").count() == 1

        write(corpus / "harbour.txt", "The harbour master of Stone Town is Amina Salim.")
        page.wait_for_selector("#doc-list [data-doc-id='harbour.txt']", timeout=10_000)
        page.locator("#remove-choice input").click()
        assert page.get_by_role("option", name="harbour (harbour.txt)").count() == 1  # removable at once

        (corpus / "harbour.txt").unlink()
        page.wait_for_selector("#doc-list [data-doc-id='harbour.txt']", state="detached", timeout=10_000)
        assert page.locator("#doc-list [data-testid='doc-row']").count() == 1
    finally:
        context.close()
