"""A local OpenAI-compatible endpoint that streams slowly and notices when its client hangs up."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PASSAGE = re.compile(r"<<<PASSAGE (\d+) \S+ title: [^\n]*>>>\n(.*?)\n<<<END", re.DOTALL)


class SlowEndpoint:
    """An OpenAI-compatible chat endpoint on 127.0.0.1 that streams, one word per `delay` seconds,
    a sentence copied from passage 1 (request n takes the n-th usable sentence, so each answer is
    new and each is supported). Records every request and whether its client hung up."""

    def __init__(self):
        self.delay = 0.05
        self.requests = 0
        self.finished = 0
        self.disconnected: list[float] = []
        self.started: list[float] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                outer.requests += 1
                outer.started.append(time.monotonic())
                words = outer.answer(body, outer.requests).split(" ")
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                try:
                    for i, word in enumerate(words):
                        self.wfile.write(outer.event({"content": word + ("" if i == len(words) - 1 else " ")}))
                        self.wfile.flush()
                        time.sleep(outer.delay)
                    self.wfile.write(outer.event(None, usage={"prompt_tokens": 500, "completion_tokens": len(words)}))
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                    outer.finished += 1
                except (BrokenPipeError, ConnectionResetError):
                    outer.disconnected.append(time.monotonic())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @staticmethod
    def answer(body: dict, n: int) -> str:
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        passages = PASSAGE.findall(user)
        if not passages:
            return "The documents don't say."
        sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", passages[0][1]) if len(s.split()) >= 8]
        sentence = sentences[(n - 1) % len(sentences)].rstrip(".")
        return f"{sentence} [1]."

    @staticmethod
    def event(delta: dict | None, usage: dict | None = None) -> bytes:
        choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": None}]
        data = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m", "choices": choices,
                "usage": usage}
        return f"data: {json.dumps(data)}\n\n".encode()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
