"""The page tests' fixtures: one app server and one headless Chromium per module, a new page per
test that records its dialogs and the requests it makes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ..support.web import CHROMIUM, start_web


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.fixture(scope="module")
def web(request, tmp_path_factory, embedder, monkeypatch_module):
    """The app; a module that defines an `endpoint` fixture (a local OpenAI-compatible server) gets
    it among the endpoints the operator allows the key to go to."""
    allowed = (request.getfixturevalue("endpoint").url,) if hasattr(request.module, "endpoint") else ()
    url, config, app = start_web(tmp_path_factory, embedder, monkeypatch_module, allowed=allowed)
    yield url, config
    app.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; .ci/run installs Debian's chromium")
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                    "--disable-component-update", "--no-first-run", "--disable-sync"])
        yield b
        b.close()


@pytest.fixture
def page(browser, web):
    url, _ = web
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.dialogs = []
    page.requests = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: page.requests.append(r.url))
    page.goto(url)
    page.wait_for_selector("#question textarea")
    page.wait_for_timeout(500)  # the stored conversations are restored on load
    yield page
    context.close()
