"""A blocking stream of answer events, read from async code without holding the event loop, and
stopped when its reader goes away (a client that disconnects mid-answer)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

_END = object()


async def pump(make: Callable[[], Iterator[Any]]) -> AsyncIterator[Any]:
    """The events of `make()`, produced on a thread of their own. When the consumer stops early
    (cancelled, or closed by a disconnect), the thread stops at the next event and closes the
    stream, which ends the generation (a hosted model's request is closed with it)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue(maxsize=64)
    stop = threading.Event()

    def put(item: Any) -> None:
        # Waits for room, so a slow reader slows the producer instead of filling memory.
        future = asyncio.run_coroutine_threadsafe(queue.put(item), loop)
        while not stop.is_set():
            try:
                future.result(timeout=0.2)
                return
            except TimeoutError:
                continue
            except Exception:  # noqa: BLE001 - the loop is gone: nobody reads any more
                stop.set()
        future.cancel()

    def produce() -> None:
        events = None
        try:
            events = make()
            for event in events:
                if stop.is_set():
                    break
                put(event)
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, raised there
            if not stop.is_set():
                put(_Failure(exc))
        finally:
            close = getattr(events, "close", None)
            if callable(close):
                close()
            if not stop.is_set():
                put(_END)

    thread = threading.Thread(target=produce, daemon=True, name="rag-api-answer")
    thread.start()
    try:
        while True:
            item = await queue.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc
