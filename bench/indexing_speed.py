"""`python -m bench indexing`: `rag index` against a plain sentence-transformers encode of the same
model on the same passages and threads, with the quality each one's vectors give.

    python -m bench indexing --articles 200 --out reports/bench/indexing.json

Two pipelines, each in a fresh process of its own, one after the other (never at the same time),
pinned to the same --threads cores:

- ours: the real `rag index CORPUS --index DIR` over the first --articles articles of the set's
  corpus.jsonl, with default settings.
- plain encode: bench/plain_encode.py loads the model `rag index` used with `SentenceTransformer`
  (the installed copy the index's model name resolves to), `encode`s the very texts our index
  embedded (each chunk's `indexed_text`, read back from the built index), batches of 32, normalised,
  into a FAISS `IndexFlatIP` written to disk.

Seconds run from process start to exit, so both include imports and loading the model (the
OpenVINO graph `rag index` runs passages through is converted before the timing, once a machine,
as a model download would be). Peak RSS is
the largest sum of VmRSS over the process and its children, sampled every 50 ms; VmHWM is the main
process's own high-water mark. Tokens are tiktoken tokens of the passages (the chunker's encoding),
word pieces the model tokenizer's tokens as the model reads them (cut at its max_seq_length).

Quality isolates the vectors: the same questions, embedded once by the plain model in fp32, are
searched exactly (inner product) over each pipeline's vectors of the same passages, ours read back
from our index. Relevance is per document: `own_doc_ids` where the set has it (strict), else
`doc_ids`; only answerable questions whose relevant documents are all among the articles indexed.
Our full retriever (hybrid, reranked as `rag ask` searches) is shown for reference.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from bench.common import Table, machine, write_json
from rag.core.config import Config
from rag.core.errors import DatasetError, RagError

ROOT = Path(__file__).resolve().parent.parent
DATASET = "realtimeqa_2023"
PLAIN_SCRIPT = Path(__file__).with_name("plain_encode.py")
PLAIN_VARIANT = "torch-fp32"  # what sentence-transformers runs by default on a CPU
DEFAULT_VARIANT = "torch-fp32"  # an index whose manifest names no variant was embedded so
MAX_DELTA = 0.005  # how far recall@5 and MRR@10 of our vectors may move from the plain encode's
DEPTH = 10
POLL_SECONDS = 0.05


def default_dataset() -> Path:
    """The shared sets sit beside the repository ($SHARED, as CI names them, else ../shared)."""
    shared = Path(os.environ.get("SHARED") or "../shared")
    return (shared if shared.is_absolute() else ROOT / shared) / "datasets" / DATASET


# --- measuring a process -------------------------------------------------------------------------

@dataclass
class Run:
    seconds: float
    peak_rss_mb: float  # the largest VmRSS summed over the process tree
    hwm_mb: float  # the main process's VmHWM (its own peak resident set)
    cpu_seconds: float  # user + system time of the process and the children it waited for
    returncode: int
    stderr: str


def _status_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                todo += [int(c) for c in Path(f"/proc/{p}/task/{tid}/children").read_text().split()]
            except (OSError, ValueError):
                pass
    return pids


def run_measured(command: list[str], *, env: dict[str, str], cwd: Path, cpus: list[int],
                 timeout: float = 7200) -> Run:
    """Run `command` to its end on `cpus`, sampling its process tree's memory as it goes."""
    peak = hwm = 0
    done = threading.Event()

    def sample(pid: int) -> None:
        nonlocal peak, hwm
        while not done.is_set():
            peak = max(peak, sum(_status_kb(p, "VmRSS:") for p in _tree(pid)))
            hwm = max(hwm, _status_kb(pid, "VmHWM:"))
            done.wait(POLL_SECONDS)

    with tempfile.TemporaryFile() as err:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        # Pinned only when fewer cores than this process has are asked for.
        pin = None if set(cpus) == os.sched_getaffinity(0) else (lambda: os.sched_setaffinity(0, cpus))
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err, preexec_fn=pin)
        sampler = threading.Thread(target=sample, args=(proc.pid,), daemon=True)
        sampler.start()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise RagError(f"{' '.join(command[:3])} took over {timeout:.0f} s; try fewer --articles") from None
        finally:
            done.set()
            sampler.join()
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(seconds, peak / 1024, hwm / 1024, cpu, proc.returncode, stderr)


# --- the dataset ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Question:
    id: str
    text: str
    relevant: frozenset[str]


def first_articles(dataset: Path, n: int | None, out: Path) -> set[str]:
    """The first `n` articles (all when None) of the set's corpus.jsonl, written to `out`; their ids."""
    corpus = dataset / "corpus.jsonl"
    if not corpus.is_file():
        raise DatasetError(f"{dataset} has no corpus.jsonl; give --dataset a directory with corpus.jsonl and qa.jsonl")
    lines = [line for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()][:n]
    if not lines:
        raise DatasetError(f"{corpus} holds no articles")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {str(json.loads(line)["id"]) for line in lines}


def relevance_field(dataset: Path) -> str:
    """`own_doc_ids` (strict) when the set has it, else `doc_ids`."""
    for line in (dataset / "qa.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip() and "own_doc_ids" in json.loads(line):
            return "own_doc_ids"
    return "doc_ids"


def questions_within(dataset: Path, articles: set[str], relevance: str) -> list[Question]:
    """The answerable questions whose relevant documents are all among `articles`."""
    from rag.eval.datasets import load_eval_set

    eval_set = load_eval_set(dataset, relevance=relevance)
    return [Question(q.id, q.question, frozenset(q.doc_ids)) for q in eval_set.answerable
            if q.doc_ids and set(q.doc_ids) <= articles]


# --- quality -------------------------------------------------------------------------------------

def score(questions: list[Question], ranked_doc_ids: list[list[str]]) -> dict[str, float | None]:
    """Recall@5 (a relevant document in the top 5) and MRR@10 over passages ranked per question."""
    from rag.eval import metrics as M

    gains = [M.unit_gains([{d} & q.relevant for d in docs[:DEPTH]]) for q, docs in zip(questions, ranked_doc_ids)]
    return {"recall@5": M.mean([M.recall_at_k(g, 5) for g in gains]),
            "mrr@10": M.mean([M.reciprocal_rank(g, DEPTH) for g in gains])}


def dense_ranking(query_vectors: np.ndarray, vectors: np.ndarray, doc_ids: list[str]) -> list[list[str]]:
    """Exact inner-product search: each question's top passages, as their documents."""
    if not len(query_vectors):
        return []
    scores = query_vectors @ np.asarray(vectors, dtype=np.float32).T
    top = np.argsort(-scores, axis=1, kind="stable")[:, :DEPTH]
    return [[doc_ids[i] for i in row] for row in top]


# --- the run -------------------------------------------------------------------------------------

@dataclass
class Pipeline:
    name: str
    passages: int
    seconds: float
    tokens: int
    word_pieces: int
    peak_rss_mb: float
    hwm_mb: float
    cpu_seconds: float  # less sensitive than seconds to other work on a busy machine
    variant: str
    quality: dict[str, float | None] = field(default_factory=dict)

    @property
    def passages_per_s(self) -> float:
        return self.passages / self.seconds if self.seconds else 0.0


@dataclass
class Result:
    dataset: str
    articles: int
    threads: int
    relevance: str
    questions: int
    ours: Pipeline
    plain: Pipeline
    retriever: dict[str, float | None]
    load_average: dict[str, list[float]]

    @property
    def ratio(self) -> float:
        return self.ours.passages_per_s / self.plain.passages_per_s if self.plain.passages_per_s else 0.0

    @property
    def rss_ratio(self) -> float:
        return self.ours.peak_rss_mb / self.plain.peak_rss_mb if self.plain.peak_rss_mb else 0.0

    def deltas(self) -> dict[str, float | None]:
        return {k: None if self.ours.quality.get(k) is None or self.plain.quality.get(k) is None
                else self.ours.quality[k] - self.plain.quality[k] for k in ("recall@5", "mrr@10")}


def rag_command() -> list[str]:
    script = Path(sys.executable).with_name("rag")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "rag.cli"]


def child_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    # The repository's code, whichever checkout runs the benchmark; the model from its installed copy.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1")
    return env


