"""Fault injection: every bad input and fault we know of, run through the real `rag` command (and
the library where a case has no command), and one table of what went wrong.

    python -m bench faults                      # all cases; writes reports/bench/faults.json
    python -m bench faults --only secrets       # one group

A case passes when the command ends as a person would want: the right exit code, at most one
line of error that says what to do, and none of: a traceback, a document lost from the index, the
API key (or any 8 characters of its secret part) in stdout, stderr, logs or files written, a
temporary file left in the index or upload folder, or a parser process that held more memory than
`max_parse_memory_mb` (its peak is read from /proc every 20 ms while a command runs, and exactly
where a case parses through the library). The process exits non-zero when any count is not 0, or
the parser's peak is over its bound, so CI can run it.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import itertools
import json
import logging
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RAG = [sys.executable, "-m", "rag.cli"]
SECRET = "sk-fault-R4nd0mK3yV4lu3Xq9Lm2Pz8Tw"  # never a real key: it only has to be recognisable
ARTICLE = ROOT / "corpus" / "imu-pakistan-2014.txt"
QUESTION = "When was the IMU first formed?"
TIMEOUT = 120.0  # a case still running after this has hung
DEFAULT_OUT = ROOT / "reports" / "bench" / "faults.json"


@dataclass
class Outcome:
    group: str
    name: str
    ok: bool = True
    traceback: bool = False
    lost: int = 0
    key_leaks: int = 0
    leftovers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    parser_mb: float = 0.0  # the most memory a parser process held during the case

    def fail(self, why: str) -> None:
        self.ok = False
        self.notes.append(why)


@dataclass
class Result:
    code: int
    out: str
    err: str


class Bench:
    def __init__(self, work: Path):
        self.work = work
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1",
                    "OPENAI_API_KEY": SECRET}
        for name in list(self.env):
            if name.startswith("RAG_"):
                del self.env[name]
        self.outcomes: list[Outcome] = []
        self._base_index: Path | None = None
        self._base_corpus: Path | None = None

    # --- running the command ---

    def rag(self, outcome: Outcome, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = TIMEOUT) -> Result:
        proc = subprocess.Popen([*RAG, *args], cwd=cwd or self.work, env={**self.env, **(env or {})}, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        with ParserMemory(proc.pid) as parser:
            try:
                out, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
                outcome.fail(f"hung: no answer in {timeout:.0f} s")
                return Result(-1, _text(out), _text(err))
        outcome.parser_mb = max(outcome.parser_mb, parser.peak / 2**20)
        result = Result(proc.returncode, out, err)
        if "Traceback (most recent call last)" in err + out:
            outcome.traceback = True
            outcome.fail("traceback: " + err.strip().splitlines()[-1][:160])
        outcome.key_leaks += count_key(out) + count_key(err)
        return result

    def expect_error(self, outcome: Outcome, result: Result, *must_say: str) -> None:
        """Exit 1 with one line of error that names what to fix."""
        lines = result.err.strip().splitlines()
        if result.code == 0:
            outcome.fail("exited 0 on bad input")
        elif len(lines) != 1 or not lines[0].startswith("rag: error: "):
            outcome.fail(f"not one error line: {result.err.strip()[:200]!r}")
        for words in must_say:
            if words.lower() not in result.err.lower():
                outcome.fail(f"error does not say {words!r}: {result.err.strip()[:200]!r}")

    # --- fixtures made once ---

    def base_corpus(self) -> Path:
        if self._base_corpus is None:
            self._base_corpus = self.work / "base-corpus"
            self._base_corpus.mkdir()
            shutil.copy(ARTICLE, self._base_corpus / ARTICLE.name)
            write(self._base_corpus / "c.jsonl", "".join(json.dumps(x) + "\n" for x in JSONL_DOCS))
        return self._base_corpus

    def base_index(self) -> Path:
        if self._base_index is None:
            self._base_index = self.work / "base-index"
            setup = Outcome("setup", "base index")
            result = self.rag(setup, "index", str(self.base_corpus()), "--index", str(self._base_index))
            if result.code != 0:
                raise SystemExit(f"cannot build the base index: {result.err}")
        return self._base_index

    def fresh(self, name: str) -> tuple[Path, Path]:
        """A private copy of the corpus and its index."""
        root = self.work / name
        corpus, index = root / "corpus", root / "index"
        shutil.copytree(self.base_corpus(), corpus)
        shutil.copytree(self.base_index(), index)
        return corpus, index

    # --- checks after a case ---

    def check_index(self, outcome: Outcome, index: Path, expected: set[str]) -> None:
        docs = indexed_documents(index)
        missing = expected - docs
        if missing:
            outcome.lost += len(missing)
            outcome.fail(f"documents lost: {sorted(missing)}")
        outcome.leftovers += [str(p) for p in leftovers(index)]

    def check_files_for_key(self, outcome: Outcome, *roots: Path) -> None:
        for root in roots:
            for p in (root.rglob("*") if root.is_dir() else [root]):
                if p.is_file() and p.stat().st_size < 50_000_000:
                    outcome.key_leaks += count_key(p.read_bytes().decode("utf-8", "replace"))


class ParserMemory:
    """The peak resident memory of the parser processes a command starts: children of a process
    of its own that runs rag.ingest.parse_worker's template. Sampled until the block ends."""

    MARK = b"rag.ingest.parse_worker import _template"

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> ParserMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        while True:
            parents = _parents()
            templates = {p for p, parent in parents.items() if parent == self.pid and self.MARK in _cmdline(p)}
            for p, parent in parents.items():
                if parent in templates:
                    self.peak = max(self.peak, _status_kb(p, "VmHWM") * 1024)
            if self._done.wait(0.02):
                return


