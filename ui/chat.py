"""The chat column: question box, Ask/Stop, Retry, New chat, the conversation list, and the
events that answer.

Each browser tab has a `ChatSession` on the server (a `gr.State`), and its conversations in the
browser's localStorage (`gr.BrowserState`), so a reload or a server restart loses nothing and no
other browser sees them. One answering loop per tab (`ChatSession.running`) takes questions from
`pending` in order: a question sent while an answer streams is shown as queued and answered next.

The model runs in a worker thread while the event yields the elapsed time every half second, so
Gradio can always close the event promptly when Stop is pressed; closing it tells the worker,
which closes the answer stream and with it the model's request.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import gradio as gr

from rag.app.collections import DEFAULT_COLLECTION, Collections
from rag.app.web import language_note, redact
from rag.core.errors import ConfigError, RagError
from rag.core.records import Answer
from ui import conversations as convs
from ui.render import EMPTY, SEARCHING, error_html, messages, sources_panel, status_html, with_notice

log = logging.getLogger("rag.ui")
EXAMPLES = ["When was the IMU first formed?", "Where is it based now?", "How many fighters does the IMU have?"]
TICK = 0.5  # seconds between elapsed-time updates while waiting; also the longest a Stop waits for the event
STOP_WAIT = 15.0  # seconds Stop waits for the answering loop to wind down before reporting anyway
CITE_JS = (Path(__file__).with_name("cite.js")).read_text()
VIEWER_JS = (Path(__file__).with_name("viewer.js")).read_text()
HEAD = f"<script>{CITE_JS}</script>\n<script>{VIEWER_JS}</script>"


class ChatSession:
    """One tab's working state. Shared by that tab's concurrent events, hence the lock."""

    def __init__(self):
        self.store = convs.empty_store()
        self.pending: list[str] = []
        self.live: dict | None = None  # the turn being answered
        self.running = False
        self.asking_in = DEFAULT_COLLECTION  # the collection of the turn being answered
        self.cancel = threading.Event()
        self.lock = threading.Lock()

    def __deepcopy__(self, memo):
        # gr.State gives each tab a deep copy of its initial value: a fresh session. (A callable
        # initial value would be called by a load event of Gradio's own, which can store its
        # session after `restore` has filled another one, losing the restored conversations.)
        return ChatSession()


@dataclass(frozen=True)
class Settings:
    generator: str
    k: int
    base_url: str
    model: str
    collection: str = DEFAULT_COLLECTION  # the one picked; a conversation keeps its own


@dataclass
class ChatView:
    """The components the chat events read and write."""

    session: gr.State
    store: gr.BrowserState
    chatbot: gr.Chatbot
    question: gr.Textbox
    ask: gr.Button
    stop: gr.Button
    retry: gr.Button
    new_chat: gr.Button
    delete: gr.Button
    history: gr.Radio
    status: gr.HTML
    sources: gr.HTML


# --- words for the page ---

_FLAG_WORDS = [
    (re.compile(r"choose --generator (\w+)"), r'choose the "\1" generator in Settings'),
    (re.compile(r"\s*\(or --model\)"), ""),
    (re.compile(r"--base-url"), "Hosted endpoint (Settings)"),
    (re.compile(r"--model"), "Hosted model (Settings)"),
    (re.compile(r"raise request_timeout"), "ask the operator to raise request_timeout"),
    (re.compile(r"; export it with your API key for ([^,;]+)"), r" on the server, so \1 cannot be used"),
    (re.compile(r"; (re)?build (one )?with `rag index[^`]*`"), "; the index must be rebuilt on the server"),
    (re.compile(r"upload \.jsonl corpora with `rag index`, not one at a time"),
     ".jsonl corpora cannot be added here; they are indexed on the server"),
]


def page_message(exc: Exception) -> str:
    """A library error in the page's words: settings as the page names them, no command-line flags."""
    text = redact(str(exc))  # masked before anything else is done with it
    for pattern, replacement in _FLAG_WORDS:
        text = pattern.sub(replacement, text)
    return text


