"""One server on one port: the page at `/` and the HTTP API under `/v1`, under uvicorn.

Who may use it: API keys (`rag keys create`) for /v1, and the page's login (`--auth USER:PASS`,
or a users file written by `rag users add`). Without a key file, /v1 answers only while the
server is bound to loopback (this machine's users only); bound to another address, /v1 needs a
key. Without any login the server says so when it starts, and warns when others can reach it.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import uvicorn
from fastapi import FastAPI

from rag.api.app import BoundCollections, build_api
from rag.api.auth import AccessPolicy
from rag.api.limits import RateLimiter
from rag.app.access import KeyStore, UserStore, keys_path, users_path
from rag.app.collections import DEFAULT_COLLECTION, Collections
from rag.app.service import ChatService
from rag.app.slots import AnswerSlots
from rag.core.config import Config
from rag.core.errors import RagError
from ui.app import prepare
from ui.guard import exposure_warning, is_public

log = logging.getLogger("rag.api")


@dataclass
class Running:
    """A server started with `block=False` (tests, benchmarks): its address, stopped by close()."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread
    app: FastAPI
    page: gr.Blocks

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.page.close()


def users_of(config: Config, auth: str | None) -> tuple[str | None, UserStore | None]:
    """`--auth` names a users file, or is USER:PASSWORD; without it, the configured users file is
    used when it exists."""
    if auth and ":" not in auth:
        if not Path(auth).is_file():
            raise RagError(f"--auth {auth}: no such users file; write one with `rag users add NAME --role reader`, "
                           "or give USER:PASSWORD")
        return None, UserStore(auth)
    if auth:
        return auth, None
    default = users_path(config)
    return None, (UserStore(default) if default.is_file() else None)


def build(config: Config, *, host: str = "127.0.0.1", auth: str | None = None, concurrency: int = 4,
          collections: Collections | None = None) -> tuple[FastAPI, gr.Blocks, list[str]]:
    """The server's application, its page, and what to tell the operator when it starts."""
    collections = collections or Collections(config)
    slots = AnswerSlots(concurrency)
    service: ChatService = collections.service(DEFAULT_COLLECTION)
    service.slots = slots
    warm = threading.Event()

    def warm_up():
        service.warm_up()
        warm.set()

    threading.Thread(target=warm_up, daemon=True, name="rag-warm-up").start()
    keys = KeyStore(keys_path(config))
    login, users = users_of(config, auth)
    policy = AccessPolicy(keys, open_local=not is_public(host), limiter=RateLimiter(config.rate_limit), slots=slots)
    api = build_api(collections, policy, max_request_bytes=config.max_request_kb * 1024, warm=warm)
    # The page answers from the same collections, each service taking its turns from the same slots.
    page = prepare(BoundCollections(collections, policy), auth=login, users=users, concurrency=concurrency)

    root = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    root.mount("/v1", api)
    gr.mount_gradio_app(root, page.app, path="/", auth=page.auth, app_kwargs={"middleware": page.middleware},
                        **page.options)

    notes = []
    if not keys.exists() and users is None and login is None:
        where = "this machine only" if not is_public(host) else f"{host}"
        notes.append(f"no API keys ({keys.path}) and no page login: serving {where}"
                     + ("; /v1 is open to this machine's users" if not is_public(host) else
                        "; /v1 is closed until a key exists (rag keys create)"))
    elif not keys.exists():
        notes.append(f"no API keys ({keys.path}): " + ("/v1 is open to this machine's users" if not is_public(host)
                                                        else "/v1 is closed until a key exists (rag keys create)"))
    warning = exposure_warning(host=host, share=False, login=page.auth is not None, read_only=service.read_only)
    if warning:
        log.warning("%s", warning)
    return root, page.app, notes


def serve(config: Config, *, host: str = "127.0.0.1", port: int = 7860, auth: str | None = None,
          concurrency: int = 4, block: bool = True, collections: Collections | None = None,
          announce=print) -> Running | None:
    root, page, notes = build(config, host=host, auth=auth, concurrency=concurrency, collections=collections)
    for note in notes:
        announce(note)
    # No access log: uvicorn's would print every path, and quiet is what the page had before.
    server = uvicorn.Server(uvicorn.Config(root, host=host, port=port, log_level="warning", access_log=False,
                                           timeout_graceful_shutdown=5))
    if block:
        if threading.current_thread() is threading.main_thread():
            # uvicorn shuts down on SIGTERM and then raises the signal again with the handler it
            # found: this one turns it into Ctrl-C's KeyboardInterrupt, so the process ends through
            # its exit handlers and the upload folder is removed on the way out.
            signal.signal(signal.SIGTERM, _interrupt)
        server.run()
        return None
    thread = threading.Thread(target=server.run, daemon=True, name="rag-server")
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RagError(f"the server did not start on {host}:{port}")
        time.sleep(0.05)
    shown = f"[{host}]" if ":" in host else host
    return Running(f"http://{shown}:{port}/", server, thread, root, page)


def _interrupt(signum, frame):
    raise KeyboardInterrupt
