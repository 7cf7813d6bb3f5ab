"""The Documents panel: what is indexed, with upload and (confirmed) removal.

A read-only deployment gets the list only; the service refuses changes as well, so hiding the
controls is a courtesy, not the protection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import gradio as gr

from rag.app.collections import DEFAULT_COLLECTION, Collections
from rag.app.web import MAX_UPLOAD_BYTES, UPLOADABLE, DocumentInfo, format_time, without_bidi
from rag.core.errors import RagError
from ui.chat import page_message
from ui.render import safe
from ui.uploads import UploadCache

log = logging.getLogger("rag.ui")
# While the server watches folders, each open page asks this often whether the index changed
# (a look at which version is live), and redraws its list only when it did.
WATCH_REFRESH_SECONDS = 2.0


def library_html(docs: list[DocumentInfo]) -> str:
    if not docs:
        return '<div class="rag-docs"><p class="rag-meta" data-testid="no-docs">No documents are indexed.</p></div>'
    rows = []
    for d in docs:
        extent = f"{d.pages} page{'' if d.pages == 1 else 's'} · " if d.pages else ""
        extent += f"{d.chunks} chunk{'' if d.chunks == 1 else 's'}"
        rows.append(f'<tr data-testid="doc-row" data-doc-id="{safe(d.id)}"><td>{safe(d.title or d.id)}'
                    f'<div class="rag-meta">{safe(d.id)}</div></td><td>{safe(extent)}</td>'
                    f"<td>{safe(format_time(d.added_at) or '–')}</td></tr>")
    return ('<div class="rag-docs"><table><thead><tr><th>Document</th><th>Pages / chunks</th><th>Added</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
            f'<p class="rag-meta">{len(docs)} document{"" if len(docs) == 1 else "s"}</p></div>')


def _choices(docs: list[DocumentInfo]) -> list[tuple[str, str]]:
    # The dropdown shows labels as text; only the controls that reorder it are taken out.
    return [(without_bidi(f"{d.title} ({d.id})" if d.title and d.title != d.id else d.id), d.id) for d in docs]


def confirmation_html(info: DocumentInfo) -> str:
    """The question asked before a removal. HTML built here, not Markdown: a title is the
    document's own words, and as Markdown its `![x](http://…)` would make the browser fetch a
    URL and its `[link](…)` would be live."""
    what = ("Its uploaded file is deleted too." if info.id.startswith("uploads/")
            else "Its file stays where it is, so re-indexing that folder adds it again.")
    return f'<p data-testid="confirm-question">Remove <strong>{safe(info.title or info.id)}</strong> from the index? {what}</p>'


def chosen_id(value: object) -> str | None:
    """The document a removal names: one id, as text. A program calling the page's events may
    send anything, and a list or a number is refused in words, not with a TypeError."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RagError(f"choose one document to remove (its id as text, not {type(value).__name__})")
    return value


def problem_html(message: str) -> str:
    return f'<div class="rag-docs"><p class="rag-meta" data-testid="docs-problem">{safe(message)}</p></div>'


def _follow_index(collections: Collections, picker: gr.Dropdown, listing, outputs: list) -> None:
    """Redraw `outputs` with `listing(collection)` when the picked collection's index changes under
    the page (a watched folder changed); between changes each tick costs a look at the live
    version, nothing more."""
    shown = gr.State("")

    def check(version: str, collection: str | None):
        collection = collection or DEFAULT_COLLECTION
        try:
            now = f"{collection}:{collections.service(collection).index_version()}"
        except RagError:  # a collection removed meanwhile: the next pick redraws the list
            return *(gr.skip() for _ in outputs), version
        if now == version:
            return *(gr.skip() for _ in outputs), version
        drawn = listing(collection)
        return *(drawn if isinstance(drawn, tuple) else (drawn,)), now

    gr.Timer(WATCH_REFRESH_SECONDS).tick(check, [shown, picker], [*outputs, shown], api_visibility="private",
                                         show_progress="hidden")


def documents_panel(app: gr.Blocks, collections: Collections, picker: gr.Dropdown,
                    cache: UploadCache | None = None, may_change: Callable[[str | None], bool] | None = None) -> None:
    """Lay the panel out inside `app` (call within its `with` block) and wire its events: the list,
    uploads and removals act on the collection `picker` names. `cache`: where the page's uploads
    arrive; each is deleted from it once stored or refused. `may_change(user)`: whether the
    signed-in user may upload and remove (a reader may not: the controls are hidden from them, and
    the events and the upload route refuse them too)."""

    def allowed(request: gr.Request | None) -> bool:
        return may_change is None or may_change(getattr(request, "username", None))

    default = collections.service(DEFAULT_COLLECTION)
    read_only = default.read_only  # one setting for every collection
    watching = default.watching  # the watched folders feed the default collection

    def listing(collection: str | None = DEFAULT_COLLECTION):
        try:
            docs = collections.service(collection or DEFAULT_COLLECTION).list_documents()
        except RagError as exc:  # a collection removed meanwhile, say
            return problem_html(page_message(exc)), gr.update(choices=[], value=None)
        return library_html(docs), gr.update(choices=_choices(docs), value=None)

    with gr.Accordion("Documents", open=False, elem_id="documents"):
        docs_list = gr.HTML(library_html([]), elem_id="doc-list")
        if read_only:
            gr.Markdown("This server is read-only: documents cannot be added or removed here.",
                        elem_id="read-only-note")
            if watching:
                _follow_index(collections, picker, lambda c: listing(c)[0], [docs_list])
            app.load(lambda c: listing(c)[0], picker, docs_list, api_visibility="private")
            picker.change(lambda c: listing(c)[0], picker, docs_list, api_visibility="private")
            return
        # No file_types filter (and a transport limit above the upload limit, in app.py): a wrong
        # type or a file over the limit gets its reason in the status box, not a toast that fades.
        reader_note = gr.Markdown("You may read the documents; your role does not add or remove them.",
                                  visible=False, elem_id="reader-note")
        # With page users, the controls show only once the page knows the user may use them.
        files = gr.File(file_count="multiple", visible=may_change is None,
                        label=f"Add documents: {', '.join(s.lstrip('.') for s in UPLOADABLE)}", elem_id="upload")
        status = gr.Textbox(label="Status", interactive=False, lines=3, elem_id="upload-status",
                            visible=may_change is None)
        with gr.Row(visible=may_change is None) as remove_row:
            chosen = gr.Dropdown(choices=[], value=None, label="Document to remove", elem_id="remove-choice",
                                 scale=3)
            remove = gr.Button("Remove…", elem_id="remove", scale=1)
        with gr.Row(visible=False, elem_id="confirm-row") as confirm_row:
            question = gr.HTML(elem_id="confirm-text")
            confirm = gr.Button("Yes, remove it", variant="stop", elem_id="confirm-remove")
            cancel = gr.Button("Cancel", elem_id="cancel-remove")
        if watching:
            _follow_index(collections, picker, listing, [docs_list, chosen])

    def on_upload(uploaded, collection: str | None, request: gr.Request,
                  progress=gr.Progress()):  # noqa: B008 - how Gradio injects a progress bar
        lines = []
        collection = collection or DEFAULT_COLLECTION
        uploaded = uploaded or []
        if not allowed(request):
            for f in uploaded if isinstance(uploaded, list) else [uploaded]:
                if cache is not None:
                    cache.discard(Path(f if isinstance(f, str) else f.name))
            return "✗ your role does not allow uploads", gr.skip(), gr.skip(), None
        if not isinstance(uploaded, list):
            uploaded = [uploaded]
        for i, f in enumerate(uploaded):
            path = Path(f if isinstance(f, str) else f.name)
            progress(i / max(1, len(uploaded)), desc=f"indexing {path.name}")
            try:
                if path.suffix.lower() not in UPLOADABLE:
                    raise RagError(f"not a supported type ({path.suffix or 'no extension'}); "
                                   f"upload {', '.join(s.lstrip('.') for s in UPLOADABLE)} files")
                if path.stat().st_size > MAX_UPLOAD_BYTES:
                    raise RagError(f"file too large ({path.stat().st_size / 1e6:.1f} MB; "
                                   f"the limit is {MAX_UPLOAD_BYTES // 1_000_000} MB)")
                result = collections.service(collection).upload(path.name, path.read_bytes())
                lines.append(f"✓ {result.status()} — ask away")
            except RagError as exc:
                lines.append(f"✗ {path.name}: {page_message(exc)}")
            except OSError as exc:
                lines.append(f"✗ {path.name}: cannot read the upload ({exc.strerror or exc})")
            finally:
                if cache is not None:  # stored or refused, the received copy goes
                    cache.discard(path)
        html, choices = listing(collection)
        status = without_bidi("\n".join(lines)) or "No files received."
        return status, html, choices, None  # None empties the file box

    def ask_confirmation(doc_id: str | None, collection: str | None):
        try:
            doc_id = chosen_id(doc_id)
            if not doc_id:
                return "Choose a document to remove first.", gr.update(visible=False), gr.skip()
            info = collections.service(collection or DEFAULT_COLLECTION).retriever.get_document(doc_id)
        except RagError as exc:
            return without_bidi(str(exc)), gr.update(visible=False), gr.skip()
        return "", gr.update(visible=True), confirmation_html(info)

    def on_remove(doc_id: str | None, collection: str | None, request: gr.Request):
        html, choices = gr.skip(), gr.skip()
        collection = collection or DEFAULT_COLLECTION
        try:
            if not allowed(request):
                raise RagError("your role does not allow removing documents")
            doc_id = chosen_id(doc_id)
            if not doc_id:
                raise RagError("choose a document to remove first")
            removal = collections.service(collection).remove_documents([doc_id])
            message = "\n".join(f"✓ {line}" for line in removal.messages(full_paths=False))
            html, choices = listing(collection)
        except RagError as exc:
            message = without_bidi(f"✗ {exc}")
        except Exception:  # the page must survive anything; details go to the server log
            log.exception("removing %.200r failed", doc_id)
            message = "✗ removing the document failed; see the server log"
        return message, html, choices, gr.update(visible=False)

    def controls(request: gr.Request):
        show = allowed(request)
        return (gr.update(visible=not show), gr.update(visible=show), gr.update(visible=show),
                gr.update(visible=show))

    app.load(listing, picker, [docs_list, chosen], api_visibility="private")
    if may_change is not None:
        app.load(controls, None, [reader_note, files, status, remove_row], api_visibility="private")
    # Another collection: its list, and no removal half-confirmed for a document of the last one.
    picker.change(lambda c: (*listing(c), gr.update(visible=False)), picker, [docs_list, chosen, confirm_row],
                  api_visibility="private")
    files.upload(on_upload, [files, picker], [status, docs_list, chosen, files], api_visibility="private")
    remove.click(ask_confirmation, [chosen, picker], [status, confirm_row, question], api_visibility="private")
    confirm.click(on_remove, [chosen, picker], [status, docs_list, chosen, confirm_row], api_visibility="private")
    cancel.click(lambda: gr.update(visible=False), None, confirm_row, api_visibility="private")
