"""A client that goes away mid-answer stops the generation: the answer's generator is closed,
not left computing for nobody."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from rag.api.streaming import pump

from ..support.api import start_api, stop_api


class Endless:
    """A generator of words, one every 50 ms, for a minute; says when it was closed."""

    def __init__(self):
        self.closed = threading.Event()
        self.produced = 0

    def __call__(self, *args, **kwargs):
        try:
            for _ in range(1200):
                time.sleep(0.05)
                self.produced += 1
                yield "word "
        finally:
            self.closed.set()


def test_a_reader_that_stops_closes_the_stream():
    endless = Endless()

    async def read_two():
        stream = pump(endless)
        got = [await anext(stream), await anext(stream)]
        await stream.aclose()
        return got

    assert asyncio.run(read_two()) == ["word ", "word "]
    assert endless.closed.wait(2)
    produced = endless.produced
    time.sleep(0.3)
    assert endless.produced == produced  # nothing more is computed


def test_an_error_in_the_stream_reaches_the_reader():
    def failing():
        yield "a"
        raise ValueError("broken")

    async def read_all():
        return [e async for e in pump(failing)]

    with pytest.raises(ValueError, match="broken"):
        asyncio.run(read_all())


@pytest.fixture(scope="module")
def live(tmp_path_factory, embedder, monkeypatch_module):
    live = start_api(tmp_path_factory, embedder, monkeypatch_module, keys={"reader": ("reader", None)})
    yield live
    stop_api(live)


def test_a_client_disconnecting_mid_stream_stops_the_generation(live, monkeypatch):
    endless = Endless()
    monkeypatch.setattr(live.collections.service("default"), "ask_stream", endless)
    with httpx.stream("POST", f"{live.api}/chat/completions", headers=live.headers("reader"), timeout=30,
                      json={"model": "rag/default", "stream": True,
                            "messages": [{"role": "user", "content": "Tell me everything."}]}) as r:
        lines = r.iter_lines()
        received = [next(lines) for _ in range(6)]
    assert any("word" in line for line in received)
    assert endless.closed.wait(5), "the generation went on after the client left"
    assert endless.produced < 200