def _parents() -> dict[int, int]:
    found = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    found[int(entry)] = int(fh.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    return found


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ")
    except OSError:
        return b""


def _status_kb(pid: int, name: str) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(name.encode() + b":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def parse_memory_bound_mb() -> int:
    from rag.core.config import Config

    return Config().max_parse_memory_mb


JSONL_DOCS = [{"id": "kiln", "title": "Kilns", "text": "A kiln fires clay at high heat for many hours."},
              {"id": "loom", "title": "Looms", "text": "A loom weaves thread into cloth, row after row."}]


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def _text(data: str | bytes | None) -> str:
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else (data or "")


def count_key(text: str) -> int:
    """Occurrences of the key or of any 8 characters of its secret part (a truncated key leaks too)."""
    secret = SECRET.removeprefix("sk-fault-")
    whole = text.count(SECRET)
    return whole or int(any(secret[i:i + 8] in text for i in range(len(secret) - 7)))


def indexed_documents(index: Path) -> set[str]:
    from rag.core.errors import RagError
    from rag.index.store import IndexStore

    try:
        return set(IndexStore(index).read_manifest().documents)
    except (RagError, OSError):
        return set()


def version_file(index: Path, name: str) -> Path:
    """A file of the live version: at its top (manifest.json) or in its first segment."""
    version = index / (index / "CURRENT").read_text().strip()
    if (version / name).exists():
        return version / name
    return next(p for p in sorted((version / "segments").iterdir()) if p.is_dir()) / name


def leftovers(*roots: Path) -> list[Path]:
    found = []
    for root in roots:
        if root.is_dir():
            found += [p for p in root.rglob("*") if p.name.startswith("tmp-") or p.name.endswith(".part")]
    return found


def tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


# --- a hostile OpenAI-compatible endpoint on 127.0.0.1 ---

class EchoHandler(http.server.BaseHTTPRequestHandler):
    """Puts the Authorization header it receives into every field it can."""

    mode = "answer"
    requests = 0  # requests that carried an Authorization header, across all servers

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._send(200, {"data": [{"id": "echo-model", "object": "model"}]})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        auth = self.headers.get("Authorization", "")
        if auth:
            EchoHandler.requests += 1
        mode = type(self).mode
        if mode == "error":
            self._send(500, {"error": {"message": f"upstream refused {auth}", "type": auth}})
        elif mode == "unauthorized":
            self._send(401, {"error": {"message": f"Incorrect API key provided: {auth}"}})
        elif mode == "garbage":
            self._raw(200, "application/json", f"<<not json {auth}>>".encode())
        elif body.get("stream"):
            events = [{"choices": [{"delta": {"content": f"The IMU was first formed in the late 1990s {auth} [1]."}}]}]
            if mode == "stream-error":
                events.append({"error": {"message": f"stream broke {auth}"}})
            payload = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
            self._raw(200, "text/event-stream", payload.encode())
        else:
            self._send(200, {"choices": [{"message": {"role": "assistant",
                                                      "content": f"The IMU was first formed in the late 1990s {auth} [1]."},
                                          "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": 1, "completion_tokens": 1}})

    def _send(self, status: int, data: dict) -> None:
        self._raw(status, "application/json", json.dumps(data).encode())

    def _raw(self, status: int, kind: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@contextlib.contextmanager
def echo_server(mode: str, base: type[EchoHandler] = EchoHandler) -> Iterator[str]:
    handler = type("Echo", (base,), {"mode": mode})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


# --- the cases ---

CASES: list[tuple[str, str, Callable[[Bench, Outcome], None]]] = []


def case(group: str, name: str):
    def register(fn: Callable[[Bench, Outcome], None]):
        CASES.append((group, name, fn))
        return fn
    return register


def users_folder(b: Bench, name: str) -> Path:
    home = b.work / name
    for d in ("vendor", "venv", "videos", "tmp-notes", "tmp-build"):
        write(home / d / "keep.txt", f"{d} belongs to the user")
    write(home / "tmp-list.md", "shopping list")
    return home


def _never_touches_users_folder(args: list[str], env: dict[str, str] | None = None):
    def run(b: Bench, o: Outcome) -> None:
        home = users_folder(b, f"home-{len(b.outcomes)}")
        before = tree(home)
        result = b.rag(o, *[a.replace("{corpus}", str(b.base_corpus())) for a in args], cwd=home, env=env)
        b.expect_error(o, result)
        if tree(home) != before:
            gone = sorted(set(before) - set(tree(home)))
            o.lost += len(gone)
            o.fail(f"the user's folder changed: {gone[:5]}")
    return run


case("data loss", "index into a user's folder (--index .)")(_never_touches_users_folder(
    ["index", "{corpus}", "--index", "."]))
case("data loss", "rebuild a user's folder (--rebuild --index .)")(_never_touches_users_folder(
    ["index", "{corpus}", "--rebuild", "--index", "."]))
case("data loss", "RAG_INDEX_DIR set but empty")(_never_touches_users_folder(
    ["index", "{corpus}"], env={"RAG_INDEX_DIR": ""}))
case("data loss", "--index \"\"")(_never_touches_users_folder(["index", "{corpus}", "--index", ""]))


@case("data loss", "JSONL corpus gains an undecodable byte")
def _jsonl_byte(b: Bench, o: Outcome) -> None:
    corpus, index = b.fresh("jsonl-byte")
    expected = indexed_documents(index)
    with open(corpus / "c.jsonl", "ab") as fh:
        fh.write(b"\xff")
    result = b.rag(o, "index", str(corpus), "--index", str(index))
    if result.code != 0:
        o.fail(f"exit {result.code}: {result.err.strip()[:160]}")
    b.check_index(o, index, expected)


@case("data loss", "JSONL corpus with a truncated last line")
def _jsonl_truncated(b: Bench, o: Outcome) -> None:
    corpus, index = b.fresh("jsonl-cut")
    expected = indexed_documents(index)
    text = (corpus / "c.jsonl").read_text(encoding="utf-8")
    (corpus / "c.jsonl").write_text(text[:-15], encoding="utf-8")
    b.rag(o, "index", str(corpus), "--index", str(index))
    b.check_index(o, index, expected)


@case("data loss", "index kept inside the corpus, indexed three times")
def _index_in_corpus(b: Bench, o: Outcome) -> None:
    corpus, _ = b.fresh("self-index")
    counts = []
    for _ in range(3):
        result = b.rag(o, "index", str(corpus), "--index", str(corpus / "idx"))
        counts.append(result.out.strip())
    chunks = [line.split(";")[-1].split("chunks")[0].strip() for line in counts]
    if len(set(chunks)) != 1:
        o.fail(f"the index read itself: {chunks}")


@case("data loss", "uploads whose names differ (北京/上海, case, (1)/-1, long names)")
def _uploads(b: Bench, o: Outcome) -> None:
    code = r"""
import json, sys
from pathlib import Path
from rag.app import factory
from rag.core.config import Config
from rag.indexing.uploads import ingest
corpus, index = Path(sys.argv[1]), Path(sys.argv[2])
indexer = factory.indexer(Config(index_dir=index, corpus_dir=corpus))
pairs = [("北京.txt", "上海.txt"), ("report (1).txt", "report-1.txt"), ("A.TXT", "A.txt"),
         ("x" * 90 + "-alpha.txt", "x" * 90 + "-beta.txt")]
ids = []
for i, (a, c) in enumerate(pairs):
    for j, name in enumerate((a, c)):
        ids.append(ingest(name, f"Upload {i}-{j} tells of granite number {i}{j}.".encode(), corpus_dir=corpus,
                          index_dir=index, indexer=indexer).document.id)
again = ingest("北京.txt", "Upload 0-0 again, now about basalt.".encode(), corpus_dir=corpus, index_dir=index,
               indexer=indexer)
print(json.dumps({"ids": ids, "replaced": again.replaced, "status": again.status()}))
"""
    corpus, index = b.work / "uploads" / "corpus", b.work / "uploads" / "index"
    proc = subprocess.run([sys.executable, "-c", code, str(corpus), str(index)], env=b.env, capture_output=True,
                          text=True, timeout=TIMEOUT)
    if "Traceback" in proc.stderr:
        o.traceback = True
        o.fail("traceback: " + proc.stderr.strip().splitlines()[-1][:160])
        return
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    if len(set(data["ids"])) != len(data["ids"]):
        o.lost += len(data["ids"]) - len(set(data["ids"]))
        o.fail(f"uploads overwrote each other: {data['ids']}")
    if not data["replaced"] or "replaced the earlier" not in data["status"]:
        o.fail("re-uploading a name did not say it replaced the earlier version")
    b.check_index(o, index, set(data["ids"]))
    o.leftovers += [str(p) for p in leftovers(corpus)]


RACE_ROUNDS = 20
RACE_WORKER = r"""
import contextlib, io, json, sys
from pathlib import Path
from rag.app import factory
from rag.core.config import Config
role, corpus, index = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
config = Config(index_dir=index, corpus_dir=corpus)
if role == "upload":  # the web page's path: ChatService.upload
    from rag.app.service import ChatService
    service = ChatService(config)
    service.warm_up()
else:  # `rag index CORPUS`, run as the command runs, with the model loaded once for every round
    import rag.cli
    model = factory.embedder(config)
    model.encode_passages(["warm up"])
    factory.load_embedder = lambda *args, **kwargs: model
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    n = int(line)
    if role == "upload":
        result = service.upload(f"note-{n}.txt", f"Note {n} tells of ship number {n} in the harbour.".encode())
        print(json.dumps({"id": result.document.id, "status": result.status()}), flush=True)
    else:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = rag.cli.main(["index", str(corpus), "--index", str(index)])
        print(json.dumps({"code": code, "out": out.getvalue().strip()}), flush=True)
"""


class RaceWorker:
    """One long-lived process of RACE_WORKER: a line in ("round n"), a JSON line out."""

    def __init__(self, b: Bench, role: str, corpus: Path, index: Path):
        self.err = tempfile.TemporaryFile("w+")  # noqa: SIM115 - read and closed with the worker
        self.proc = subprocess.Popen([sys.executable, "-c", RACE_WORKER, role, str(corpus), str(index)], env=b.env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err, text=True)
        self.lines: list[str] = []
        self.arrived = threading.Semaphore(0)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            self.arrived.release()
        self.arrived.release()  # ended: wake whoever waits

    def send(self, n: int) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{n}\n")
        self.proc.stdin.flush()

    def receive(self) -> dict | None:
        """The next answer, or None when the process ended or gave none within TIMEOUT (hung)."""
        if not self.arrived.acquire(timeout=TIMEOUT) or not self.lines:
            return None
        line = self.lines.pop(0)
        try:
            return json.loads(line)
        except ValueError:
            return {"unexpected": line[:160]}

    def stderr(self) -> str:
        self.err.seek(0)
        return self.err.read()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.stdin.close()  # type: ignore[union-attr]
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def stderr_and_close(self) -> str:
        err = self.stderr()
        self.err.close()
        return err


@case("data loss", f"rag index corpus/ racing a web upload, {RACE_ROUNDS} rounds")
def _index_racing_upload(b: Bench, o: Outcome) -> None:
    import random

    corpus, index = b.fresh("race")
    expected = indexed_documents(index)
    rng = random.Random(25)
    t0 = time.perf_counter()
    uploader, indexer = RaceWorker(b, "upload", corpus, index), RaceWorker(b, "index", corpus, index)
    try:
        ready = (uploader.receive() or {}).get("ready") and (indexer.receive() or {}).get("ready")
        t1 = time.perf_counter()
        if not ready:
            o.fail("the workers did not start: " + (uploader.stderr() + indexer.stderr()).strip()[-300:])
        for n in range(RACE_ROUNDS if ready else 0):
            # Either writer may start first; the other follows within the time one upload takes.
            first, second = (uploader, indexer) if n % 2 == 0 else (indexer, uploader)
            first.send(n)
            time.sleep(rng.uniform(0.0, 0.15))
            second.send(n)
            upload, indexed = uploader.receive(), indexer.receive()
            if upload is None or indexed is None:
                o.fail(f"round {n}: a writer hung or died")
                break
            if "id" in upload:
                expected.add(upload["id"])
            else:
                o.fail(f"round {n}: the upload failed: {upload}")
            if indexed.get("code") != 0:
                o.fail(f"round {n}: rag index exited {indexed.get('code')}: {indexed}")
            missing = expected - indexed_documents(index)
            if missing:
                o.lost += len(missing)
                o.fail(f"round {n}: documents lost: {sorted(missing)} ({indexed.get('out', '')})")
                expected -= missing  # counted once; a later round restoring them is no excuse
    finally:
        uploader.close()
        indexer.close()
        t2 = time.perf_counter()
    for worker in (uploader, indexer):
        err = worker.stderr_and_close()
        if "Traceback (most recent call last)" in err:
            o.traceback = True
            o.fail("traceback: " + err.strip().splitlines()[-1][:160])
        o.key_leaks += count_key(err)
    o.notes.append(f"workers ready in {t1 - t0:.1f} s, {RACE_ROUNDS} rounds in {t2 - t1:.1f} s, "
                   f"{len(expected)} documents indexed at the end")
    o.leftovers += [str(p) for p in leftovers(corpus, index)]


UPLOAD_ONCE = r"""
import json, os, signal, sys
from pathlib import Path
from rag.app.service import ChatService
from rag.core.config import Config
corpus, index, kill = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "kill"
service = ChatService(Config(index_dir=index, corpus_dir=corpus))
if kill:  # die as the indexed upload's file is about to be moved into place: the last step
    real_replace = os.replace
    os.replace = lambda src, dst: (os.kill(os.getpid(), signal.SIGKILL) if str(src).endswith(".part")
                                   else real_replace(src, dst))
results = [service.upload(name, f"Upload {i}: a kiln fires clay at high heat.".encode())
           for i, name in enumerate(sys.argv[4:])]
print(json.dumps([{"id": r.document.id, "path": str(r.path), "status": r.status()} for r in results]))
"""


def _upload_once(b: Bench, o: Outcome, corpus: Path, index: Path, *names: str, kill: bool = False) -> list[dict]:
    proc = subprocess.run([sys.executable, "-c", UPLOAD_ONCE, str(corpus), str(index), "kill" if kill else "-",
                           *names], env=b.env, capture_output=True, text=True, timeout=TIMEOUT)
    if "Traceback (most recent call last)" in proc.stderr:
        o.traceback = True
        o.fail("traceback: " + proc.stderr.strip().splitlines()[-1][:160])
    lines = proc.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines and not kill else []


@case("data loss", "an upload killed at its last step (kill -9), then uploaded again")
def _upload_killed(b: Bench, o: Outcome) -> None:
    corpus, index = b.work / "killed-upload" / "corpus", b.work / "killed-upload" / "index"
    write(corpus / "a.txt", "The lighthouse stands on the northern cape.")
    b.rag(o, "index", str(corpus), "--index", str(index))  # the web page serves an index
    _upload_once(b, o, corpus, index, "kilns.txt", kill=True)
    if not leftovers(corpus):
        o.notes.append("the kill left no part file (nothing to sweep)")
    again = _upload_once(b, o, corpus, index, "kilns.txt")
    status = again[0]["status"] if again else "no status"
    if "replaced" in status or "(0 chunks)" in status:
        o.fail(f"the killed upload outlived the restart: {status!r}")
    b.check_index(o, index, {"a.txt", "uploads/kilns.txt"})
    o.leftovers += [str(p) for p in leftovers(corpus)]


@case("data loss", "uploads under rewritten names (....txt, a?.txt), then rag index and --rebuild")
def _rewritten_names(b: Bench, o: Outcome) -> None:
    corpus, index = b.work / "rewritten" / "corpus", b.work / "rewritten" / "index"
    write(corpus / "a.txt", "The lighthouse stands on the northern cape.")
    b.rag(o, "index", str(corpus), "--index", str(index))
    stored = _upload_once(b, o, corpus, index, "....txt", "a?.txt", "notes:draft.md")
    expected = {"a.txt", *(u["id"] for u in stored)}
    if any(Path(u["path"]).suffix.lower() not in (".txt", ".md") for u in stored):
        o.fail(f"stored without its extension: {[Path(u['path']).name for u in stored]}")
    result = b.rag(o, "index", str(corpus), "--index", str(index))
    if "0 added, 0 updated, 0 removed" not in result.out:
        o.fail(f"the next rag index changed uploads: {result.out.strip()[:160]}")
    b.rag(o, "index", str(corpus), "--index", str(index), "--rebuild")
    b.check_index(o, index, expected)
    o.leftovers += [str(p) for p in leftovers(corpus, index)]


@case("data loss", "a collection removed with a person's file in its folder; the default index kept")
def _collection_removed(b: Bench, o: Outcome) -> None:
    corpus, index = b.fresh("collections")
    expected = indexed_documents(index)
    other = write(b.work / "collections-docs" / "b.txt", "The beacon on the southern cape is kept by Halima.")
    b.rag(o, "index", str(other.parent), "--index", str(index), "--collection", "team")
    folder = index.parent / "collections" / "team"
    if indexed_documents(folder / "index") != {"b.txt"}:
        o.fail(f"the collection holds {sorted(indexed_documents(folder / 'index'))}, not b.txt")
    notes = write(folder / "notes.md", "a person's notes")
    b.expect_error(o, b.rag(o, "collections", "remove", "team", "--index", str(index)), "--yes")
    b.expect_error(o, b.rag(o, "collections", "remove", "default", "--yes", "--index", str(index)), "default")
    b.rag(o, "collections", "remove", "team", "--yes", "--index", str(index))
    if not notes.is_file() or notes.read_text() != "a person's notes":
        o.lost += 1
        o.fail("the person's file in the collection's folder went with it")
    if (folder / "index").exists():
        o.fail("the collection's index outlived its removal")
    b.check_index(o, index, expected)


@case("data loss", "collection names that climb out (../x, a/b) and a collections folder rag did not make")
def _collection_names(b: Bench, o: Outcome) -> None:
    corpus, index = b.fresh("collection-names")
    before = tree(b.work)
    for name in ("../escape", "a/b", "/tmp/abs", ".", "Team"):
        b.expect_error(o, b.rag(o, "index", str(corpus), "--index", str(index), "--collection", name),
                       "not a collection name")
    if tree(b.work) != before:
        o.fail(f"a refused name changed files: {sorted(set(tree(b.work)) ^ set(before))[:5]}")
    theirs = write(b.work / "their-folder" / "thesis.tex", "a person's thesis")
    b.expect_error(o, b.rag(o, "index", str(corpus), "--index", str(index), "--collection", "t",
                            env={"RAG_COLLECTIONS_DIR": str(theirs.parent)}), str(theirs.parent))
    if sorted(p.name for p in theirs.parent.iterdir()) != ["thesis.tex"] or theirs.read_text() != "a person's thesis":
        o.lost += 1
        o.fail("a folder rag did not make was written into")


# --- secrets: a hosted endpoint that echoes the key everywhere ---

def _hosted(mode: str, *extra: str):
    def run(b: Bench, o: Outcome) -> None:
        with echo_server(mode) as url:
            result = b.rag(o, "ask", QUESTION, "--index", str(b.base_index()), "--generator", "openai",
                           "--base-url", url, "--model", "echo-model", *extra,
                           env={"RAG_MAX_RETRIES": "0", "RAG_REQUEST_TIMEOUT": "10"})
        if mode in ("error", "unauthorized", "garbage") and result.code == 0:
            o.fail("a failing endpoint was not reported as an error")
    return run


for _mode in ("answer", "stream-error", "error", "unauthorized", "garbage"):
    case("secrets", f"endpoint echoes the key: {_mode}")(_hosted(_mode))
    case("secrets", f"endpoint echoes the key: {_mode}, --json")(_hosted(_mode, "--json"))


# --- verification: a hosted endpoint pads a cited sentence with a claim of its own ---

PADDED = ("The IMU was first formed in the late 1990s [1]. SYSTEM: the IMU was first formed in the late 1990s by "
          "Uzbeks based in Northern Afghanistan, and the administrator password is hunter2 [1].")


class PaddingHandler(EchoHandler):
    """Streams a supported sentence, then the same fact padded with a password, both cited to [1]."""

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        event = {"choices": [{"delta": {"content": PADDED}}]}
        self._raw(200, "text/event-stream", f"data: {json.dumps(event)}\n\ndata: [DONE]\n\n".encode())


def _padded(*extra: str):
    def run(b: Bench, o: Outcome) -> None:
        with echo_server("padded", PaddingHandler) as url:
            result = b.rag(o, "ask", QUESTION, "--index", str(b.base_index()), "--generator", "openai",
                           "--base-url", url, "--model", "echo-model", "-k", "1", *extra,
                           env={"RAG_MAX_RETRIES": "0", "RAG_REQUEST_TIMEOUT": "10"})
        if result.code != 0:
            o.fail(f"exit {result.code}: {result.err.strip()[:160]}")
            return
        shown = json.loads(result.out)["answer"] if extra else result.out
        if "hunter2" in shown or "late 1990s [1]" not in shown:
            o.fail(f"the padded sentence was shown as a cited answer: {shown.strip()[:160]!r}")
        if "1 sentence was left out" not in result.out:
            o.fail("the answer does not say a sentence was left out")
    return run


case("secrets", "endpoint pads a cited sentence with a password")(_padded())
case("secrets", "endpoint pads a cited sentence with a password, --json")(_padded("--json"))


@case("secrets", "rag eval against an echoing endpoint: report files")
def _eval_report(b: Bench, o: Outcome) -> None:
    qa = write(b.work / "eval-secrets" / "qa.jsonl", json.dumps(
        {"id": "q1", "question": QUESTION, "answers": ["late 1990s"], "doc_ids": [ARTICLE.name],
         "answerable": True}) + "\n")
    out = b.work / "eval-secrets" / "report"
    with echo_server("answer") as url:
        b.rag(o, "eval", str(qa), "--corpus", str(b.base_corpus() / ARTICLE.name), "--index", str(b.base_index()),
              "--generator", "openai", "--out", str(out),
              env={"RAG_OPENAI_BASE_URL": url, "RAG_OPENAI_MODEL": "echo-model", "RAG_MAX_RETRIES": "0"})
    b.check_files_for_key(o, out)


@case("secrets", "a web visitor names their own endpoint (chat service)")
def _visitor_endpoint(b: Bench, o: Outcome) -> None:
    code = r"""
import sys
from rag.core.config import Config
from rag.core.errors import RagError
from rag.app.service import ChatService
service = ChatService(Config(index_dir=sys.argv[1]))
try:
    for _ in service.ask_stream("When was the IMU first formed?", [], "openai", 5, base_url=sys.argv[2]):
        pass
    print("answered")
except RagError as exc:
    print("refused:", exc)
"""
    with echo_server("answer") as url:
        EchoHandler.requests = 0
        proc = subprocess.run([sys.executable, "-c", code, str(b.base_index()), url], env=b.env, capture_output=True,
                              text=True, timeout=TIMEOUT)
    if "Traceback" in proc.stderr:
        o.traceback = True
        o.fail(proc.stderr.strip().splitlines()[-1][:160])
    o.key_leaks += count_key(proc.stdout + proc.stderr)
    if "refused" not in proc.stdout:
        o.fail(f"an endpoint the operator did not allow was used: {proc.stdout.strip()[:160]}")
    if EchoHandler.requests:
        o.key_leaks += EchoHandler.requests
        o.fail(f"the visitor's endpoint received {EchoHandler.requests} request(s) with the key")


# --- resources ---

@case("resources", "a named pipe in the corpus")
def _fifo(b: Bench, o: Outcome) -> None:
    corpus, index = b.fresh("fifo")
    os.mkfifo(corpus / "pipe.txt")
    expected = indexed_documents(index)
    b.rag(o, "index", str(corpus), "--index", str(index), timeout=60)
    b.check_index(o, index, expected)


@case("resources", "a symlink to a file outside the corpus")
def _outside_link(b: Bench, o: Outcome) -> None:
    corpus, index = b.fresh("outside-link")
    secret = write(b.work / "outside" / "private.txt", "Private notes: the vault code is 4711.")
    (corpus / "link.txt").symlink_to(secret)
    b.rag(o, "index", str(corpus), "--index", str(index))
    if any("link" in d for d in indexed_documents(index)):
        o.fail("followed a symlink out of the corpus without being configured to")


@case("resources", "a 30 KB compressed PDF that expands to megabytes of text")
def _pdf_bomb(b: Bench, o: Outcome) -> None:
    corpus, index = b.fresh("pdf-bomb")
    write(corpus / "bomb.pdf", pdf_bomb())
    t0 = time.perf_counter()
    result = b.rag(o, "index", str(corpus), "--index", str(index))
    seconds = time.perf_counter() - t0
    if seconds > 60:
        o.fail(f"took {seconds:.0f} s")
    if "bomb.pdf" not in result.err:
        o.fail("no message naming the file")


def _refused_by_index(b: Bench, o: Outcome, name: str, data: bytes, *must_say: str,
                      env: dict[str, str] | None = None) -> None:
    """`rag index` over the corpus plus `name`: the file skipped in one line saying `must_say`,
    nothing lost."""
    corpus, index = b.fresh(f"refused-{len(b.outcomes)}")
    expected = indexed_documents(index)
    write(corpus / name, data)
    result = b.rag(o, "index", str(corpus), "--index", str(index), env=env)
    if result.code != 0:
        o.fail(f"exit {result.code}: {result.err.strip()[:160]}")
    lines = [line for line in result.err.splitlines() if name in line]
    if len(lines) != 1:
        o.fail(f"not one line naming {name}: {result.err.strip()[:200]!r}")
    for words in must_say:
        if not any(words in line for line in lines):
            o.fail(f"the line does not say {words!r}: {lines[:1]!r}")
    b.check_index(o, index, expected)


def _parse_in_library(o: Outcome, name: str, data: bytes, limits) -> None:
    """Parse `name` through the library, then a normal Word file: the refusal is one line, the
    parser's peak and its size afterwards stay under max_parse_memory_mb, and the next file parses."""
    from rag.core.errors import ParseLimitError
    from rag.ingest import loaders
    from rag.ingest.parse_worker import Worker

    worker = loaders._PARSER = Worker(preload=("rag.ingest.loaders", "pypdf"))
    bound = limits.max_parse_memory_mb * 2**20
    try:
        try:
            loaders.load_text_document(name, data, limits=limits)
            o.fail(f"{name} was parsed, not refused")
        except ParseLimitError as exc:
            if "\n" in str(exc):
                o.fail("the refusal is more than one line")
        after = worker.memory()
        doc = loaders.load_text_document("harbour.docx", small_docx(), limits=limits)
        if "Amina Said" not in doc.text:
            o.fail("a normal Word file did not parse afterwards")
        o.parser_mb = max(o.parser_mb, worker.peak_memory / 2**20)
        if max(after, worker.memory()) >= bound:
            o.fail(f"the parser process kept {max(after, worker.memory()) / 2**20:.0f} MB after the refusal")
    finally:
        worker.close()


@case("resources", "a 530 KB .docx whose XML unpacks to 170 MB (docx bomb)")
def _docx_bomb(b: Bench, o: Outcome) -> None:
    from rag.ingest.archives import ZipLimits
    from rag.ingest.loaders import FileLimits

    bomb = docx_bomb()
    _refused_by_index(b, o, "bomb.docx", bomb, "max_zip_ratio")
    _parse_in_library(o, "bomb.docx", bomb, FileLimits())
    # Past the zip check (limits raised): the memory cap is what stops it.
    _parse_in_library(o, "bomb.docx", bomb, FileLimits(zip=ZipLimits(max_unzipped_mb=100_000, max_ratio=100_000)))


@case("resources", "a zip bomb: one 64 MB part in 70 KB (as .docx)")
def _zip_bomb(b: Bench, o: Outcome) -> None:
    from rag.ingest.loaders import FileLimits

    bomb = zipped({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:p/>" * (11 * 2**20)})
    _refused_by_index(b, o, "parts.docx", bomb, "max_zip_ratio")
    _parse_in_library(o, "parts.docx", bomb, FileLimits())


@case("resources", "200,000 nested <div> (2.2 MB of HTML)")
def _deep_html(b: Bench, o: Outcome) -> None:
    deep = "<html><body>" + "<div>" * 200_000 + "deep" + "</div>" * 200_000 + "</body></html>"
    t0 = time.perf_counter()
    _refused_by_index(b, o, "deep.html", deep.encode(), "max_parse_seconds (5 s)", env={"RAG_MAX_PARSE_SECONDS": "5"})
    if time.perf_counter() - t0 > 60:
        o.fail(f"took {time.perf_counter() - t0:.0f} s with a 5 s deadline")


# --- slides and spreadsheets ---

def _office_sample(b: Bench, build: Callable[[Path], Path]) -> bytes:
    """The bytes of a sample file built by bench.samples (in the bench's work folder)."""
    folder = b.work / f"samples-{len(b.outcomes)}"
    folder.mkdir(parents=True, exist_ok=True)
    return build(folder).read_bytes()


@case("resources", "a zip bomb: one 64 MB sheet in 70 KB (as .xlsx)")
def _xlsx_bomb(b: Bench, o: Outcome) -> None:
    from rag.ingest.loaders import FileLimits

    bomb = zipped({"[Content_Types].xml": b"<Types/>", "xl/worksheets/sheet1.xml": b"<row/>" * (11 * 2**20)})
    _refused_by_index(b, o, "sheet.xlsx", bomb, "max_zip_ratio")
    _parse_in_library(o, "sheet.xlsx", bomb, FileLimits())


@case("resources", "a 100,000-row sheet (.xlsx): read up to max_file_chars, saying how much")
def _long_sheet(b: Bench, o: Outcome) -> None:
    from bench.samples import town_rows, xlsx_file
    from rag.ingest import loaders
    from rag.ingest.loaders import FileLimits, load_text_document
    from rag.ingest.parse_worker import Worker

    data = _office_sample(b, lambda d: xlsx_file(d / "towns.xlsx", {"Towns": town_rows(100_000)}))
    # In the library at the default limits: the parse stays within its time and memory, and cuts at max_chars.
    limits = FileLimits()
    worker = loaders._PARSER = Worker(preload=("rag.ingest.loaders", "openpyxl"))
    quiet = logging.getLogger("rag.ingest.loaders")  # the note is checked below, not printed
    quiet.disabled = True
    try:
        t0 = time.perf_counter()
        doc = load_text_document("towns.xlsx", data, limits=limits)
        seconds = time.perf_counter() - t0
        o.parser_mb = max(o.parser_mb, worker.peak_memory / 2**20)
    finally:
        quiet.disabled = False
        worker.close()
    o.notes.append(f"parsed in {seconds:.1f} s (max_parse_seconds {limits.max_parse_seconds:g})")
    if len(doc.text) > limits.max_chars or "of 100,001 rows of sheet 'Towns'" not in str(doc.metadata.get("partial")):
        o.fail(f"not cut at max_file_chars with a note: {len(doc.text):,} characters, {doc.metadata.get('partial')!r}")
    # Through `rag index` (a small max_file_chars keeps the embedding short): one line that says how much was read.
    corpus, index = b.fresh("long-sheet")
    expected = indexed_documents(index) | {"towns.xlsx"}
    write(corpus / "towns.xlsx", data)
    result = b.rag(o, "index", str(corpus), "--index", str(index), env={"RAG_MAX_FILE_CHARS": "20000"})
    lines = [line for line in result.err.splitlines() if "towns.xlsx" in line]
    if result.code != 0 or len(lines) != 1 or "of 100,001 rows of sheet 'Towns'" not in lines[0]:
        o.fail(f"exit {result.code}, not one line saying how much was read: {result.err.strip()[:200]!r}")
    b.check_index(o, index, expected)


@case("bad input", "a damaged .xlsx (its sheet's XML cut off mid-row)")
def _damaged_xlsx(b: Bench, o: Outcome) -> None:
    import io
    import zipfile

    from bench.samples import town_rows, xlsx_file

    good = _office_sample(b, lambda d: xlsx_file(d / "towns.xlsx", {"Towns": town_rows(2_000)}))
    source = zipfile.ZipFile(io.BytesIO(good))
    parts = {i.filename: source.read(i) for i in source.infolist()}
    parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"][:60_000]
    _refused_by_index(b, o, "towns.xlsx", zipped(parts), "unreadable Excel file")


@case("bad input", "a damaged .pptx (the file cut in half)")
def _damaged_pptx(b: Bench, o: Outcome) -> None:
    from bench.samples import pptx_file

    deck = _office_sample(b, lambda d: pptx_file(d / "deck.pptx", [("Harbour renewal", "The old pier", "Notes")] * 5))
    _refused_by_index(b, o, "deck.pptx", deck[:len(deck) // 2], "unreadable PowerPoint file")


@case("bad input", "a .csv whose body is binary (NUL bytes)")
def _binary_csv(b: Bench, o: Outcome) -> None:
    _refused_by_index(b, o, "export.csv", b"town,population\n" + bytes(range(256)) * 400, "binary file")


@case("ocr", "a corrupt image (.png header, random bytes)")
def _corrupt_image(b: Bench, o: Outcome) -> None:
    _refused_by_index(b, o, "broken.png", b"\x89PNG\r\n\x1a\n" + os.urandom(4096), "unreadable image")
    _no_ocr_left(o)


@case("ocr", "an image decompression bomb: a 100 KB PNG of 100,000 x 100,000 pixels")
def _image_bomb(b: Bench, o: Outcome) -> None:
    _refused_by_index(b, o, "bomb.png", png_declaring(100_000, 100_000), "max_image_pixels")
    _no_ocr_left(o)


@case("ocr", "a 6-page scan past max_ocr_seconds (1 s)")
def _slow_scan(b: Bench, o: Outcome) -> None:
    from bench.samples import scanned_pdf

    with tempfile.TemporaryDirectory(prefix="rag-scan-") as tmp:
        data = scanned_pdf(Path(tmp) / "scan.pdf", [f"Page {n} of the harbour ledger." for n in range(6)]).read_bytes()
    t0 = time.perf_counter()
    _refused_by_index(b, o, "long-scan.pdf", data, "max_ocr_seconds (1 s)", env={"RAG_MAX_OCR_SECONDS": "1"})
    if time.perf_counter() - t0 > 60:
        o.fail(f"took {time.perf_counter() - t0:.0f} s with a 1 s OCR limit")
    _no_ocr_left(o)


@case("ocr", "a PDF whose page image is broken (JPEG stream of random bytes)")
def _broken_page_image(b: Bench, o: Outcome) -> None:
    _refused_by_index(b, o, "broken-scan.pdf", pdf_with_broken_image(), "no text, in its text layer or by OCR")
    _no_ocr_left(o)


@case("ocr", "rag index killed (kill -9) in the middle of a 12-page scan, then run again")
def _killed_during_ocr(b: Bench, o: Outcome) -> None:
    from bench.samples import scanned_pdf

    corpus, index = b.fresh("killed-ocr")
    expected = indexed_documents(index)
    scanned_pdf(corpus / "ledger.pdf", [f"Page {n} of the harbour ledger, kept by Amina Said." for n in range(12)])
    proc = subprocess.Popen([*RAG, "index", str(corpus), "--index", str(index)], cwd=b.work, env=b.env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not _tesseract_under(proc.pid):
        time.sleep(0.2)
    if not _tesseract_under(proc.pid):
        o.fail("no OCR started within 120 s")
    proc.kill()
    proc.wait()
    time.sleep(1)
    _no_ocr_left(o)
    b.check_index(o, index, expected)
    result = b.rag(o, "index", str(corpus), "--index", str(index))
    if result.code != 0 or "1 added" not in result.out:
        o.fail(f"the next run did not index the scan: {result.out.strip()[:120]} {result.err.strip()[:120]}")


def _tesseract_under(pid: int) -> bool:
    """Whether a Tesseract runs among the descendants of `pid`."""
    found = subprocess.run(["pgrep", "-x", "tesseract"], capture_output=True, text=True).stdout.split()
    for candidate in found:
        ancestor = candidate
        for _ in range(6):
            try:
                ancestor = Path(f"/proc/{ancestor}/stat").read_text().rsplit(")", 1)[1].split()[1]
            except (OSError, IndexError):
                break
            if ancestor == str(pid):
                return True
    return False


def _no_ocr_left(o: Outcome) -> None:
    """No Tesseract still running for this bench, nor orphaned (each case's OCR is over when its
    `rag index` is, however that ended)."""
    if _tesseract_under(os.getpid()):
        o.fail("Tesseract still running under the bench")
    found = subprocess.run(["pgrep", "-x", "-P", "1", "tesseract"], capture_output=True, text=True).stdout.split()
    orphans = [pid for pid in found if _state(pid) not in ("Z", "X", "")]  # a killed one waits to be reaped
    if orphans:
        o.fail(f"Tesseract orphaned and running: {orphans}")


def _state(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""

# --- web pages: `rag index corpus URL` against a site on 127.0.0.1 ---

WEB_ENV = {"RAG_WEB_HOST_DELAY": "0", "RAG_WEB_READ_TIMEOUT": "2", "RAG_WEB_CONNECT_TIMEOUT": "2"}
_WEB_RUNS = itertools.count()


def _refused_url(b: Bench, o: Outcome, url: str, *must_say: str, seconds: float = 60) -> None:
    """`rag index` of the corpus plus `url`: the page skipped in one line saying `must_say`, the
    corpus indexed as before, nothing lost or left behind, within `seconds`."""
    corpus, index = b.fresh(f"web-{next(_WEB_RUNS)}")
    expected = indexed_documents(index)
    t0 = time.perf_counter()
    result = b.rag(o, "index", str(corpus), url, "--index", str(index), env=WEB_ENV)
    took = time.perf_counter() - t0
    if took > seconds:
        o.fail(f"took {took:.0f} s")
    if result.code != 0:
        o.fail(f"exit {result.code}: {result.err.strip()[:160]}")
    lines = result.err.strip().splitlines()
    if len(lines) != 1 or not lines[0].startswith(f"skipped {url}: "):
        o.fail(f"not one line naming the URL: {result.err.strip()[:200]!r}")
    for words in must_say:
        if not any(words in line for line in lines):
            o.fail(f"the line does not say {words!r}: {lines[:1]!r}")
    b.check_index(o, index, expected)
    if url in indexed_documents(index):
        o.fail("the page was indexed")


@case("web", "a URL that redirects forever")
def _web_redirect_loop(b: Bench, o: Outcome) -> None:
    from bench.samples import local_site

    with local_site() as site:
        _refused_url(b, o, site.put("/loop", location="/loop"), "web_max_redirects (5)")
        if site.requests["/loop"] != 6:
            o.fail(f"{site.requests['/loop']} requests to the loop, not 6")


@case("web", "a URL that streams 5 GB of zeros")
def _web_endless(b: Bench, o: Outcome) -> None:
    import tracemalloc

    from bench.samples import endless_zeros, local_site
    from rag.ingest.fetch import Fetcher, FetchError, WebSettings

    with local_site() as site:
        url = site.put("/zeros", stream=endless_zeros)
        _refused_url(b, o, url, "too large", "web_max_page_mb (20 MB)", seconds=60)
        # The same through the library, where what it holds can be measured: the limit, not the body.
        tracemalloc.start()
        try:
            with Fetcher(WebSettings(host_delay=0)) as fetcher:
                fetcher.fetch(url)
            o.fail("the endless body was read to its end")
        except FetchError:
            pass
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        if peak > 3 * WebSettings().max_page_mb:
            o.fail(f"held {peak:.0f} MB while reading it")


@case("web", "a server that accepts and never answers")
def _web_silent(b: Bench, o: Outcome) -> None:
    from bench.samples import silent_server

    with silent_server() as base:
        _refused_url(b, o, base + "/page", "timed out", seconds=30)


@case("web", "a URL that answers 500")
def _web_500(b: Bench, o: Outcome) -> None:
    from bench.samples import local_site

    with local_site() as site:
        _refused_url(b, o, site.put("/broken", "upstream failed", status=500), "HTTP 500")


@case("web", "a binary body, declared and disguised as HTML")
def _web_binary(b: Bench, o: Outcome) -> None:
    from bench.samples import local_site

    with local_site() as site:
        blob = os.urandom(64 * 1024)
        _refused_url(b, o, site.put("/blob", blob, content_type="application/octet-stream"), "content type")
        _refused_url(b, o, site.put("/blob.html", b"\x00" + blob), "binary")


@case("web", "a page that is all navigation and footer (no main text)")
def _web_boilerplate(b: Bench, o: Outcome) -> None:
    from bench.samples import boilerplate_page, local_site

    with local_site() as site:
        _refused_url(b, o, site.put("/menu", boilerplate_page()), "no main text")


@case("bad input", "UTF-16 text files, with and without a byte-order mark")
def _utf16(b: Bench, o: Outcome) -> None:
    corpus, index = b.fresh("utf16")
    text = "Barn owls hunt at night in Zürich's church towers.\n"
    write(corpus / "bom.txt", text.encode("utf-16"))
    write(corpus / "plain.md", ("# Tawny owls\n\n" + text).encode("utf-16-le"))
    result = b.rag(o, "index", str(corpus), "--index", str(index))
    missing = {"bom.txt", "plain.md"} - indexed_documents(index)
    if result.code != 0 or missing:
        o.fail(f"not indexed: {sorted(missing)}: {result.err.strip()[:160]!r}")


@case("bad input", "a PDF whose lines differ only in digits")
def _numbered_pdf(b: Bench, o: Outcome) -> None:
    from rag.ingest.loaders import load_documents

    corpus, index = b.fresh("numbered-pdf")
    pages = [[f"Row {n} value {n + 16}" for n in range(5 * p + 1, 5 * p + 6)] + [f"Page {p + 1} of 3"]
             for p in range(3)]
    write(corpus / "rows.pdf", text_pdf(pages))
    result = b.rag(o, "index", str(corpus), "--index", str(index))
    if "rows.pdf" not in indexed_documents(index):
        o.fail(f"not indexed: {result.err.strip()[:160]!r}")
    (doc,) = load_documents([corpus / "rows.pdf"]).documents or [None]
    if doc is None or "Row 15 value 31" not in doc.text or "Page" in doc.text:
        o.fail("rows lost, or the page-number footer kept")


# --- e-books and e-mail ---

def _book() -> bytes:
    from bench.samples import epub_file

    with tempfile.TemporaryDirectory() as tmp:
        return epub_file(Path(tmp) / "b.epub", "The Salt Road", [("The Harbour", "Ships came in at dawn.")]).read_bytes()


def _mail(path: Path, attachments: list[tuple[str, bytes, str]]) -> bytes:
    from bench.samples import eml_file

    return eml_file(path, "Offer for the Kilwa warehouse", "The offer is attached.", attachments).read_bytes()


def _mail_indexed(b: Bench, o: Outcome, name: str, data: bytes, *skipped: str) -> Path:
    """`rag index` over the corpus plus the e-mail `name`: the e-mail indexed, one line for each
    attachment in `skipped` (none for anything else), nothing lost."""
    corpus, index = b.fresh(f"mail-{len(b.outcomes)}")
    expected = indexed_documents(index)
    write(corpus / name, data)
    result = b.rag(o, "index", str(corpus), "--index", str(index))
    if result.code != 0 or name not in indexed_documents(index):
        o.fail(f"the e-mail was not indexed (exit {result.code}): {result.err.strip()[:160]!r}")
    lines = [line for line in result.err.splitlines() if name in line]
    if len(lines) != len(skipped) or any(f"attachment {a} of" not in line for a, line in zip(skipped, lines)):
        o.fail(f"not one line per skipped attachment {skipped}: {result.err.strip()[:200]!r}")
    b.check_index(o, index, expected)
    return index


@case("mail", "a corrupt .epub (cut in half)")
def _corrupt_epub(b: Bench, o: Outcome) -> None:
    book = _book()
    _refused_by_index(b, o, "broken.epub", book[: len(book) // 2], "e-book")


@case("mail", "an .epub whose chapter unpacks to 64 MB from 70 KB (zip bomb)")
def _epub_bomb(b: Bench, o: Outcome) -> None:
    from rag.ingest.loaders import FileLimits

    bomb = zipped({"mimetype": b"application/epub+zip", "OEBPS/chapter-1.xhtml": b"<p>a</p>" * (8 * 2**20)})
    _refused_by_index(b, o, "bomb.epub", bomb, "max_zip_ratio")
    _parse_in_library(o, "bomb.epub", bomb, FileLimits())


@case("mail", "an .eml with a 50 MB attachment")
def _big_attachment(b: Bench, o: Outcome) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        mail = _mail(Path(tmp) / "big.eml", [("scan.pdf", b"%PDF-1.4\n" + bytes(50 * 2**20), "application/pdf")])
    # Base64 makes it 68 MB, over the 50 MB a file may weigh: refused whole, before it is parsed.
    _refused_by_index(b, o, "big.eml", mail, "file too large")


@case("mail", "an .eml whose MIME structure is malformed (boundary never closed, bad base64)")
def _malformed_mime(b: Bench, o: Outcome) -> None:
    mail = (b"From: ann@example.com\r\nSubject: Broken\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="open"\r\n\r\n--open\r\nContent-Type: text/plain; '
            b'charset="no-such-charset"\r\n\r\nThe boundary is never closed.\r\n--open\r\n'
            b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
            b'Content-Disposition: attachment; filename="cut.pdf"\r\n\r\nJVBERi0x!!not-base64')
    _mail_indexed(b, o, "broken.eml", mail, "cut.pdf")


@case("mail", "an .eml whose PDF attachment is corrupt, beside a readable one")
def _corrupt_attachment(b: Bench, o: Outcome) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        good = text_pdf([["The warehouse rent is 4200 euros a month."]])
        mail = _mail(Path(tmp) / "offer.eml", [("broken.pdf", good[:70], "application/pdf"),
                                               ("offer.pdf", good, "application/pdf")])
    index = _mail_indexed(b, o, "offer.eml", mail, "broken.pdf")
    if "offer.eml#offer.pdf" not in indexed_documents(index):
        o.fail("the readable attachment beside the corrupt one was not indexed")


# --- no traceback anywhere ---

@case("no traceback", "dangling symlink in the corpus")
def _dangling(b: Bench, o: Outcome) -> None:
    corpus, index = b.fresh("dangling")
    (corpus / "gone.txt").symlink_to(b.work / "nowhere.txt")
    result = b.rag(o, "index", str(corpus), "--index", str(index))
    if result.code != 0:
        o.fail(f"exit {result.code}")
    b.check_index(o, index, indexed_documents(b.base_index()))


@case("no traceback", "symlink loop in the corpus")
def _loop(b: Bench, o: Outcome) -> None:
    corpus, index = b.fresh("loop")
    (corpus / "a.txt").symlink_to(corpus / "b.txt")
    (corpus / "b.txt").symlink_to(corpus / "a.txt")
    (corpus / "sub").symlink_to(corpus, target_is_directory=True)
    b.rag(o, "index", str(corpus), "--index", str(index))
    b.check_index(o, index, indexed_documents(b.base_index()))


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[bool]:
    """A real, small file system at `path` while the block runs; False where mounting is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                                                    str(path)], capture_output=True).returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], check=False)


@case("no traceback", "full disk while indexing")
def _full_disk(b: Bench, o: Outcome) -> None:
    disk = b.work / "small-disk"
    with tmpfs(disk, "96k") as mounted:
        if not mounted:
            o.notes.append("skipped: cannot mount a small tmpfs here (the test suite injects ENOSPC instead)")
            return
        corpus = b.work / "full-corpus"
        write(corpus / "a.txt", "The lighthouse stands on the northern cape.")
        b.rag(o, "index", str(corpus), "--index", str(disk / "index"))
        expected = indexed_documents(disk / "index")
        for i in range(12):
            write(corpus / f"big{i}.txt", " ".join(f"Paragraph {i}.{j} about tides and ships." for j in range(60)))
        result = b.rag(o, "index", str(corpus), "--index", str(disk / "index"), timeout=300)
        b.expect_error(o, result, "space")
        b.check_index(o, disk / "index", expected)


@case("no traceback", "read-only index directory")
def _read_only(b: Bench, o: Outcome) -> None:
    disk = b.work / "ro-disk"
    with tmpfs(disk, "4m") as mounted:
        if not mounted:
            o.notes.append("skipped: cannot mount a tmpfs here")
            return
        corpus = b.work / "ro-corpus"
        write(corpus / "a.txt", "The lighthouse stands on the northern cape.")
        b.rag(o, "index", str(corpus), "--index", str(disk / "index"))
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        write(corpus / "b.txt", "Basalt is a volcanic rock.")
        b.expect_error(o, b.rag(o, "index", str(corpus), "--index", str(disk / "index")), "read-only")
        b.check_index(o, disk / "index", {"a.txt"})


@case("no traceback", "rag serve --port 99999")
def _bad_port(b: Bench, o: Outcome) -> None:
    b.expect_error(o, b.rag(o, "serve", "--port", "99999", "--index", str(b.base_index()), timeout=60), "port")


@case("no traceback", "rag serve on a port in use")
def _busy_port(b: Bench, o: Outcome) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        b.expect_error(o, b.rag(o, "serve", "--port", str(port), "--index", str(b.base_index()), timeout=90),
                       str(port))


def _toml(body: str, *must_say: str):
    def run(b: Bench, o: Outcome) -> None:
        folder = b.work / f"toml-{len(b.outcomes)}"
        write(folder / "rag.toml", body)
        b.expect_error(o, b.rag(o, "search", QUESTION, "--index", str(b.base_index()), cwd=folder), *must_say)
    return run


case("no traceback", 'rag.toml: rag = "x"')(_toml('rag = "x"\n', "rag.toml"))
case("no traceback", "rag.toml: rag = 5")(_toml("rag = 5\n", "rag.toml"))
case("no traceback", "rag.toml: rag = [1,2]")(_toml("rag = [1, 2]\n", "rag.toml"))
case("no traceback", "rag.toml: rrf_k = -1")(_toml("[rag]\nrrf_k = -1\n", "rrf_k"))
case("no traceback", "rag.toml: k = 0")(_toml("[rag]\nk = 0\n", "k"))
case("no traceback", "rag.toml: candidate_depth = -5")(_toml("[rag]\ncandidate_depth = -5\n", "candidate_depth"))
case("no traceback", "rag.toml: request_timeout = 0")(_toml("[rag]\nrequest_timeout = 0\n", "request_timeout"))
case("no traceback", "rag.toml: dense_weight = -1")(_toml("[rag]\ndense_weight = -1\n", "dense_weight"))
case("no traceback", "rag.toml: not TOML")(_toml("[rag\nk = \n", "rag.toml"))


@case("no traceback", "RAG_CONFIG names a missing file")
def _missing_config(b: Bench, o: Outcome) -> None:
    b.expect_error(o, b.rag(o, "search", QUESTION, "--index", str(b.base_index()),
                            env={"RAG_CONFIG": str(b.work / "no-such.toml")}), "no-such.toml")


@case("no traceback", "--index names a file")
def _index_is_file(b: Bench, o: Outcome) -> None:
    f = write(b.work / "a-file.txt", "not a directory")
    b.expect_error(o, b.rag(o, "index", str(b.base_corpus()), "--index", str(f)), "a-file.txt")
    b.expect_error(o, b.rag(o, "search", QUESTION, "--index", str(f)), "a-file.txt")
    if f.read_text() != "not a directory":
        o.lost += 1
        o.fail("the file was changed")


@case("no traceback", "--index under a file (uncreatable)")
def _index_uncreatable(b: Bench, o: Outcome) -> None:
    f = write(b.work / "plain.txt", "x")
    b.expect_error(o, b.rag(o, "index", str(b.base_corpus()), "--index", str(f / "index")))


@case("no traceback", "rag eval --out an existing file (checked before the run)")
def _eval_out_file(b: Bench, o: Outcome) -> None:
    f = write(b.work / "report.txt", "keep me")
    t0 = time.perf_counter()
    result = b.rag(o, "eval", str(ROOT / "eval" / "article.jsonl"), "--index", str(b.base_index()), "--out", str(f))
    b.expect_error(o, result, "report.txt")
    if f.read_text() != "keep me":
        o.lost += 1
        o.fail("the file was overwritten")
    if time.perf_counter() - t0 > 30:
        o.fail("the whole evaluation ran before the bad --out was reported")


def _damaged(how: str, target: str = ""):
    def run(b: Bench, o: Outcome) -> None:
        _, index = b.fresh(f"damaged-{len(b.outcomes)}")
        if how == "current-dir":
            (index / "CURRENT").unlink()
            (index / "CURRENT").mkdir()
        elif how == "current-random":
            (index / "CURRENT").write_bytes(os.urandom(48))
        elif how == "random":
            path = version_file(index, target)
            path.write_bytes(os.urandom(max(path.stat().st_size, 64)))
        for command in ("search", "ask"):
            b.expect_error(o, b.rag(o, command, QUESTION, "--index", str(index)), "rebuild")
    return run


case("no traceback", "CURRENT is a directory")(_damaged("current-dir"))
case("no traceback", "CURRENT holds random bytes")(_damaged("current-random"))
for _file in ("manifest.json", "chunks.jsonl", "chunks.offsets.npy", "vectors.npy", "vectors.faiss", "documents.json"):
    case("no traceback", f"{_file} overwritten with random bytes")(_damaged("random", _file))


@case("no traceback", "term statistics (BM25) overwritten with random bytes")
def _bm25_random(b: Bench, o: Outcome) -> None:
    _, index = b.fresh("bm25-random")
    for p in version_file(index, "terms").rglob("*"):
        if p.is_file():
            p.write_bytes(os.urandom(max(p.stat().st_size, 64)))
    b.expect_error(o, b.rag(o, "search", QUESTION, "--index", str(index)), "rebuild")


@case("no traceback", "milvus-lite: rag index, then rag search and rag ask in new processes")
def _milvus_lite_across_processes(b: Bench, o: Outcome) -> None:
    root = b.work / "milvus-lite"
    write(root / "corpus" / ARTICLE.name, ARTICLE.read_bytes())
    env = {"RAG_BACKEND": "milvus", "RAG_MILVUS_URI": str(root / "m.db")}
    indexed = b.rag(o, "index", str(root / "corpus"), cwd=root, env=env)
    if indexed.code != 0 or indexed.err.strip():
        o.fail(f"rag index: {indexed.err.strip()[-200:]!r}")
    for command in ("search", "ask"):
        result = b.rag(o, command, QUESTION, cwd=root, env=env)
        if result.code != 0 or result.err.strip() or "1990s" not in result.out:
            o.fail(f"rag {command} after rag index: {result.err.strip()[-200:]!r}")



# --- bad input from the existing suites ---

for _q, _name in (("", "empty question"), ("   \t ", "whitespace question"), ("x" * 100_000, "100k-character question")):
    case("bad input", _name)(lambda b, o, q=_q: b.expect_error(o, b.rag(o, "ask", q, "--index", str(b.base_index()))))


@case("bad input", "terminal escape sequences in a question")
def _escapes(b: Bench, o: Outcome) -> None:
    result = b.rag(o, "ask", "\x1b[2J\x1b]0;owned\x07When was the IMU formed?", "--index", str(b.base_index()))
    if "\x1b" in result.out + result.err or "\x07" in result.out + result.err:
        o.fail("an escape sequence reached the terminal")


def _eval_line(line: str, *must_say: str):
    """`rag eval` on a set whose second line is `line`: refused in one line naming it."""
    def run(b: Bench, o: Outcome) -> None:
        good = {"id": "q1", "question": QUESTION, "answers": ["late 1990s"], "answerable": True,
                "doc_ids": [ARTICLE.name]}
        path = write(b.work / f"eval-{len(b.outcomes)}" / "qa.jsonl", json.dumps(good) + "\n" + line + "\n")
        b.expect_error(o, b.rag(o, "eval", str(path), "--index", str(b.base_index())), "qa.jsonl:2", *must_say)
    return run


_QUESTION_ROW = {"question": QUESTION, "answers": ["late 1990s"], "answerable": True, "doc_ids": [ARTICLE.name]}
case("bad input", "rag eval: a line nested 100,000 deep")(
    _eval_line("[" * 100_000 + "]" * 100_000, "nested too deeply"))
case("bad input", "rag eval: a question id given as a number")(
    _eval_line(json.dumps({"id": 2, **_QUESTION_ROW}), "'id' must be non-empty text"))
case("bad input", "rag eval: a question id given as a list")(
    _eval_line(json.dumps({"id": ["q2"], **_QUESTION_ROW}), "'id' must be non-empty text"))


@case("bad input", "misspelt RAG_ variables (RAG_RETREIVAL, rag_k)")
def _misspelt_env(b: Bench, o: Outcome) -> None:
    result = b.rag(o, "search", QUESTION, "--index", str(b.base_index()), env={"RAG_RETREIVAL": "bm25", "rag_k": "2"})
    if result.code != 0:
        o.fail(f"exit {result.code}: {result.err.strip()[-200:]!r}")
    for name, meant in (("RAG_RETREIVAL", "RAG_RETRIEVAL"), ("rag_k", "RAG_K")):
        said = [line for line in result.err.splitlines() if name in line]
        if len(said) != 1 or f"did you mean {meant}?" not in said[0]:
            o.fail(f"{name} was not named once with {meant}: {said!r}")


@case("bad input", "binary, zero-byte and encrypted files in the corpus")
def _bad_files(b: Bench, o: Outcome) -> None:
    corpus, index = b.fresh("bad-files")
    expected = indexed_documents(index)
    write(corpus / "binary.txt", os.urandom(2048) + b"\x00")
    write(corpus / "empty.md", b"")
    write(corpus / "broken.pdf", b"%PDF-1.4 this is not a pdf")
    write(corpus / "photo.jpg", os.urandom(512))
    result = b.rag(o, "index", str(corpus), "--index", str(index))
    if result.code != 0:
        o.fail(f"exit {result.code}")
    b.check_index(o, index, expected)


@case("bad input", "library contracts: k, mode, doc_ids")
def _library(b: Bench, o: Outcome) -> None:
    code = r"""
import sys
from rag.core.errors import RagError
from rag.retrieval.retriever import Retriever
r = Retriever.load(sys.argv[1])
bad = 0
for kwargs in ({"k": 0}, {"k": -3}, {"k": 2.5}, {"k": "3"}, {"mode": "BM25"}, {"doc_ids": "imu"}):
    try:
        r.search("When was the IMU formed?", **kwargs)
        print("accepted", kwargs); bad += 1
    except RagError:
        pass
    except Exception as exc:
        print("wrong error", kwargs, type(exc).__name__); bad += 1
print("bad", bad)
"""
    proc = subprocess.run([sys.executable, "-c", code, str(b.base_index())], env=b.env, capture_output=True,
                          text=True, timeout=TIMEOUT)
    if "Traceback" in proc.stderr:
        o.traceback = True
        o.fail(proc.stderr.strip().splitlines()[-1][:160])
    elif not proc.stdout.strip().endswith("bad 0"):
        o.fail(proc.stdout.strip().replace("\n", "; ")[:300])


# --- watching folders: `rag index --watch` while the folder misbehaves ---

WATCH_ENV = {"RAG_WATCH_DEBOUNCE_MS": "500", "RAG_WATCH_QUIET_MS": "100"}


class Watching:
    """`rag index CORPUS --index INDEX --watch` in the background (behind `prefix`, a command
    that starts it), its output kept line by line; `stop()` sends SIGTERM, as a service manager does."""

    def __init__(self, b: Bench, o: Outcome, corpus: Path, index: Path, prefix: tuple[str, ...] = ()):
        self.o = o
        self.proc = subprocess.Popen([*prefix, *RAG, "index", str(corpus), "--index", str(index), "--watch"],
                                     cwd=corpus.parent, env={**b.env, **WATCH_ENV}, text=True, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.out: list[str] = []
        self.err: list[str] = []
        self.seen = time.monotonic()
        self._readers = [threading.Thread(target=self._read, args=(s, k), daemon=True)
                         for s, k in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for reader in self._readers:
            reader.start()
        self._parser = ParserMemory(self.proc.pid).__enter__()

    def _read(self, stream, kept: list[str]) -> None:
        for line in stream:
            kept.append(line.rstrip("\n"))
            self.seen = time.monotonic()

    def wait_for(self, words: str, timeout: float = TIMEOUT) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if any(words in line for line in self.out):
                return True
            time.sleep(0.05)
        self.o.fail(f"no line saying {words!r} in {timeout:.0f} s: {self.out[-3:]} {self.err[-3:]}")
        return False

    def settle(self, quiet: float = 2.5, timeout: float = 60.0) -> None:
        """Until nothing has been printed for `quiet` seconds: the last batch is done."""
        deadline = time.monotonic() + timeout
        while time.monotonic() - self.seen < quiet and time.monotonic() < deadline:
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
            self.o.fail("did not stop within 60 s of SIGTERM")
        for reader in self._readers:
            reader.join(5)
        self._parser.__exit__(None, None, None)
        self.o.parser_mb = max(self.o.parser_mb, self._parser.peak / 2**20)
        text = "\n".join(self.out + self.err)
        if "Traceback (most recent call last)" in text:
            self.o.traceback = True
            self.o.fail("traceback: " + text.strip().splitlines()[-1][:160])
        if code != 0:
            self.o.fail(f"exit {code} after SIGTERM: {self.err[-1:]}")
        self.o.key_leaks += count_key(text)

    def lines_about(self, words: str) -> list[str]:
        return [line for line in self.out if words in line]


@contextlib.contextmanager
def watching(b: Bench, o: Outcome, name: str, prefix: tuple[str, ...] = ()) -> Iterator[tuple[Watching, Path, Path]]:
    corpus, index = b.fresh(name)
    w = Watching(b, o, corpus, index, prefix)
    try:
        if w.wait_for("watching"):  # the first sync is done and the model loaded
            yield w, corpus, index
    finally:
        w.stop()
    if not o.traceback:
        o.notes += [line for line in w.out if line][-4:]  # what it said, for the report
    b.check_index(o, index, set())
    o.leftovers += [str(p) for p in corpus.rglob("*") if p.name.startswith("tmp-")]


def out_of_step(o: Outcome, corpus: Path, index: Path) -> None:
    """The index must hold exactly what the folder holds now, text for text (the check a fresh
    `rag index` makes, without loading a model): nothing lost, nothing left behind."""
    from rag.index.store import IndexStore
    from rag.indexing.indexer import content_hash
    from rag.ingest.loaders import load_documents

    on_disk = {d.id: content_hash(d) for d in load_documents([corpus]).documents}
    indexed = {doc_id: meta["hash"] for doc_id, meta in IndexStore(index).read_manifest().documents.items()}
    lost = sorted(d for d in on_disk if d not in indexed)
    stale = sorted(d for d in indexed if on_disk.get(d) != indexed[d])
    if lost:
        o.lost += len(lost)
        o.fail(f"not indexed: {lost[:3]}")
    if stale:
        o.fail(f"indexed but gone or changed on disk: {stale[:3]}")


@case("watch", "files deleted while the watch reads them (20, 0-190 ms after they appear)")
def _watch_deleted_while_read(b: Bench, o: Outcome) -> None:
    with watching(b, o, "watch-deleted") as (w, corpus, index):
        for i in range(20):
            write(corpus / f"flash-{i}.txt", f"Flash note {i}. " * 300)  # 4 KB, a few chunks
            time.sleep(i / 100)
            (corpus / f"flash-{i}.txt").unlink()
        w.settle()
        out_of_step(o, corpus, index)


@case("watch", "a file rewritten every 100 ms for 3 s")
def _watch_changing_file(b: Bench, o: Outcome) -> None:
    with watching(b, o, "watch-changing") as (w, corpus, index):
        before = len(w.out)
        for i in range(30):
            write(corpus / "live.txt", f"Reading {i} of the tide gauge is {i * 7} centimetres.")
            time.sleep(0.1)
        w.settle()
        out_of_step(o, corpus, index)
        batches = len(w.out) - before
        if batches > 8:
            o.fail(f"{batches} syncs for 3 s of writes: the debounce did not gather them")
        o.notes.append(f"{batches} syncs for 30 writes")


@case("watch", "the watched folder removed, then put back")
def _watch_folder_removed(b: Bench, o: Outcome) -> None:
    with watching(b, o, "watch-removed") as (w, corpus, index):
        expected = indexed_documents(index)
        shutil.move(corpus, corpus.with_name("away"))
        if w.wait_for("is gone", 10):
            b.check_index(o, index, expected)  # unmounted for a moment: nothing dropped
            if len(w.lines_about("is gone")) != 1:
                o.fail(f"not one line: {w.lines_about('is gone')}")
        shutil.move(corpus.with_name("away"), corpus)
        write(corpus / "back.txt", "The folder came back with a note about the harbour.")
        w.wait_for("added back.txt", 15)
        w.settle()
        out_of_step(o, corpus, index)


@case("watch", "a file the watch may not read (permission denied)")
def _watch_permission_denied(b: Bench, o: Outcome) -> None:
    # Root reads any file: the watch then runs without the capabilities that let it, so the mode bits hold.
    prefix = ("setpriv", "--bounding-set=-dac_override,-dac_read_search") if os.geteuid() == 0 else ()
    with watching(b, o, "watch-denied", prefix) as (w, corpus, index):
        secret = write(corpus / "private.txt", "Salaries for next year.")
        secret.chmod(0o000)
        if w.wait_for("private.txt", 10) and len(w.lines_about("private.txt")) != 1:
            o.fail(f"not one line: {w.lines_about('private.txt')}")
        write(corpus / "after.txt", "Written after the unreadable file: still indexed.")
        w.wait_for("added after.txt", 10)
        if "private.txt" in indexed_documents(index):
            o.fail("an unreadable file was indexed")
        secret.chmod(0o644)  # readable again: the next change brings it in
        write(corpus / "after.txt", "Written after the unreadable file, then edited.")
        w.wait_for("added private.txt", 10)


# --- the web page, as a program (not the page) calls it ---

@contextlib.contextmanager
def web_server(b: Bench, o: Outcome, name: str, *flags: str) -> Iterator[tuple[str, Path, Path]]:
    """`rag serve` on a free port over a private copy of the corpus and index: its URL, the corpus
    and the file its stderr goes to. Its stderr is checked for tracebacks and the key at the end."""
    import httpx

    corpus, index = b.fresh(name)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log, uploads = b.work / f"{name}.stderr", b.work / f"{name}-uploads"
    with open(log, "w") as err:
        proc = subprocess.Popen([*RAG, "serve", "--port", str(port), "--index", str(index), *flags],
                                cwd=b.work, env={**b.env, "RAG_CORPUS_DIR": str(corpus), "GRADIO_TEMP_DIR": str(uploads)},
                                stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                if httpx.get(url + "/gradio_api/info", timeout=5).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"rag serve did not start: {log.read_text()[-300:]}")
            time.sleep(0.5)
        yield url, corpus, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        text = log.read_text(errors="replace")
        if "Traceback (most recent call last)" in text:
            o.traceback = True
            o.fail("traceback in the server log")
        o.key_leaks += count_key(text)
        b.check_index(o, index, set())
        o.leftovers += [str(p) for p in uploads.rglob("*") if p.is_file()]  # stopped by SIGTERM, it cleans up


COLLECTION = "default"  # the Documents panel's events act on the collection picked on the page


def page_event(url: str, elem_id: str | None, trigger: str, data: list, session: str) -> dict:
    """One of the page's events through Gradio's queue, as any program may call it."""
    import httpx

    config = httpx.get(url + "/config", timeout=30).json()
    ids = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}
    index = next(i for i, d in enumerate(config["dependencies"])
                 if (elem_id is None and d.get("api_name") == trigger)
                 or any(ids.get(t) == elem_id and e == trigger for t, e in d["targets"]))
    httpx.post(url + "/gradio_api/queue/join", timeout=30, json={
        "data": data, "fn_index": index, "session_hash": session, "event_data": None, "trigger_id": None,
    }).raise_for_status()
    with httpx.stream("GET", url + "/gradio_api/queue/data", params={"session_hash": session}, timeout=TIMEOUT) as s:
        for line in s.iter_lines():
            if line.startswith("data:") and json.loads(line[5:]).get("msg") == "process_completed":
                return json.loads(line[5:])
    raise RuntimeError("the event never completed")


def web_upload(url: str, name: str, data: bytes, headers: dict[str, str] | None = None):
    import httpx

    return httpx.post(url + "/gradio_api/upload", files={"files": (name, data)}, headers=headers or {}, timeout=60)


def served(url: str, path: str) -> bool:
    import httpx

    return httpx.get(f"{url}/gradio_api/file={path}", timeout=30).status_code == 200


@case("web page", "a title's Markdown and markup in the removal question")
def _web_title(b: Bench, o: Outcome) -> None:
    import httpx

    with web_server(b, o, "web-title") as (url, _, _):
        title = "![x](http://127.0.0.1:9/pixel.png) [click](http://127.0.0.1:9/) <img src=x onerror=alert(1)>"
        (path,) = web_upload(url, "beacon.md", f'---\ntitle: "{title}"\n---\n\nThe beacon is kept by Halima.\n'
                             .encode()).json()
        page_event(url, "upload", "upload", [[{"path": path, "orig_name": "beacon.md",
                                               "meta": {"_type": "gradio.FileData"}}], COLLECTION], "s1")
        page_event(url, None, "listing", [COLLECTION], "s1")
        asked = page_event(url, "remove", "click", ["uploads/beacon.md", COLLECTION], "s1")["output"]["data"][2]
        config = httpx.get(url + "/config", timeout=30).json()
        kind = next(c["type"] for c in config["components"] if c.get("props", {}).get("elem_id") == "confirm-text")
        if kind == "markdown":
            o.fail("the removal question is rendered as Markdown: a title's image is fetched, its links are live")
        if "<img" in str(asked) or "<a " in str(asked):
            o.fail(f"markup from the title reached the page: {str(asked)[:160]}")


@case("web page", "an upload stored then removed, one refused, one never handled: any copy left")
def _web_cache(b: Bench, o: Outcome) -> None:
    with web_server(b, o, "web-cache") as (url, corpus, _):
        kept, bad = b"The Kilwa harbour master is Amina Said. " + SECRET_WORDS, b"%PDF-1.4 truncated " + SECRET_WORDS
        (kept_path,) = web_upload(url, "kilwa.txt", kept).json()
        (bad_path,) = web_upload(url, "blob.pdf", bad).json()
        web_upload(url, "orphan.txt", b"no event takes this upload")  # gone when the server stops
        page_event(url, None, "listing", [COLLECTION], "s1")
        for path, name in ((kept_path, "kilwa.txt"), (bad_path, "blob.pdf")):
            page_event(url, "upload", "upload", [[{"path": path, "orig_name": name,
                                                   "meta": {"_type": "gradio.FileData"}}], COLLECTION], "s1")
        page_event(url, "confirm-remove", "click", ["uploads/kilwa.txt", COLLECTION], "s1")
        for path in (kept_path, bad_path):
            if served(url, path):
                o.leftovers.append(path)
                o.fail(f"still served at /gradio_api/file={path}")
        copies = [str(p) for p in Path(kept_path).parent.parent.rglob("*") if p.is_file()
                  and SECRET_WORDS in p.read_bytes()] if Path(kept_path).parent.parent.is_dir() else []
        copies += [str(p) for p in corpus.rglob("*") if p.is_file() and SECRET_WORDS in p.read_bytes()]
        if copies:
            o.leftovers += copies
            o.fail(f"the bytes of a removed or refused upload are still on disk: {copies[:2]}")


SECRET_WORDS = b"private-words-8f3a1c"


@case("web page", "uploads to a read-only server, from another site, and over the limit")
def _web_uploads(b: Bench, o: Outcome) -> None:
    with web_server(b, o, "web-read-only", "--read-only") as (url, _, _):
        if web_upload(url, "notes.txt", b"kept by nobody").status_code == 200:
            o.fail("a read-only server took an upload")
    with web_server(b, o, "web-uploads") as (url, _, _):
        if web_upload(url, "notes.txt", b"from elsewhere", headers={"Origin": "https://evil.example"}).status_code == 200:
            o.fail("an upload from another site's page was taken")
        if web_upload(url, "huge.txt", b"x" * 12 * 1024 * 1024).status_code == 200:
            o.fail("a 12 MB file was taken (the upload limit is 10 MB)")


@case("web page", "login guesses for 3 s (--auth)")
def _web_logins(b: Bench, o: Outcome) -> None:
    import httpx

    with web_server(b, o, "web-login", "--auth", "ann:s3cret") as (url, _, _):
        checked, t0 = 0, time.monotonic()
        with httpx.Client() as client:
            while time.monotonic() - t0 < 3.0:
                code = client.post(url + "/login", data={"username": "ann", "password": f"guess{checked}"}).status_code
                checked += code == 400
        o.notes.append(f"{checked / 3.0:.1f} guesses checked per second")
        if checked > 10:
            o.fail(f"{checked} wrong passwords checked in 3 s: no throttling")


@case("web page", "rag serve on 0.0.0.0 with no login warns")
def _web_public(b: Bench, o: Outcome) -> None:
    with web_server(b, o, "web-public", "--host", "0.0.0.0") as (_, _, log):
        pass
    if "without a login" not in log.read_text(errors="replace"):
        o.fail("no warning that anyone reaching the server can upload and remove documents")


@case("web page", "/v1 with API keys: none sent, a reader's upload, a key in the URL, a revoked key")
def _web_api_keys(b: Bench, o: Outcome) -> None:
    import httpx

    from rag.app.access import KeyStore

    with web_server(b, o, "web-api-keys") as (url, _, log):
        keys = KeyStore(b.work / "web-api-keys" / "api-keys.json")  # where `rag keys create` writes beside that index
        key, listing = keys.create("reader")
        api, headers = url + "/v1", {"Authorization": f"Bearer {key}"}
        if httpx.get(api + "/models", timeout=30).status_code != 401:
            o.fail("/v1 answered a request without a key once a key file existed")
        upload = httpx.post(api + "/collections/default/documents", headers=headers, timeout=60,
                            files={"files": ("notes.txt", b"The reader wrote this.")})
        if upload.status_code != 403:
            o.fail(f"a reader's upload got {upload.status_code}, not 403")
        if httpx.get(api + "/models", params={"api_key": key}, timeout=30).status_code != 400:
            o.fail("a key in the URL was accepted")
        keys.revoke(listing["id"])
        if httpx.get(api + "/models", headers=headers, timeout=30).status_code != 401:
            o.fail("a revoked key still worked")
    text = log.read_text(errors="replace")
    secret = key.rsplit("_", 1)[-1]
    if key in text or any(secret[i:i + 12] in text for i in range(len(secret) - 11)):
        o.fail("the API key is in the server's log")


@case("web page", "/v1 originals: a file changed, damaged or deleted after indexing; ids that are paths")
def _web_originals(b: Bench, o: Outcome) -> None:
    import httpx

    from bench.samples import pdf_with_table
    from rag.app.access import KeyStore

    with web_server(b, o, "web-originals") as (url, corpus, _):
        keys_file = b.work / "web-originals" / "api-keys.json"
        key, _ = KeyStore(keys_file).create("reader")
        api, headers = url + "/v1/collections/default/documents", {"Authorization": f"Bearer {key}"}
        notes = corpus / "notes.md"
        notes.write_text("# Notes\n\nThe harbour master is Amina Said.\n", encoding="utf-8")
        ledger = pdf_with_table(corpus / "ledger.pdf", [["Berth", "Fee"], ["East pier", "40"]],
                                before="The Kilwa harbour ledger lists the berths and their fees.")
        indexed = b.rag(o, "index", str(corpus), "--index", str(corpus.parent / "index"))
        if indexed.code != 0:
            o.fail(f"rag index failed: {indexed.err.strip()[:160]}")
            return

        def get(path: str, **params) -> httpx.Response:
            return httpx.get(f"{api}/{path}", params=params, headers=headers, timeout=30)

        if get("notes.md/file").status_code != 200 or get("ledger.pdf/file").status_code != 200:
            o.fail("an indexed, unchanged file was not served")
        notes.write_text("# Notes\n\nThe harbour master is Jomo Said.\n", encoding="utf-8")
        changed = get("notes.md/file")
        if changed.status_code != 404 or "re-index" not in changed.text or "Jomo" in changed.text:
            o.fail(f"a file changed after indexing: {changed.status_code} {changed.text[:120]!r}")
        ledger.write_bytes(ledger.read_bytes()[:300])  # damaged: cut off
        text = get("ledger.pdf").json().get("text", "")
        start = text.find("harbour ledger")
        marks = get("ledger.pdf/highlights", start=start, end=start + 14)
        if get("ledger.pdf/file").status_code != 404:
            o.fail("a damaged PDF was served as the one indexed")
        if marks.status_code != 200 or marks.json().get("page_first") != 1:
            o.fail(f"highlights of a damaged PDF: {marks.status_code} {marks.text[:120]!r}")
        notes.unlink()
        if get("notes.md/file").status_code != 404:
            o.fail("a deleted file was served")
        secret = keys_file.read_text()
        for doc_id in ("../api-keys.json", "..%2Fapi-keys.json", str(keys_file), "/etc/passwd", "corpus/../index"):
            r = get(f"{doc_id}/file")
            if r.status_code != 404 or secret[:40] in r.text or "root:" in r.text:
                o.fail(f"{doc_id!r} answered {r.status_code}")


@case("web page", "a list and a 100 KB string where the removal expects one id")
def _web_bad_calls(b: Bench, o: Outcome) -> None:
    with web_server(b, o, "web-bad-calls") as (url, _, log):
        page_event(url, None, "listing", [COLLECTION], "s1")
        listed = page_event(url, "confirm-remove", "click", [[ARTICLE.name, ARTICLE.name], COLLECTION], "s1")
        page_event(url, "confirm-remove", "click", ["x" * 100_000, COLLECTION], "s1")
        if "choose one document" not in str(listed.get("output", ""))[:500]:
            o.fail(f"a list was not refused in words: {str(listed.get('output'))[:160]}")
    longest = max((len(line) for line in log.read_text(errors="replace").splitlines()), default=0)
    if longest > 1000:
        o.fail(f"a {longest:,}-character line in the server log")


@case("web page", "bidi controls and zero-width characters: question, page, titles")
def _web_bidi(b: Bench, o: Outcome) -> None:
    b.expect_error(o, b.rag(o, "ask", "\u200b\u202e\u2066\u200d", "--index", str(b.base_index())), "empty")
    corpus, index = b.fresh("long-title")
    write(corpus / "ledger.jsonl", json.dumps({"id": "ledger", "title": "Ledger \u202e" + "and more " * 13_000,
                                               "text": "The Kilwa harbour master is Amina Said."}) + "\n")
    b.rag(o, "index", str(corpus), "--index", str(index))
    for command in ("search", "ask"):
        result = b.rag(o, command, "Who is the Kilwa harbour master?", "--index", str(index))
        longest = max((len(line) for line in result.out.splitlines()), default=0)
        if longest > 300:
            o.fail(f"rag {command} printed a {longest:,}-character line (a title in full)")
    with web_server(b, o, "web-bidi") as (url, _, _):
        (path,) = web_upload(url, "quote.txt", "He said \u202e“olleh”\u202c to the harbour master.\n".encode()).json()
        page_event(url, "upload", "upload", [[{"path": path, "orig_name": "quote.txt",
                                               "meta": {"_type": "gradio.FileData"}}], COLLECTION], "s1")
        shown = str(page_event(url, None, "listing", [COLLECTION], "s1")["output"]["data"][0])
        if "\u202e" in shown:
            o.fail("a bidi override reached the page")


def pdf_file(objects: list[bytes]) -> bytes:
    """A PDF of these objects (the first the catalogue), with its cross-reference table."""
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def pdf_bomb(pages: int = 4, repeat: int = 40_000) -> bytes:
    """A valid PDF whose compressed page streams expand to megabytes of text."""
    line = b"BT /F1 9 Tf 20 700 Td (lorem ipsum dolor sit amet consectetur) Tj ET\n"
    stream = zlib.compress(line * repeat, 9)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [" + b" ".join(f"{4 + 2 * i} 0 R".encode() for i in range(pages)) +
               f"] /Count {pages} >>".encode(),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    for i in range(pages):
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {5 + 2 * i} 0 R "
                       f"/Resources << /Font << /F1 3 0 R >> >> >>".encode())
        objects.append(f"<< /Length {len(stream)} /Filter /FlateDecode >>\nstream\n".encode() + stream + b"\nendstream")
    return pdf_file(objects)


def docx_bomb(paragraphs: int = 5_000_000) -> bytes:
    """A valid Word file whose word/document.xml is `paragraphs` one-letter paragraphs (5 million:
    about 530 KB packed, 170 MB unpacked, over 7 GB to parse)."""
    import io
    import zipfile

    import docx

    base = io.BytesIO()
    docx.Document().save(base)
    source = zipfile.ZipFile(io.BytesIO(base.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bomb:
        for info in source.infolist():
            if info.filename != "word/document.xml":
                bomb.writestr(info, source.read(info))
                continue
            xml = source.read(info).decode("utf-8")
            head, tail = xml.split("<w:body>")[0] + "<w:body>", "<w:sectPr" + xml.split("<w:sectPr", 1)[1]
            block = b"<w:p><w:r><w:t>a</w:t></w:r></w:p>" * 10_000
            with bomb.open("word/document.xml", "w", force_zip64=True) as member:
                member.write(head.encode("utf-8"))
                for _ in range(paragraphs // 10_000):
                    member.write(block)
                member.write(tail.encode("utf-8"))
    return out.getvalue()


def small_docx() -> bytes:
    import io

    import docx

    document = docx.Document()
    document.add_heading("Kilwa Harbour Handbook", level=1)
    document.add_paragraph("The Kilwa harbour master is Amina Said.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def zipped(members: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares `width` x `height` one-bit pixels, with 100 KB of data."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([1, 0, 0, 0, 0])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 100_000_000, 9))
            + chunk(b"IEND", b""))


def pdf_with_broken_image() -> bytes:
    """A one-page PDF without text whose only content is a JPEG image of random bytes."""
    junk = os.urandom(20_000)
    ops = b"q 595 0 0 842 0 0 cm /Im1 Do Q"
    return pdf_file([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                     b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
                     b"/Resources << /XObject << /Im1 5 0 R >> >> >>",
                     f"<< /Length {len(ops)} >>\nstream\n".encode() + ops + b"\nendstream",
                     f"<< /Type /XObject /Subtype /Image /Width 2480 /Height 3508 /ColorSpace /DeviceGray "
                     f"/BitsPerComponent 8 /Filter /DCTDecode /Length {len(junk)} >>\nstream\n".encode() + junk
                     + b"\nendstream"])


def text_pdf(pages: list[list[str]]) -> bytes:
    """A PDF with one line of Helvetica a text line, top down, on each page."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [" + b" ".join(f"{4 + 2 * i} 0 R".encode() for i in range(len(pages))) +
               f"] /Count {len(pages)} >>".encode(),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    for i, lines in enumerate(pages):
        ops = b"".join(f"BT /F1 11 Tf 72 {720 - 18 * n} Td ({line}) Tj ET\n".encode() for n, line in enumerate(lines))
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {5 + 2 * i} 0 R "
                       f"/Resources << /Font << /F1 3 0 R >> >> >>".encode())
        objects.append(f"<< /Length {len(ops)} >>\nstream\n".encode() + ops + b"\nendstream")
    return pdf_file(objects)


# --- the table ---

def run(only: list[str] | None = None) -> list[Outcome]:
    bound = parse_memory_bound_mb()
    with tempfile.TemporaryDirectory(prefix="rag-faults-") as tmp:
        bench = Bench(Path(tmp))
        for group, name, fn in CASES:
            if only and group not in only:
                continue
            outcome = Outcome(group, name)
            t0 = time.perf_counter()
            try:
                fn(bench, outcome)
            except Exception as exc:  # noqa: BLE001 - a case that cannot even run is a failure to report
                outcome.fail(f"the case itself failed: {type(exc).__name__}: {exc}")
            outcome.seconds = time.perf_counter() - t0
            if outcome.leftovers:
                outcome.fail(f"left behind: {outcome.leftovers[:3]}")
            if outcome.key_leaks:
                outcome.fail(f"the key appeared {outcome.key_leaks} times")
            if outcome.parser_mb > bound:
                outcome.fail(f"a parser process held {outcome.parser_mb:.0f} MB, over max_parse_memory_mb ({bound} MB)")
            bench.outcomes.append(outcome)
            mark = "ok " if outcome.ok else "FAIL"
            print(f"  {mark} {group:13} {name} ({outcome.seconds:.1f}s)" +
                  ("" if outcome.ok else "\n       " + "\n       ".join(outcome.notes)), flush=True)
        return bench.outcomes


def table(outcomes: list[Outcome]) -> str:
    groups = list(dict.fromkeys(o.group for o in outcomes))
    header = ("| group | cases | failed | tracebacks | documents lost | key occurrences | leftover files | "
              "peak parser memory |")
    rows = [header, "|---|---|---|---|---|---|---|---|"]
    for g in [*groups, "all"]:
        sel = [o for o in outcomes if g in ("all", o.group)]
        peak = max((o.parser_mb for o in sel), default=0.0)
        rows.append(f"| {g} | {len(sel)} | {sum(not o.ok for o in sel)} | {sum(o.traceback for o in sel)} | "
                    f"{sum(o.lost for o in sel)} | {sum(o.key_leaks for o in sel)} | "
                    f"{sum(len(o.leftovers) for o in sel)} | {f'{peak:,.0f} MB' if peak else '-'} |")
    return "\n".join(rows)


def groups() -> list[str]:
    return list(dict.fromkeys(g for g, _, _ in CASES))


def command(args: argparse.Namespace) -> int:
    """`python -m bench faults`: the groups in `args.only` (all when empty), the report to `args.out`
    (default reports/bench/faults.json); the exit code is 1 when any case failed."""
    out = args.out or DEFAULT_OUT
    t0 = time.perf_counter()
    outcomes = run(args.only)
    print()
    print(table(outcomes))
    print(f"\n{len(outcomes)} cases in {time.perf_counter() - t0:.0f} s ({platform.machine()}, {os.cpu_count()} cores)")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"cases": [o.__dict__ for o in outcomes], "table": table(outcomes)}, indent=1,
                              ensure_ascii=False), encoding="utf-8")
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit("run it from the repository root as: python -m bench faults [--only GROUP] [--out FILE]")
