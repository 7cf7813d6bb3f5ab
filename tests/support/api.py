"""The one server (page at /, HTTP API at /v1) for API tests: a copy of the article indexed in a
temporary folder, a key file with keys of each role, on a free loopback port."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from rag.app import factory
from rag.core.config import Config

from ..conftest import ARTICLE


@dataclass
class LiveServer:
    url: str  # the page, ending in /
    api: str  # http://127.0.0.1:PORT/v1
    config: Config
    keys: dict[str, str] = field(default_factory=dict)  # name -> key
    ids: dict[str, str] = field(default_factory=dict)  # name -> key id
    log: list[str] = field(default_factory=list)  # every log record and announcement of the server
    running: object = None

    def headers(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[name]}"}


class _Recorder(logging.Handler):
    def __init__(self, lines: list[str]):
        super().__init__(logging.DEBUG)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def start_api(tmp_path_factory, embedder, monkeypatch_module, *, keys: dict[str, tuple[str, list[str] | None]] = (),
              users: dict[str, tuple[str, str]] = (), extra_collections: tuple[str, ...] = (), **settings) -> LiveServer:
    """`keys`: name -> (role, collections); `users`: name -> (password, role) for the page."""
    from rag.api.server import serve
    from rag.app.access import KeyStore, UserStore, keys_path, users_path
    from rag.app.collections import Collections
    from rag.generators.local_server import free_port

    root = tmp_path_factory.mktemp("api")
    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copy(ARTICLE, corpus / ARTICLE.name)
    config = Config(corpus_dir=corpus, index_dir=root / "index", **settings)
    factory.indexer(config, embedder).index_paths([corpus], config.index_dir)
    monkeypatch_module.setattr("rag.app.factory.load_embedder", lambda *a, **k: embedder)
    collections = Collections(config, embedder=embedder)
    for name in extra_collections:
        collections.create(name)
    live = LiveServer("", "", config)
    store = KeyStore(keys_path(config))
    for name, (role, names) in dict(keys).items():
        key, listing = store.create(role, names)
        live.keys[name], live.ids[name] = key, listing["id"]
    if users:
        user_store = UserStore(users_path(config))
        for name, (password, role) in dict(users).items():
            user_store.add(name, password, role)
    recorder = _Recorder(live.log)
    logging.getLogger().addHandler(recorder)
    port = free_port()
    live.collections = collections
    live.running = serve(config, port=port, block=False, collections=collections, announce=live.log.append)
    live.url = live.running.url
    live.api = f"{live.url}v1"
    live.recorder = recorder
    return live


def stop_api(live: LiveServer) -> None:
    live.running.close()
    logging.getLogger().removeHandler(live.recorder)


def keys_file(config: Config) -> Path:
    from rag.app.access import keys_path

    return keys_path(config)
