"""The web chat: Gradio layout and events. Retrieval and answering live in `rag`; this module
only wires them to the page."""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import gradio as gr
from starlette.middleware import Middleware

from rag.app import factory
from rag.app.access import UserStore
from rag.app.collections import DEFAULT_COLLECTION, Collections
from rag.app.service import ChatService
from rag.app.web import MAX_UPLOAD_BYTES, allowed_endpoints, redact
from rag.core.config import Config
from rag.core.errors import ConfigError, RagError
from rag.core.records import Answer
from ui.calls import Page
from ui.chat import HEAD, build_chat, check_endpoint, page_message, wire_chat
from ui.conversations import short_of, sources_of
from ui.documents import documents_panel
from ui.guard import Guard, LoginThrottle, exposure_warning
from ui.render import CSS, SEARCHING, answer_html, error_html, sources_html, text_html, with_notice
from ui.sources import Sources
from ui.uploads import UploadCache, process_cache

log = logging.getLogger("rag.ui")
# Gradio refuses a file over this at the door. It is a little above the upload limit, so a file
# just over the limit gets its reason in the status box (on_upload) instead of a toast; one
# request carries at most MAX_FILES_PER_REQUEST files of that size.
TRANSPORT_LIMIT = MAX_UPLOAD_BYTES + 1024 * 1024
MAX_FILES_PER_REQUEST = 10


def _message_text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


def storage_secret(config: Config) -> str:
    """The key the browser's copy of the conversations is encrypted with. Stable across restarts of
    this deployment (so conversations survive them); what keeps browsers apart is localStorage."""
    return hashlib.sha256(f"rag-conversations:{Path(config.index_dir).resolve()}".encode()).hexdigest()[:32]


def collection_picker(collections: Collections) -> gr.Dropdown:
    """The collection questions and the Documents panel use; shown only when there is a choice."""
    names = collections.names()
    return gr.Dropdown(names, value=DEFAULT_COLLECTION, label="Collection", elem_id="collection",
                       visible=len(names) > 1, info="the documents questions are answered from")


def build_app(collections: Collections | ChatService, cache: UploadCache | None = None,
              may_change: Callable[[str | None], bool] | None = None) -> gr.Blocks:
    """The page over every collection (a `ChatService` alone: over its index only). `cache`: the
    folder uploads arrive in (see ui.uploads), emptied as they are handled; `may_change(user)`:
    whether a signed-in user may upload and remove (None: everyone may)."""
    if isinstance(collections, ChatService):
        collections = Collections(collections.config, default=collections)
    service = collections.service(DEFAULT_COLLECTION)
    config = service.config
    key_state = ("set" if os.environ.get(config.openai_api_key_env) else "not set")

    def respond(message: str, history: list, generator: str, k: float, base_url: str, model: str):
        """Stateless chat for programs (bench/load.py): history in, streamed history out."""
        history = [{"role": m["role"], "content": _message_text(m)} for m in (history or [])]
        prior = list(history)
        if not (message or "").strip():
            yield history, error_html("Type a question first."), message
            return
        history += [{"role": "user", "content": text_html(message)}, {"role": "assistant", "content": ""}]
        yield history, SEARCHING, ""
        try:
            if generator == "openai":
                check_endpoint(base_url)
            for event in service.ask_stream(message, prior, generator, int(k), base_url, model):
                if isinstance(event, Answer):
                    turn = {"answer": event.text, "sources": sources_of(event), "short": short_of(event),
                            "abstained": event.abstained}
                    history[-1]["content"] = answer_html(turn)  # its markers link to this answer's passages
                    yield history, with_notice(sources_html(event), service.index_problem), ""
                else:
                    history[-1]["content"] += text_html(event)
                    yield history, gr.skip(), ""
        except RagError as exc:
            history[-1]["content"] = text_html(f"⚠ {page_message(exc)}")
            yield history, error_html(page_message(exc)), ""
        except Exception:  # the session must survive anything; details go to the server log
            log.exception("answering failed")
            history[-1]["content"] = "⚠ Something went wrong while answering; see the server log."
            yield history, error_html("Something went wrong while answering."), ""

    with Page(title="rag — ask your documents") as app:
        gr.Markdown("### Ask your documents\nAnswers quote the documents and cite them; "
                    "when the documents don't hold the answer, it says so.")
        picker = collection_picker(collections)
        with gr.Row():
            with gr.Column(scale=3):
                chat = build_chat(storage_secret=storage_secret(config))
            with gr.Column(scale=2):
                gr.Markdown("**Sources**")
                chat.sources.render()
        with gr.Accordion("Settings", open=False):
            generator = gr.Dropdown(factory.generator_names(), value=config.generator, label="Generator",
                                    elem_id="generator")
            k = gr.Slider(1, 20, value=config.k, step=1, label="Passages to retrieve (k)", elem_id="k")
            # Only endpoints the operator allowed receive the API key; another URL typed here is
            # refused with the list (the service checks it too, for the APIs).
            endpoints = allowed_endpoints(config)
            base_url = gr.Dropdown(endpoints, value=endpoints[0] if endpoints else "", allow_custom_value=True,
                                   label="Hosted endpoint (openai generator)", elem_id="base-url",
                                   info="the endpoints this server may send its API key to")
            model = gr.Textbox(value=config.openai_model, label="Hosted model", elem_id="model")
            gr.Markdown(f"API key: read from the `{escape(config.openai_api_key_env)}` environment variable "
                        f"({key_state}); it is never shown here.")
        documents_panel(app, collections, picker, cache, may_change)

        settings = [generator, k, base_url, model]
        wire_chat(app, collections, chat, settings, picker)

        def refresh_picker():
            # Collections made or removed since the page was built (`rag index --collection`).
            names = collections.names()
            return gr.update(choices=names, visible=len(names) > 1)

        app.load(refresh_picker, None, picker, api_visibility="private")

        # Callable by programs (bench/load.py drives the chat through it) but left out of the API
        # page: `/ask` is the documented API.
        legacy_history = gr.Chatbot(visible=False, render_markdown=False, allow_tags=False)
        legacy_question = gr.Textbox(visible=False)
        legacy = gr.Button(visible=False)
        legacy.click(respond, [legacy_question, legacy_history, *settings], [legacy_history, chat.sources, legacy_question],
                     api_name="chat", api_visibility="undocumented")

        def ask_api(question: str, k: int = 5, collection: str = DEFAULT_COLLECTION) -> dict:
            """Question in; answer, abstained flag, citations and timings out (from `collection`)."""
            try:
                return collections.service(collection).ask_api(question, k)
            except RagError as exc:  # the reason, not Gradio's generic "Error", reaches the caller
                raise gr.Error(redact(str(exc)), print_exception=False) from None
            except Exception:  # details go to the (masked) server log, not to the caller
                log.exception("answering through /ask failed")
                raise gr.Error("Something went wrong while answering; see the server log.",
                               print_exception=False) from None

        gr.api(ask_api, api_name="ask")
    return app


@dataclass
class PageSetup:
    """The page and what serving it takes, whether Gradio serves it alone (`serve`) or it is
    mounted in the server that also serves the HTTP API (rag.api.server)."""

    app: gr.Blocks
    auth: Callable[[str, str], bool] | tuple[str, str] | None
    middleware: list[Middleware]  # the Guard, then the source viewer's routes (ui.sources)
    options: dict = field(default_factory=dict)  # for launch() and mount_gradio_app() alike


def login(auth: str | None, users: UserStore | None) -> tuple[Callable | tuple[str, str] | None,
                                                             Callable[[str | None], bool] | None]:
    """The page's login (`auth`: USER:PASSWORD, else RAG_AUTH; or a users file) and who may change
    documents: with a users file, editors and admins; with one USER:PASSWORD, that user."""
    auth = auth or os.environ.get("RAG_AUTH")
    if users is not None:
        def may_change(user: str | None) -> bool:
            who = users.principal(user)
            return who is not None and who.may("upload")

        return users.check, may_change
    if auth:
        user, sep, password = auth.partition(":")
        if not sep or not user or not password:
            raise ConfigError("--auth must look like USER:PASSWORD, or name a users file (rag users add)")
        return (user, password), None
    return None, None


def reads(users: UserStore | None) -> Callable[[str | None, str], bool] | None:
    """Whether a signed-in user may read a collection (None: with no users file, everyone may)."""
    if users is None:
        return None

    def sees(user: str | None, collection: str) -> bool:
        who = users.principal(user)
        return who is not None and who.sees(collection)

    return sees


def prepare(collections: Collections, *, auth: str | None = None, users: UserStore | None = None,
            concurrency: int = 4) -> PageSetup:
    credentials, may_change = login(auth, users)
    service = collections.service(DEFAULT_COLLECTION)
    cache = process_cache()  # before the page is built: Gradio's components note their cache folder when made
    app = build_app(collections, cache, may_change)
    app.queue(default_concurrency_limit=concurrency)
    guard = Middleware(Guard, read_only=service.read_only, max_upload_request=MAX_FILES_PER_REQUEST * TRANSPORT_LIMIT,
                       throttle=LoginThrottle() if credentials else None, may_upload=may_change)
    sources = Middleware(Sources, collections=collections, login=credentials is not None, sees=reads(users))
    return PageSetup(app, credentials, [guard, sources], {"css": CSS, "head": HEAD, "show_error": False,
                                                "max_file_size": TRANSPORT_LIMIT, "footer_links": []})


def serve(config: Config, *, host: str = "127.0.0.1", port: int = 7860, share: bool = False,
          auth: str | None = None, concurrency: int = 4, block: bool = True, service: ChatService | None = None,
          collections: Collections | None = None, users: UserStore | None = None):
    """The page alone, over `collections` (default: the configured ones, the default collection's
    service being `service` when given), served by Gradio: `rag serve --share` (a share link needs
    Gradio's own server); `rag serve` mounts the page beside the HTTP API instead (rag.api.server)."""
    if collections is None:
        collections = Collections(config, default=service)
        if service is None:
            threading.Thread(target=collections.service(DEFAULT_COLLECTION).warm_up, daemon=True).start()
    service = collections.service(DEFAULT_COLLECTION)
    page = prepare(collections, auth=auth, users=users, concurrency=concurrency)
    warning = exposure_warning(host=host, share=share, login=page.auth is not None, read_only=service.read_only)
    if warning:
        log.warning("%s", warning)
    if block and threading.current_thread() is threading.main_thread():
        # A stop by SIGTERM (a service manager, `kill`) ends the server as Ctrl-C does, so the
        # upload folder is removed on the way out.
        signal.signal(signal.SIGTERM, _interrupt)
    page.app.launch(server_name=host, server_port=port, share=share, auth=page.auth, prevent_thread_lock=not block,
                    quiet=True, app_kwargs={"middleware": page.middleware}, **page.options)
    return page.app


def _interrupt(signum, frame):
    raise KeyboardInterrupt
