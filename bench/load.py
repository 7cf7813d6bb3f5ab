"""Load test for `rag serve`: concurrent sessions asking through the page's own streamed chat
endpoint, then as many API clients streaming from /v1/chat/completions, with follow-ups, for a
fixed time each; a table of throughput, latency and time to first token for both, and a non-zero
exit code if a single request failed.

    python -m bench load                               # 20 sessions, 60 s each way, against a fresh `rag serve`
    python -m bench load --duration 10                 # the reduced run for CI
    python -m bench load --mode api                    # the API clients only
    python -m bench load --url http://127.0.0.1:7860/  # a server that is already running (RAG_API_KEY: its key)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Conversations about the article in corpus/: each starts afresh and leans on the previous
# answer where a user would ("Where is it based now?"); one question the documents cannot answer
# keeps the abstention path in the mix.
CONVERSATIONS = [
    ["When was the IMU first formed?", "Where is it based now?", "How many fighters does it have?"],
    ["Where did the two terrorist attacks take place?", "Who claimed responsibility for them?"],
    ["What did the Pakistani military launch on Sunday?", "Where did it launch it?"],
    ["What is the capital of Uzbekistan?"],
    ["Who is the Prime Minister of Pakistan mentioned in the article?", "What did he promise?"],
]
CITED = re.compile(r"\[\d+\]")  # every answer the app shows cites its passages...
DECLINED = "documents don't say"  # ...or says the documents do not hold the answer
CHAT_API = "/chat"  # the Ask button's event in ui/app.py; the page streams answers through it
READY_TIMEOUT = 180.0  # seconds for `rag serve` to answer HTTP: imports torch and gradio on a busy machine


@dataclass
class Sample:
    session: int
    question: str
    start: float  # seconds since the run began
    total: float = 0.0  # seconds until the full answer
    first_token: float | None = None  # seconds until the first streamed words, when seen
    error: str = ""


@dataclass
class Run:
    url: str
    sessions: int
    duration: float
    mode: str = "page"  # "page": the page's chat event; "api": /v1/chat/completions, streamed
    samples: list[Sample] = field(default_factory=list)
    unfinished: int = 0  # sessions still running at the hard stop
    connect_errors: list[str] = field(default_factory=list)
    wall: float = 0.0


def message_text(message) -> str:
    """A chat message's text, whether the client hands back a dict or a list of content parts."""
    content = message.get("content") if isinstance(message, dict) else message
    if isinstance(content, list):
        return " ".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    return content if isinstance(content, str) else ""


def assistant_text(output) -> str:
    chat = output[0] if isinstance(output, (tuple, list)) and output and isinstance(output[0], list) else None
    if not chat:
        return ""
    last = chat[-1]
    return message_text(last) if isinstance(last, dict) and last.get("role") == "assistant" else ""


def ask(client, question: str, history: list, timeout: float, t_run: float, session: int) -> tuple[Sample, list]:
    """One question through the chat endpoint; returns the sample and the chat to continue from."""
    sample = Sample(session, question, start=time.perf_counter() - t_run)
    t0 = time.perf_counter()
    deadline = t0 + timeout
    job = client.submit(question, history, "extractive", 5, "", "", api_name=CHAT_API)
    try:
        # Polled rather than iterated: the job's iterator spins on a 1 ms sleep, and twenty of
        # those would take CPU from the server being measured. 10 ms is the resolution.
        while not job.done():
            if sample.first_token is None and any(assistant_text(o) for o in job.outputs()):
                sample.first_token = time.perf_counter() - t0
            if time.perf_counter() > deadline:
                job.cancel()
                raise TimeoutError(f"no full answer within {timeout:.0f} s")
            time.sleep(0.01)
        chat, _sources, _box = job.result(timeout=max(0.1, deadline - time.perf_counter()))
        sample.total = time.perf_counter() - t0
        answer = assistant_text((chat,))
        if sample.first_token is None and any(assistant_text(o) for o in job.outputs()[:-1]):
            sample.first_token = sample.total  # streamed and finished within one polling interval
        if not answer.strip():
            raise RuntimeError("empty answer")
        if answer.startswith("⚠"):  # the app reports failures inside the chat
            raise RuntimeError(answer[:200])
        if not CITED.search(answer) and DECLINED not in answer:
            raise RuntimeError(f"neither a cited answer nor a refusal: {answer[:200]!r}")
        return sample, chat
    except Exception as exc:  # noqa: BLE001 - every failure is counted and reported, none stops the run
        sample.total = time.perf_counter() - t0
        sample.error = f"{type(exc).__name__}: {exc}"[:300]
        return sample, []


def ask_api(client, api: str, question: str, history: list, timeout: float, t_run: float,
            session: int) -> tuple[Sample, list]:
    """One question through /v1/chat/completions, streamed as an OpenAI client reads it; returns
    the sample and the messages to continue from."""
    sample = Sample(session, question, start=time.perf_counter() - t_run)
    t0 = time.perf_counter()
    messages = [*history, {"role": "user", "content": question}]
    try:
        parts, citations, done = [], None, False
        with client.stream("POST", f"{api}/chat/completions", timeout=timeout,
                           json={"model": "rag/default", "stream": True, "messages": messages}) as response:
            if response.status_code != 200:
                raise RuntimeError(f"HTTP {response.status_code}: {response.read()[:200]!r}")
            for line in response.iter_lines():
                if not line.startswith("data: "):
                    continue
                if line == "data: [DONE]":
                    done = True
                    break
                chunk = json.loads(line[6:])
                if "error" in chunk:
                    raise RuntimeError(chunk["error"].get("message", "error")[:200])
                delta = chunk["choices"][0]["delta"].get("content") or ""
                if delta and sample.first_token is None:
                    sample.first_token = time.perf_counter() - t0
                parts.append(delta)
                citations = chunk.get("citations", citations)
                if time.perf_counter() - t0 > timeout:
                    raise TimeoutError(f"no full answer within {timeout:.0f} s")
        sample.total = time.perf_counter() - t0
        answer = "".join(parts)
        if not done:
            raise RuntimeError("the stream ended without data: [DONE]")
        if not answer.strip():
            raise RuntimeError("empty answer")
        if not (CITED.search(answer) and citations) and DECLINED not in answer:
            raise RuntimeError(f"neither a cited answer nor a refusal: {answer[:200]!r}")
        return sample, [*messages, {"role": "assistant", "content": answer}]
    except Exception as exc:  # noqa: BLE001 - every failure is counted and reported, none stops the run
        sample.total = time.perf_counter() - t0
        sample.error = f"{type(exc).__name__}: {exc}"[:300]
        return sample, []


@dataclass
class Clock:
    """Set once every session has connected (the barrier's action), before any of them asks."""

    duration: float
    start: float = 0.0
    stop_at: float = float("inf")

    def begin(self) -> None:
        self.start = time.perf_counter()
        self.stop_at = self.start + self.duration


def session(n: int, run: Run, clock: Clock, barrier: threading.Barrier, timeout: float) -> None:
    client = None
    try:
        if run.mode == "api":
            import httpx

            key = os.environ.get("RAG_API_KEY")
            client = httpx.Client(timeout=timeout, headers={"Authorization": f"Bearer {key}"} if key else {})
        else:
            from gradio_client import Client

            client = Client(run.url, verbose=False, download_files=False, httpx_kwargs={"timeout": timeout})
    except Exception as exc:  # noqa: BLE001
        run.connect_errors.append(f"session {n}: {type(exc).__name__}: {exc}"[:300])
    try:
        barrier.wait(timeout=READY_TIMEOUT)  # all connected first: the clock measures chatting only
    except threading.BrokenBarrierError:
        if client is not None:
            run.connect_errors.append(f"session {n}: the other sessions did not connect in time")
        client = None
    if client is None:
        return
    turn = n  # sessions start at different conversations, as users would
    try:
        while time.perf_counter() < clock.stop_at:
            history: list = []
            for question in CONVERSATIONS[turn % len(CONVERSATIONS)]:
                if time.perf_counter() >= clock.stop_at:
                    break
                if run.mode == "api":
                    sample, history = ask_api(client, run.url.rstrip("/"), question, history, timeout, clock.start, n)
                else:
                    sample, history = ask(client, question, history, timeout, clock.start, n)
                run.samples.append(sample)
                if sample.error:
                    break  # a fresh conversation after a failure, like "New chat"
            turn += 1
    finally:
        client.close()


def percentile(values: list[float], q: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def summarise(run: Run) -> dict:
    done = [s for s in run.samples if not s.error]
    totals = sorted(s.total * 1000 for s in done)
    firsts = sorted(s.first_token * 1000 for s in done if s.first_token is not None)
    errors = [s for s in run.samples if s.error]
    n_errors = len(errors) + len(run.connect_errors) + run.unfinished

    def ms(v):
        return None if v is None else round(v, 1)

    return {
        "url": run.url,
        "mode": run.mode,
        "sessions": run.sessions,
        "duration_s": run.duration,
        "wall_s": round(run.wall, 2),
        "answers": len(done),
        "errors": n_errors,
        # Over the wall time: answers still streaming at the stop are counted, so is their time.
        "answers_per_s": round(len(done) / run.wall, 2) if run.wall else None,
        "latency_ms": {"p50": ms(percentile(totals, 50)), "p95": ms(percentile(totals, 95)),
                       "max": ms(totals[-1] if totals else None)},
        "first_token_ms": {"p50": ms(percentile(firsts, 50)), "p95": ms(percentile(firsts, 95)),
                           "max": ms(firsts[-1] if firsts else None), "measured": len(firsts)},
        "error_messages": sorted({s.error for s in errors} | set(run.connect_errors)
                                 | ({f"{run.unfinished} session(s) still running at the hard stop"}
                                    if run.unfinished else set())),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average": [round(x, 2) for x in os.getloadavg()]},
    }


def print_table(summary: dict) -> None:
    def fmt(v):
        return "-" if v is None else f"{v:,.1f}" if isinstance(v, float) else str(v)

    lat, ttft = summary["latency_ms"], summary["first_token_ms"]
    rows = [
        ("sessions", summary["sessions"]),
        ("duration (s)", summary["duration_s"]),
        ("answers", summary["answers"]),
        ("errors", summary["errors"]),
        ("answers/s", summary["answers_per_s"]),
        ("answer latency p50 / p95 / max (ms)", f"{fmt(lat['p50'])} / {fmt(lat['p95'])} / {fmt(lat['max'])}"),
        ("first token p50 / p95 / max (ms)", f"{fmt(ttft['p50'])} / {fmt(ttft['p95'])} / {fmt(ttft['max'])}"),
    ]
    width = max(len(name) for name, _ in rows)
    how = "API clients streaming" if summary.get("mode") == "api" else "page sessions"
    print(f"\nchat load, {how}, on {summary['url']} (load average at the end: {summary['machine']['load_average']})")
    for name, value in rows:
        print(f"  {name:<{width}}  {fmt(value)}")
    for message in summary["error_messages"][:10]:
        print(f"  error: {message}", file=sys.stderr)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def local_app(log: Path, corpus: Path | None = None) -> Iterator[str]:
    """`rag serve` over a fresh index of `corpus` (default corpus/), offline generator, on a free
    local port."""
    work = Path(tempfile.mkdtemp(prefix="rag-load-"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "GRADIO_ANALYTICS_ENABLED": "False",
           "TOKENIZERS_PARALLELISM": "false"}
    rag = [sys.executable, "-m", "rag.cli"]
    index = work / "index"
    proc = None
    try:
        subprocess.run([*rag, "index", str(corpus or ROOT / "corpus"), "--index", str(index)], cwd=ROOT, env=env,
                       check=True, timeout=READY_TIMEOUT * 3, stdout=subprocess.DEVNULL)
        port = free_port()
        with open(log, "w") as out:
            # The index lives in a temporary directory; uploads (none here) would go to corpus/uploads.
            # No key file beside this index: /v1 is open on loopback. No rate limit: twenty clients
            # share the one local user, and what is measured is the server, not the limit.
            proc = subprocess.Popen([*rag, "serve", "--index", str(index), "--host", "127.0.0.1", "--port", str(port),
                                     "--generator", "extractive"], cwd=ROOT, env={**env, "RAG_RATE_LIMIT": "0"},
                                    stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"rag serve exited with {proc.returncode}; see {log}")
            try:
                with urllib.request.urlopen(url + "config", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"rag serve did not answer within {READY_TIMEOUT:.0f} s; see {log}")
            time.sleep(0.5)
        yield url
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


def run_load(url: str, sessions: int, duration: float, timeout: float, grace: float, mode: str = "page") -> Run:
    run = Run(url.rstrip("/") + "/v1" if mode == "api" else url, sessions, duration, mode)
    clock = Clock(duration)
    barrier = threading.Barrier(sessions, action=clock.begin)
    # Daemon threads: a session stuck past the hard stop is reported, never waited for.
    threads = [threading.Thread(target=session, args=(n, run, clock, barrier, timeout), name=f"session-{n}",
                                daemon=True) for n in range(sessions)]
    for t in threads:
        t.start()
    connect_deadline = time.perf_counter() + READY_TIMEOUT
    while clock.start == 0.0 and time.perf_counter() < connect_deadline and any(t.is_alive() for t in threads):
        time.sleep(0.05)
    hard_stop = (clock.stop_at if clock.start else time.perf_counter()) + grace
    for t in threads:
        t.join(max(0.0, hard_stop - time.perf_counter()))
    run.wall = time.perf_counter() - clock.start if clock.start else 0.0
    run.unfinished = sum(t.is_alive() for t in threads)
    return run


def command(args: argparse.Namespace) -> int:
    """`python -m bench load`: `args.sessions`, `args.duration`, `args.url`, `args.out`, `args.timeout`,
    `args.grace` and `args.mode` (page, api or both: the page first, then the API, one after the
    other on the same server); the exit code is 1 when a request failed, 2 when the run could not
    start. The JSON holds the page's figures at its top level (as before) and the API's under "api"."""
    log = Path(tempfile.gettempdir()) / f"rag-load-serve-{os.getpid()}.log"
    mode = getattr(args, "mode", "both")
    modes = ["page", "api"] if mode == "both" else [mode]

    def runs(url: str) -> list[Run]:
        return [run_load(url, args.sessions, args.duration, args.timeout, args.grace, m) for m in modes]

    try:
        if args.url:
            done = runs(args.url)
        else:
            with local_app(log) as url:
                done = runs(url)
    except (RuntimeError, subprocess.SubprocessError) as exc:
        print(f"load: {exc}", file=sys.stderr)
        return 2
    summaries = [summarise(run) for run in done]
    for summary in summaries:
        print_table(summary)
    by_mode = {s["mode"]: s for s in summaries}
    report = {**by_mode["page"], "api": by_mode.get("api")} if "page" in by_mode else by_mode["api"]
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 1 if any(s["errors"] for s in summaries) else 0


if __name__ == "__main__":
    sys.exit("run it from the repository root as: python -m bench load [--duration S] [--url URL] ...")
