"""The web chat: Gradio layout and events. Retrieval and answering live in `rag`; this module
only wires them to the page."""

from __future__ import annotations

import logging
import os
import threading
from html import escape
from pathlib import Path

import gradio as gr

from rag.config import Config
from rag.errors import ConfigError, RagError
from rag.generators import available_generators
from rag.records import Answer
from rag.service import ChatService
from rag.uploads import MAX_UPLOAD_BYTES

from .render import CSS, EMPTY, answer_message, error_html, sources_html

log = logging.getLogger("rag.ui")
UPLOAD_TYPES = [".txt", ".md", ".markdown", ".html", ".htm", ".pdf"]
EXAMPLES = ["When was the IMU first formed?", "Where is it based now?", "How many fighters does the IMU have?"]


def _message_text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


def build_app(service: ChatService) -> gr.Blocks:
    config = service.config
    key_state = ("set" if os.environ.get(config.openai_api_key_env) else "not set")

    def respond(message: str, history: list, generator: str, k: float, base_url: str, model: str):
        history = [{"role": m["role"], "content": _message_text(m)} for m in (history or [])]
        prior = list(history)
        if not (message or "").strip():
            yield history, error_html("Type a question first."), message
            return
        history += [{"role": "user", "content": message}, {"role": "assistant", "content": ""}]
        yield history, '<div class="rag-sources"><p class="rag-meta">Searching…</p></div>', ""
        try:
            for event in service.ask_stream(message, prior, generator, int(k), base_url, model):
                if isinstance(event, Answer):
                    history[-1]["content"] = answer_message(event)
                    yield history, sources_html(event), ""
                else:
                    history[-1]["content"] += event
                    yield history, gr.skip(), ""
        except RagError as exc:
            history[-1]["content"] = f"⚠ {exc}"
            yield history, error_html(str(exc)), ""
        except Exception:  # the session must survive anything; details go to the server log
            log.exception("answering failed")
            history[-1]["content"] = "⚠ Something went wrong while answering; see the server log."
            yield history, error_html("Something went wrong while answering."), ""

    def on_upload(files, progress=gr.Progress()):  # noqa: B008 - how Gradio injects a progress bar
        lines = []
        files = files or []
        for i, f in enumerate(files):
            path = Path(f if isinstance(f, str) else f.name)
            progress(i / max(1, len(files)), desc=f"indexing {path.name}")
            try:
                if path.stat().st_size > MAX_UPLOAD_BYTES:
                    raise RagError(f"file too large (the limit is {MAX_UPLOAD_BYTES // 1_000_000} MB)")
                result = service.upload(path.name, path.read_bytes())
                lines.append(f"✓ {result.document.id}: indexed ({result.chunks} chunk{'' if result.chunks == 1 else 's'}) — ask away")
            except RagError as exc:
                lines.append(f"✗ {path.name}: {exc}")
            except OSError as exc:
                lines.append(f"✗ {path.name}: cannot read the upload ({exc.strerror})")
        return "\n".join(lines) or "No files received."

    with gr.Blocks(title="rag — ask your documents") as app:
        gr.Markdown("### Ask your documents\nAnswers quote the documents and cite them; "
                    "when the documents don't hold the answer, it says so.")
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="Chat", height=480, render_markdown=False, elem_id="chat",
                                     sanitize_html=True, feedback_options=None)
                question = gr.Textbox(placeholder="Ask a question about the documents…", show_label=False,
                                      elem_id="question", lines=1, max_lines=4)
                with gr.Row():
                    ask = gr.Button("Ask", variant="primary", elem_id="ask")
                    clear = gr.Button("New chat", elem_id="clear")
                gr.Examples(EXAMPLES, inputs=question)
            with gr.Column(scale=2):
                gr.Markdown("**Sources**")
                sources = gr.HTML(EMPTY, elem_id="sources")
        with gr.Accordion("Settings", open=False):
            generator = gr.Dropdown(available_generators(), value=config.generator, label="Generator",
                                    elem_id="generator")
            k = gr.Slider(1, 20, value=config.k, step=1, label="Passages to retrieve (k)")
            base_url = gr.Textbox(value=config.openai_base_url, label="Hosted endpoint (openai generator)",
                                  elem_id="base-url")
            model = gr.Textbox(value=config.openai_model, label="Hosted model")
            gr.Markdown(f"API key: read from the `{escape(config.openai_api_key_env)}` environment variable "
                        f"({key_state}); it is never shown here.")
        with gr.Accordion("Add documents", open=False):
            files = gr.File(file_count="multiple", file_types=UPLOAD_TYPES, label="txt, md, html or pdf",
                            elem_id="upload")
            upload_status = gr.Textbox(label="Upload status", interactive=False, lines=3, elem_id="upload-status")

        inputs = [question, chatbot, generator, k, base_url, model]
        # Callable by programs (bench/load.py drives the chat exactly as the page does) but left
        # out of the API page: `/ask` is the documented API.
        ask.click(respond, inputs, [chatbot, sources, question], api_name="chat", api_visibility="undocumented")
        question.submit(respond, inputs, [chatbot, sources, question], api_visibility="private")
        clear.click(lambda: ([], EMPTY, ""), None, [chatbot, sources, question], api_visibility="private")
        files.upload(on_upload, files, upload_status, api_visibility="private")
        def ask_api(question: str, k: int = 5) -> dict:
            """Question in; answer, abstained flag, citations and timings out."""
            try:
                return service.ask_api(question, k)
            except RagError as exc:  # the reason, not Gradio's generic "Error", reaches the caller
                raise gr.Error(str(exc), print_exception=False) from None

        gr.api(ask_api, api_name="ask")
    return app


def serve(config: Config, *, host: str = "127.0.0.1", port: int = 7860, share: bool = False,
          auth: str | None = None, concurrency: int = 4, block: bool = True, service: ChatService | None = None):
    if service is None:
        service = ChatService(config)
        threading.Thread(target=service.warm_up, daemon=True).start()
    app = build_app(service)
    app.queue(default_concurrency_limit=concurrency)
    credentials = None
    auth = auth or os.environ.get("RAG_AUTH")
    if auth:
        user, sep, password = auth.partition(":")
        if not sep or not user or not password:
            raise ConfigError("--auth must look like USER:PASSWORD")
        credentials = (user, password)
    app.launch(server_name=host, server_port=port, share=share, auth=credentials, css=CSS,
               prevent_thread_lock=not block, show_error=False, max_file_size=MAX_UPLOAD_BYTES,
               quiet=True, footer_links=[])
    return app
