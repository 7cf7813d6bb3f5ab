"""Local OpenAI-compatible chat endpoints on 127.0.0.1 that behave as a test needs: streaming slowly
and noticing when the client hangs up, failing by a script, or repeating the API key back."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TypeVar

PASSAGE = re.compile(r"<<<PASSAGE (\d+) \S+ title: [^\n]*>>>\n(.*?)\n<<<END", re.DOTALL)


def chunk_event(delta: dict | None, usage: dict | None = None) -> bytes:
    """One server-sent event of a streamed chat completion: a piece of the answer, or the usage."""
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": None}]
    data = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m", "choices": choices,
            "usage": usage}
    return f"data: {json.dumps(data)}\n\n".encode()


def sse(*texts: str) -> bytes:
    """A whole streamed answer: one event per text, then the end of the stream."""
    return b"".join(chunk_event({"content": t}) for t in texts) + b"data: [DONE]\n\n"


class LocalEndpoint:
    """An HTTP server on a free port of 127.0.0.1, serving in a thread; each POST goes to `on_post`
    with the request's body. `url` is the endpoint's base URL (…/v1). Usable as a context manager."""

    def __init__(self):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                outer.on_post(self, self.rfile.read(int(self.headers.get("content-length", 0))))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def on_post(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        raise NotImplementedError

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


Endpoint = TypeVar("Endpoint", bound=LocalEndpoint)


@contextmanager
def servers_of(kind: Callable[..., Endpoint]) -> Iterator[Callable[..., Endpoint]]:
    """`start(*args)` starts a `kind(*args)` server; all are closed at the end."""
    servers: list[Endpoint] = []

    def start(*args) -> Endpoint:
        servers.append(kind(*args))
        return servers[-1]

    try:
        yield start
    finally:
        for s in servers:
            s.close()


class SlowEndpoint(LocalEndpoint):
    """An OpenAI-compatible chat endpoint on 127.0.0.1 that streams, one word per `delay` seconds,
    a sentence copied from passage 1 (request n takes the n-th usable sentence, so each answer is
    new and each is supported). Records every request and whether its client hung up."""

    def __init__(self):
        self.delay = 0.05
        self.requests = 0
        self.finished = 0
        self.disconnected: list[float] = []
        self.started: list[float] = []
        super().__init__()

    def on_post(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        request = json.loads(body or b"{}")
        self.requests += 1
        self.started.append(time.monotonic())
        words = self.answer(request, self.requests).split(" ")
        h.send_response(200)
        h.send_header("content-type", "text/event-stream")
        h.end_headers()
        try:
            for i, word in enumerate(words):
                h.wfile.write(chunk_event({"content": word + ("" if i == len(words) - 1 else " ")}))
                h.wfile.flush()
                time.sleep(self.delay)
            h.wfile.write(chunk_event(None, usage={"prompt_tokens": 500, "completion_tokens": len(words)}))
            h.wfile.write(b"data: [DONE]\n\n")
            h.wfile.flush()
            self.finished += 1
        except (BrokenPipeError, ConnectionResetError):
            self.disconnected.append(time.monotonic())

    @staticmethod
    def answer(body: dict, n: int) -> str:
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        passages = PASSAGE.findall(user)
        if not passages:
            return "The documents don't say."
        sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", passages[0][1]) if len(s.split()) >= 8]
        sentence = sentences[(n - 1) % len(sentences)].rstrip(".")
        return f"{sentence} [1]."


class FaultServer(LocalEndpoint):
    """Answers each request with the next behaviour in `script`; the last one repeats."""

    def __init__(self, *script: str):
        self.script = list(script)
        self.requests: list[dict] = []
        super().__init__()

    def on_post(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        self.requests.append({"headers": dict(h.headers), "body": json.loads(body or b"{}")})
        action = self.script[min(len(self.requests), len(self.script)) - 1]
        self.act(h, action)

    def act(self, h: BaseHTTPRequestHandler, action: str) -> None:
        if action.startswith("status:"):
            code = int(action.split(":")[1])
            h.send_response(code)
            if code == 429:
                h.send_header("Retry-After", "0")
            h.send_header("content-type", "application/json")
            h.end_headers()
            h.wfile.write(json.dumps({"error": {"message": "nope", "type": "x"}}).encode())
        elif action == "sleep":
            time.sleep(1.5)
            h.send_response(200)
            h.end_headers()
        elif action == "garbage":
            h.send_response(200)
            h.send_header("content-type", "text/plain")
            h.end_headers()
            h.wfile.write(b"this is not an API")
        elif action.startswith("answer:") or action.startswith("truncated:"):
            data = sse(action.split(":", 1)[1])
            h.send_response(200)
            h.send_header("content-type", "text/event-stream")
            if action.startswith("truncated:"):
                data = data[: data.index(b"data: [DONE]")]
                h.send_header("content-length", str(len(data) + 500))  # promise more than is sent
            h.end_headers()
            h.wfile.write(data)
            h.wfile.flush()
