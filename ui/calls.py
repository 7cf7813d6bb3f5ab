"""Calls the page did not make: any program can call the page's events (gradio_client, or
/gradio_api directly) with any value. Gradio prints the full traceback of every call that fails,
its message echoing the value sent (a 100 KB string makes a 100 KB log line). Here a failed call
is one log line, its values cut short, and the caller gets the reason in one sentence."""

from __future__ import annotations

import logging
from html import escape

import gradio as gr

from rag.app.web import redact, without_bidi

log = logging.getLogger("rag.ui")
MAX_SHOWN = 200  # characters of a failure's message kept in the log and in the reply


def clip(text: str, limit: int = MAX_SHOWN) -> str:
    """One line of at most `limit` characters, secrets masked first."""
    text = " ".join(without_bidi(redact(text)).split())
    return text if len(text) <= limit else f"{text[:limit - 1]}… ({len(text):,} characters)"


class Page(gr.Blocks):
    """gr.Blocks whose failed calls are refused in one line each."""

    async def process_api(self, block_fn, inputs, *args, **kwargs):
        try:
            return await super().process_api(block_fn, inputs, *args, **kwargs)
        except gr.Error as exc:
            if not exc.print_exception:  # the page's own, already worded for a person
                raise
            reason = clip(str(exc.message))
        except Exception as exc:  # noqa: BLE001 - whatever a bad value makes Gradio or an event raise
            reason = clip(f"{type(exc).__name__}: {exc}")
            log.debug("the refused call's traceback", exc_info=True)
        fn = self.fns.get(block_fn) if isinstance(block_fn, int) else block_fn
        name = getattr(fn, "api_name", None) or getattr(fn, "name", None) or "an event"
        log.warning("refused a call to %s: %s", name, reason)
        raise gr.Error(escape(f"this call was refused: {reason}", quote=False), print_exception=False) from None