def check_endpoint(url: str) -> None:
    """A malformed URL is reported as one, before anything else is said about it."""
    parsed = urlparse((url or "").strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(f"the Hosted endpoint {url.strip()!r} is not a URL; it should look like "
                          "https://api.example.com/v1 (Settings → Hosted endpoint)")


# --- the answering loop ---

def _pump(collections: Collections, collection: str, question: str, history: list, s: Settings, out: queue.Queue,
          cancel: threading.Event) -> None:
    """Worker thread: the answer's events into `out`; stops reading (and closes the stream) on cancel."""
    try:
        if s.generator == "openai":
            check_endpoint(s.base_url)
        service = collections.service(collection)
        with closing(service.ask_stream(question, history, s.generator, s.k, s.base_url, s.model)) as stream:
            for event in stream:
                if cancel.is_set():
                    return
                out.put(("answer" if isinstance(event, Answer) else "text", event))
    except RagError as exc:
        out.put(("error", page_message(exc)))
    except Exception:  # the session must survive anything; details go to the server log
        log.exception("answering failed")
        out.put(("error", "Something went wrong while answering; see the server log."))


def _meta(answer: Answer, elapsed: float, first_token: float | None, streamed_for: float) -> str:
    parts = []
    if answer.generator != "extractive" and first_token is not None:
        parts.append(f"first words after {first_token:.1f} s")
        tokens = answer.usage.get("completion_tokens", 0)
        if tokens and streamed_for > 0.05:
            parts.append(f"{tokens / streamed_for:.0f} tokens/s")
    parts.append(f"answered in {elapsed:.1f} s")
    passages = len(answer.hits)
    parts.append(f"{passages} passage{'' if passages == 1 else 's'} retrieved")
    return " · ".join(parts) + f" · {answer.generator}"


class ChatEvents:
    def __init__(self, collections: Collections, view: ChatView):
        self.collections = collections
        self.v = view

    def index_problem(self, collection: str) -> str | None:
        try:
            return self.collections.service(collection).index_problem
        except RagError:
            return None

    # outputs of the answering events, in this order
    def loop_outputs(self):
        v = self.v
        return [v.chatbot, v.sources, v.status, v.store, v.history, v.ask, v.stop]

    def display(self, session: ChatSession) -> list[dict]:
        conv = convs.current(session.store)
        return messages(conv["turns"] if conv else [], session.live, session.pending)

    def list_update(self, session: ChatSession):
        return gr.update(choices=convs.choices(session.store), value=session.store["current"] or None)

    def last_sources(self, session: ChatSession) -> str:
        conv = convs.current(session.store)
        # Why a newer index on disk is not the one answering, if it is not.
        return with_notice(sources_panel(conv["turns"], convs.collection_of(conv)) if conv else EMPTY,
                           self.index_problem(convs.collection_of(conv)))

    def last_status(self, session: ChatSession) -> str:
        return status_html(self.last_status_text(session))

    # --- events ---
    def restore(self, session: ChatSession, stored):
        # The page is usable before this load event ends: with nothing stored, or a question
        # already asked, the page keeps what the user did first (an error shown for an empty
        # question was wiped by the restored, empty sources panel).
        restored = convs.clean_store(stored)
        with session.lock:
            if session.running or session.pending or not restored["conversations"]:
                return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            session.store = restored
        return (self.display(session), self.last_sources(session), self.last_status(session),
                self.list_update(session), self.picked(session))

    def accept(self, question: str, session: ChatSession):
        """Enter or Ask: the question joins the queue at once (answered by `run`)."""
        text = (question or "").strip()
        if not text:
            return gr.skip(), gr.skip(), error_html("Type a question first.")
        with session.lock:
            session.pending.append(question)
        return "", self.display(session), gr.skip()

    def run(self, session: ChatSession, generator: str, k: float, base_url: str, model: str,
            collection: str | None = None):
        idle = tuple(gr.skip() for _ in self.loop_outputs())
        with session.lock:
            busy = session.running or not session.pending
            if not busy:
                session.running = True
        if busy:  # the tab's loop is already answering; it takes the new question next
            yield idle
            return
        settings = Settings(generator, int(k), base_url or "", model or "", collection or DEFAULT_COLLECTION)
        try:
            while True:
                with session.lock:
                    if not session.pending:
                        session.running = False
                        break
                    question = session.pending.pop(0)
                yield from self._answer(session, question, settings)
        finally:
            with session.lock:
                if session.live is not None:  # closed by Stop mid-answer: keep what arrived
                    turn, session.live = session.live, None
                    turn["status"] = "stopped"
                    turn["meta"] = "stopped"
                    convs.add_turn(session.store, turn, session.asking_in)
                session.running = False
        yield (self.display(session), gr.skip(), gr.skip(), session.store, self.list_update(session),
               gr.update(visible=True), gr.update(visible=False))

    def _answer(self, session: ChatSession, question: str, s: Settings):
        conv = convs.current(session.store)
        turn = {"question": question, "answer": "", "status": "done", "abstained": False, "sources": [],
                "meta": "", "note": language_note(question)}
        history = convs.history(conv)
        # Follow-ups stay in the conversation's collection; a new conversation asks the one picked.
        collection = convs.collection_of(conv) if conv and conv["turns"] else s.collection
        session.asking_in = collection
        out: queue.Queue = queue.Queue()
        cancel = threading.Event()
        session.cancel = cancel
        session.live = turn
        t0 = time.monotonic()
        first = last = None
        worker = threading.Thread(target=_pump, args=(self.collections, collection, question, history, s, out, cancel),
                                  daemon=True,
                                  name="rag-answer")
        worker.start()
        try:
            yield (self.display(session), SEARCHING, status_html("Searching…"), gr.skip(), gr.skip(),
                   gr.update(visible=False), gr.update(visible=True))
            while True:
                try:
                    kind, value = out.get(timeout=TICK)
                except queue.Empty:
                    if cancel.is_set():  # Stop reached the worker before Gradio closed this event
                        kind, value = "stopped", None
                    elif not worker.is_alive() and out.empty():
                        kind, value = "error", "The answer ended without a result; see the server log."
                    else:
                        waited = f"{'Writing' if first is not None else 'Searching'}… {time.monotonic() - t0:.0f} s"
                        yield (gr.skip(), gr.skip(), status_html(waited), gr.skip(), gr.skip(), gr.skip(), gr.skip())
                        continue
                now = time.monotonic()
                if kind == "text":
                    first = first if first is not None else now
                    last = now
                    turn["answer"] += value
                    yield (self.display(session), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip())
                    continue
                if kind == "answer":
                    answer: Answer = value
                    turn.update(answer=answer.text, abstained=answer.abstained, sources=convs.sources_of(answer),
                                short=convs.short_of(answer), dropped=answer.dropped, kind=answer.kind,
                                reason=answer.reason,
                                meta=_meta(answer, now - t0, None if first is None else first - t0,
                                           (last or now) - (first or now)))
                elif kind == "stopped":
                    turn.update(status="stopped", meta="stopped")
                else:
                    turn.update(answer=f"⚠ {value}", status="error", meta="")
                break
            with session.lock:
                session.live = None
                convs.add_turn(session.store, turn, collection)
            yield (self.display(session), self.last_sources(session), status_html(turn["meta"]), session.store,
                   self.list_update(session), gr.skip(), gr.skip())
        finally:
            cancel.set()  # the worker stops reading and closes the model's stream

    def halt(self, session: ChatSession) -> list[str]:
        """End the tab's answering loop (Gradio closes the event; this also tells the worker) and wait
        for it, so the answer so far is saved, marked stopped. Returns the questions still queued."""
        with session.lock:  # first, so the loop cannot move on to a queued question meanwhile
            queued, session.pending = session.pending, []
        session.cancel.set()
        deadline = time.monotonic() + STOP_WAIT
        while session.running and time.monotonic() < deadline:
            time.sleep(0.05)
        return queued

    def _after_halt(self, session: ChatSession, queued: list[str], status: str):
        """Outputs of the events that stop first: loop outputs plus the question box (queued questions go back)."""
        return (self.display(session), self.last_sources(session), status_html(status), session.store,
                self.list_update(session), gr.update(visible=True), gr.update(visible=False),
                "\n".join(queued) if queued else gr.skip())

    def stop(self, session: ChatSession):
        was_running = session.running
        queued = self.halt(session)
        return self._after_halt(session, queued, "Stopped." if was_running else "")

    def retry(self, session: ChatSession):
        with session.lock:
            conv = convs.current(session.store)
            if session.running:
                return gr.skip(), status_html("Wait for the answer to finish, or press Stop, before retrying.")
            if not conv or not conv["turns"]:
                return gr.skip(), status_html("Nothing to retry yet: ask a question first.")
            session.pending.insert(0, conv["turns"].pop()["question"])
        return self.display(session), status_html("Asking again…")

    def new_chat(self, session: ChatSession):
        queued = self.halt(session)
        with session.lock:
            convs.start_new(session.store)
        return self._after_halt(session, queued, "")

    def delete_chat(self, session: ChatSession):
        queued = self.halt(session)
        with session.lock:
            convs.delete_current(session.store)
        return self._after_halt(session, queued, "Conversation deleted.")

    def open_chat(self, conv_id: str, session: ChatSession):
        queued = self.halt(session)
        with session.lock:
            convs.open_conversation(session.store, conv_id or "")
        return (*self._after_halt(session, queued, self.last_status_text(session)), self.picked(session))

    def picked(self, session: ChatSession):
        """The picker showing the open conversation's collection (unchanged with none open)."""
        conv = convs.current(session.store)
        if not conv or not conv["turns"] or not self.collections.exists(convs.collection_of(conv)):
            return gr.skip()  # a collection removed since keeps the picker where it is
        return convs.collection_of(conv)

    def pick(self, collection: str, session: ChatSession):
        """Another collection picked: a conversation in another one is left for a new chat."""
        conv = convs.current(session.store)
        if not conv or not conv["turns"] or convs.collection_of(conv) == (collection or DEFAULT_COLLECTION):
            return tuple(gr.skip() for _ in range(len(self.loop_outputs()) + 1))
        return self.new_chat(session)

    def last_status_text(self, session: ChatSession) -> str:
        conv = convs.current(session.store)
        return conv["turns"][-1]["meta"] if conv and conv["turns"] else ""


def build_chat(*, storage_secret: str) -> ChatView:
    """The chat column, placed in the current layout; the sources panel is left for the caller to render."""
    session = gr.State(ChatSession())
    store = gr.BrowserState(convs.empty_store(), storage_key="rag-conversations", secret=storage_secret)
    chatbot = gr.Chatbot(label="Conversation", height=480, render_markdown=False, sanitize_html=True,
                         allow_tags=False, elem_id="chat", feedback_options=None, buttons=["copy", "copy_all"])
    status = gr.HTML("", elem_id="status")
    question = gr.Textbox(placeholder="Ask a question about the documents… (Enter to send, Shift+Enter for a new line)",
                          label="Question", show_label=False, elem_id="question", lines=1, max_lines=4)
    with gr.Row():
        ask = gr.Button("Ask", variant="primary", elem_id="ask")
        stop = gr.Button("Stop", variant="stop", elem_id="stop", visible=False)
        retry = gr.Button("Retry", elem_id="retry")
        new_chat = gr.Button("New chat", elem_id="new-chat")
    gr.Examples(EXAMPLES, inputs=question, label="Examples")
    with gr.Accordion("Conversations", open=True):
        history = gr.Radio([], label="Earlier conversations (kept in this browser)", elem_id="conversations")
        delete = gr.Button("Delete this conversation", size="sm", elem_id="delete-chat")
    sources = gr.HTML(EMPTY, elem_id="sources", render=False)
    return ChatView(session, store, chatbot, question, ask, stop, retry, new_chat, delete, history, status, sources)


def wire_chat(app: gr.Blocks, collections: Collections, v: ChatView, settings: list, picker: gr.Dropdown) -> None:
    """Events of the chat. `settings`: the generator, k, endpoint and model components, in that
    order; `picker`: the collection a new conversation asks."""
    ev = ChatEvents(collections, v)
    loop_in = [v.session, *settings, picker]
    loop_out = ev.loop_outputs()
    quick = {"queue": False, "api_visibility": "private"}
    runs = []
    for trigger in (v.question.submit, v.ask.click):
        accepted = trigger(ev.accept, [v.question, v.session], [v.question, v.chatbot, v.sources], **quick)
        runs.append(accepted.then(ev.run, loop_in, loop_out, api_visibility="private"))
    retried = v.retry.click(ev.retry, [v.session], [v.chatbot, v.status], **quick)
    runs.append(retried.then(ev.run, loop_in, loop_out, api_visibility="private"))
    # These end a running answer first; `cancels` closes its event, which cancels the model's request.
    halting = {"cancels": runs, "concurrency_limit": None, "api_visibility": "private"}
    halt_out = [*loop_out, v.question]
    v.stop.click(ev.stop, [v.session], halt_out, **halting)
    v.new_chat.click(ev.new_chat, [v.session], halt_out, **halting)
    v.chatbot.clear(ev.new_chat, [v.session], halt_out, **halting)  # the chat's own trash icon: the same
    v.delete.click(ev.delete_chat, [v.session], halt_out, **halting)
    v.history.input(ev.open_chat, [v.history, v.session], [*halt_out, picker], **halting)
    picker.input(ev.pick, [picker, v.session], halt_out, **halting)
    app.load(ev.restore, [v.session, v.store], [v.chatbot, v.sources, v.status, v.history, picker],
             api_visibility="private")
