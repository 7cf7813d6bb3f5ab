"""The web chat for page tests: the app serving a copy of the article, a hostile document, and what
a user does on the page (choose a generator, open the documents panel) and what a test keeps of it."""

from __future__ import annotations

import shutil

from rag.app import factory
from rag.core.config import Config

from ..conftest import ARTICLE, ROOT

CHROMIUM = "/usr/bin/chromium"
DOWN = "http://127.0.0.1:9/v1"
ARTIFACTS = ROOT / "test-artifacts"
MALICIOUS = """Notes on the Zanzibar lighthouse keeper.

The Zanzibar lighthouse keeper is named Omari Juma <script>window.__pwned = 1; alert('xss')</script>.
Visitors may read <img src=x onerror="window.__pwned = 2; alert('img')"> and follow <a href="javascript:alert('js')">this link</a>.
The keeper also wrote ![tracker](https://evil.example.com/pixel.png) in his diary about the Zanzibar lighthouse.
"""


def start_web(tmp_path_factory, embedder, monkeypatch_module, allowed: tuple[str, ...] = ()):
    """The app serving a copy of the article on a free port, sharing the session's model; the
    operator allows the API key to go to DOWN (an endpoint that is down) and `allowed`."""
    from rag.generators.local_server import free_port
    from ui.app import serve

    root = tmp_path_factory.mktemp("web")
    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copy(ARTICLE, corpus / ARTICLE.name)
    config = Config(corpus_dir=corpus, index_dir=root / "index", openai_allowed_base_urls=(DOWN, *allowed))
    factory.indexer(config, embedder).index_paths([corpus], config.index_dir)
    monkeypatch_module.setattr("rag.app.factory.load_embedder", lambda *a, **k: embedder)
    port = free_port()
    app = serve(config, port=port, block=False)
    return f"http://127.0.0.1:{port}/", config, app


def choose_generator(page, name: str) -> None:
    page.locator("#generator input").click()
    page.get_by_role("option", name=name, exact=True).click()
    page.wait_for_function("([v]) => document.querySelector('#generator input').value === v", arg=[name])


def open_documents(page) -> None:
    page.locator("#documents").get_by_text("Documents", exact=True).first.click()
    page.wait_for_selector("#doc-list [data-testid='doc-row'], #doc-list [data-testid='no-docs']")


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def use_endpoint(page, url: str, model: str = "m") -> None:
    """Settings: the hosted generator on `url` (one of the endpoints the operator allows)."""
    page.click("text=Settings")
    choose_generator(page, "openai")
    page.locator("#base-url input").click()
    page.get_by_role("option", name=url, exact=True).click()
    page.locator("#model textarea").fill(model)
    page.locator("#model textarea").press("Tab")