def run(dataset: Path, *, articles: int | None, threads: int, log=lambda m: None) -> Result:
    from rag.embedders.models import resolve_model
    from rag.index.store import IndexStore
    from rag.text.tokens import count_tokens

    if not dataset.is_dir():
        raise DatasetError(f"no dataset at {dataset}; give --dataset a directory with corpus.jsonl and qa.jsonl")
    cpus = sorted(os.sched_getaffinity(0))[:threads]
    env = child_env(threads)
    load = {"before": [round(x, 2) for x in os.getloadavg()]}
    with tempfile.TemporaryDirectory(prefix="rag-bench-indexing-") as tmp:
        work = Path(tmp)
        ids = first_articles(dataset, articles, work / "corpus.jsonl")
        prepare_passage_graph(log)
        log(f"ours: rag index over {len(ids)} articles on {threads} thread(s)")
        # In a directory of its own: no rag.toml of the caller's applies; RAG_* variables do.
        ours_run = run_measured([*rag_command(), "index", str(work / "corpus.jsonl"), "--index", str(work / "ours")],
                                env=env, cwd=work, cpus=cpus)
        if ours_run.returncode:
            raise RagError(f"`rag index` failed (exit {ours_run.returncode}): {ours_run.stderr.strip()[-400:]}")
        snapshot = IndexStore(work / "ours").load()
        chunks = list(snapshot.chunks)
        texts = [c.indexed_text for c in chunks]
        doc_ids = [c.doc_id for c in chunks]
        ours_vectors = np.array(snapshot.vectors, dtype=np.float32)
        embedder = dict(snapshot.manifest.embedder)
        encoding = str(snapshot.manifest.chunker.get("encoding", "cl100k_base"))
        del snapshot
        model_path = resolve_model(str(embedder["name"]))
        (work / "texts.json").write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")

        log(f"plain encode: {len(texts)} passages with {model_path}")
        plain_run = run_measured([sys.executable, str(PLAIN_SCRIPT), str(work / "texts.json"), model_path,
                                  str(work / "plain.faiss"), str(threads)], env=env, cwd=work, cpus=cpus)
        if plain_run.returncode:
            raise RagError(f"the plain encode failed (exit {plain_run.returncode}): {plain_run.stderr.strip()[-400:]}")
        load["after"] = [round(x, 2) for x in os.getloadavg()]

        import faiss

        plain_index = faiss.read_index(str(work / "plain.faiss"))
        plain_vectors = plain_index.reconstruct_n(0, plain_index.ntotal)

        log("quality: questions embedded once in fp32, exact search over each pipeline's vectors")
        relevance = relevance_field(dataset)
        questions = questions_within(dataset, ids, relevance)
        model = _plain_model(model_path, threads)
        query_vectors = (model.encode([q.text for q in questions], batch_size=32, normalize_embeddings=True,
                                      convert_to_numpy=True).astype(np.float32)
                         if questions else np.zeros((0, ours_vectors.shape[1]), dtype=np.float32))
        tokens = sum(count_tokens(t, encoding) for t in texts)
        word_pieces = sum(len(ids_) for ids_ in model.tokenizer(texts, truncation=True,
                                                                  max_length=model.max_seq_length)["input_ids"])
        variant = ", ".join(embedder.get("variants") or [embedder.get("variant") or DEFAULT_VARIANT])
        ours = Pipeline("ours (rag index)", len(chunks), ours_run.seconds, tokens, word_pieces,
                        ours_run.peak_rss_mb, ours_run.hwm_mb, ours_run.cpu_seconds, variant,
                        score(questions, dense_ranking(query_vectors, ours_vectors, doc_ids)))
        plain = Pipeline("plain encode", int(plain_index.ntotal), plain_run.seconds, tokens, word_pieces,
                         plain_run.peak_rss_mb, plain_run.hwm_mb, plain_run.cpu_seconds, PLAIN_VARIANT,
                         score(questions, dense_ranking(query_vectors, plain_vectors, doc_ids)))
        retriever = _retriever_quality(work / "ours", questions)
    return Result(str(dataset), len(ids), threads, relevance, len(questions), ours, plain, retriever, load)


def prepare_passage_graph(log=lambda m: None) -> None:
    """Convert the model to its OpenVINO graph before the timing, if `rag index` will use one: it
    is made once a machine and kept (rag.embedders.openvino_passages), like a model download."""
    from rag.embedders import openvino_passages
    from rag.embedders.models import mean_pooled_layout, resolve_model

    model = os.environ.get("RAG_EMBEDDING_MODEL") or Config().embedding_model
    layout = mean_pooled_layout(resolve_model(model))
    if os.environ.get("RAG_PASSAGE_BACKEND", "auto") == "torch" or layout is None or not openvino_passages.available():
        return
    where = openvino_passages.ensure_graph(layout)
    log(f"ours: passages through the OpenVINO graph in {where}")


def _plain_model(model_path: str, threads: int):
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    return SentenceTransformer(model_path, device="cpu")


