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


def start_web(tmp_path_factory, embedder, monkeypatch_module, allowed: tuple[str, ...] = (),
              collections: list[str] = ()):
    """The server `rag serve` starts (the page at /, the HTTP API at /v1) serving a copy of the
    article on a free port, sharing the session's model; the operator allows the API key to go
    to DOWN (an endpoint that is down) and `allowed`. `collections`: named collections made
    (empty) beside the article's. Its close() stops it."""
    from rag.api.server import serve
    from rag.app.collections import Collections
    from rag.generators.local_server import free_port

    root = tmp_path_factory.mktemp("web")
    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copy(ARTICLE, corpus / ARTICLE.name)
    config = Config(corpus_dir=corpus, index_dir=root / "index", openai_allowed_base_urls=(DOWN, *allowed))
    factory.indexer(config, embedder).index_paths([corpus], config.index_dir)
    served = Collections(config, embedder=embedder)
    for name in collections:
        served.create(name)
    monkeypatch_module.setattr("rag.app.factory.load_embedder", lambda *a, **k: embedder)
    running = serve(config, port=free_port(), block=False, collections=served,
                    announce=lambda line: None)
    return running.url, config, running


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

# --- the page's HTTP routes, as a program (not the page) would call them ---

def event_index(url: str, elem_id: str | None, trigger: str) -> int:
    """The index of the event `trigger` of the component `elem_id` in the page's config; with no
    `elem_id`, of the event named `trigger` (e.g. "listing", the page's load event)."""
    import httpx

    config = httpx.get(url.rstrip("/") + "/config", timeout=30).json()
    ids = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}
    for i, dep in enumerate(config["dependencies"]):
        if elem_id is None and dep.get("api_name") == trigger:
            return i
        if any(ids.get(target) == elem_id and event == trigger for target, event in dep["targets"]):
            return i
    raise LookupError(f"no {trigger} event on #{elem_id}")


def call_event(url: str, elem_id: str | None, trigger: str, data: list, session: str | None = None) -> dict:
    """Run one of the page's events through Gradio's queue as any program can; the completion
    message ({"success", "output", ...})."""
    import json
    import uuid

    import httpx

    base = url.rstrip("/")
    session = session or uuid.uuid4().hex[:12]
    joined = httpx.post(f"{base}/gradio_api/queue/join", timeout=30,
                        json={"data": data, "fn_index": event_index(url, elem_id, trigger), "session_hash": session,
                              "event_data": None, "trigger_id": None})
    joined.raise_for_status()
    with httpx.stream("GET", f"{base}/gradio_api/queue/data", params={"session_hash": session}, timeout=120) as events:
        for line in events.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    return message
    raise AssertionError("the event never completed")


def upload(url: str, name: str, data: bytes, headers: dict | None = None):
    """POST one file to Gradio's upload route; the response (its JSON lists the cached paths)."""
    import httpx

    return httpx.post(url.rstrip("/") + "/gradio_api/upload", files={"files": (name, data)}, headers=headers or {},
                      timeout=60)


def file_data(path: str, name: str) -> dict:
    """How the page names an uploaded file to an event."""
    return {"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}