def _retriever_quality(index_dir: Path, questions: list[Question]) -> dict[str, float | None]:
    from rag import Retriever

    retriever = Retriever.load(index_dir)
    return score(questions, [[h.doc_id for h in retriever.search(q.text, k=DEPTH)] for q in questions])


# --- reporting -----------------------------------------------------------------------------------

def failures(result: Result, fail_under_ratio: float | None) -> list[str]:
    problems = []
    if fail_under_ratio is not None and result.ratio < fail_under_ratio:
        problems.append(f"passages/s ratio {result.ratio:.2f} is under --fail-under-ratio {fail_under_ratio:g}")
    for name, delta in result.deltas().items():
        if delta is not None and abs(delta) > MAX_DELTA:
            problems.append(f"{name} of our vectors differs from the plain encode's by {delta:+.4f} "
                            f"(more than {MAX_DELTA})")
    return problems


def last_line(result: Result) -> str:
    return (f"indexing: ours {result.ours.passages_per_s:.1f} passages/s, "
            f"plain encode {result.plain.passages_per_s:.1f} passages/s, ratio {result.ratio:.2f}")


def tables(result: Result) -> list[Table]:
    speed = Table(
        f"Indexing {result.articles} articles of {Path(result.dataset).name} on {result.threads} thread(s) "
        "(whole process: imports, model load, embedding, writing)",
        ["pipeline", "passages", "seconds", "CPU s", "passages/s", "tokens/s", "word pieces/s", "peak RSS MB",
         "VmHWM MB", "variant"],
        [[p.name, p.passages, p.seconds, p.cpu_seconds, p.passages_per_s, p.tokens / p.seconds if p.seconds else 0.0,
          p.word_pieces / p.seconds if p.seconds else 0.0, p.peak_rss_mb, p.hwm_mb, p.variant]
         for p in (result.ours, result.plain)])
    quality = Table(
        f"Quality over {result.questions} answerable questions ({result.relevance}"
        f"{', strict' if result.relevance == 'own_doc_ids' else ''}); questions embedded by the plain model, fp32",
        ["vectors searched", "recall@5", "MRR@10"],
        [[f"{result.ours.name}, exact inner product", *_q(result.ours.quality)],
         [f"{result.plain.name}, exact inner product", *_q(result.plain.quality)],
         ["ours, full retriever (for reference)", *_q(result.retriever)]])
    return [speed, quality]


def _q(quality: dict[str, float | None]) -> list[object]:
    return ["-" if quality.get(k) is None else quality[k] for k in ("recall@5", "mrr@10")]


def render(result: Result) -> str:
    deltas = result.deltas()
    shown = ", ".join(f"{k} {'-' if v is None else f'{v:+.4f}'}" for k, v in deltas.items())
    return "\n\n".join(t.render() for t in tables(result)) + "\n\n" + "\n".join([
        f"delta (ours - plain): {shown}",
        f"peak RSS ratio (ours / plain): {result.rss_ratio:.2f}",
        f"embed variant: ours {result.ours.variant}, plain {result.plain.variant}",
        f"load average (1, 5, 15 min): before {result.load_average['before']}, after {result.load_average['after']}",
    ])


def report(result: Result, problems: list[str]) -> dict:
    return {"created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine(),
            "command": " ".join(["python -m bench", *sys.argv[1:]]),
            **{k: v for k, v in asdict(result).items() if k not in ("ours", "plain")},
            "pipelines": {"ours": {**asdict(result.ours), "passages_per_s": result.ours.passages_per_s},
                          "plain": {**asdict(result.plain), "passages_per_s": result.plain.passages_per_s}},
            "deltas": result.deltas(), "ratio": result.ratio, "rss_ratio": result.rss_ratio,
            "max_delta": MAX_DELTA, "failures": problems, "last_line": last_line(result)}


def command(args: argparse.Namespace) -> int:
    """`python -m bench indexing`: args.dataset, articles, threads, fail_under_ratio, out."""
    log = lambda m: print(f"[{time.strftime('%H:%M:%S')}] {m}", file=sys.stderr, flush=True)
    try:
        result = run(args.dataset or default_dataset(), articles=args.articles, threads=args.threads, log=log)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    problems = failures(result, args.fail_under_ratio)
    print(render(result))
    if args.out:
        write_json(args.out, report(result, problems))
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr, flush=True)
    print(last_line(result), flush=True)
    return 1 if problems else 0
