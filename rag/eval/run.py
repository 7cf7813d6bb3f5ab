"""Run an evaluation set through retrieval and generation and aggregate the metrics.

Every question is answered three times, once per retrieval method (the configured one and the
dense-only and BM25-only baselines), so each figure in the report has its references beside it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

from rag.app import factory
from rag.core.config import Config
from rag.core.errors import DatasetError
from rag.core.records import Hit
from rag.embedders import Embedder
from rag.eval import metrics as M
from rag.eval.datasets import EvalQuestion, EvalSet, check_doc_ids
from rag.eval.splits import split_of
from rag.retrieval.retriever import Retriever

METHODS = ("hybrid", "dense", "bm25")
RANK_DEPTH = 10
RECALL_KS = (1, 3, 5, 10)
INDEX_LAYOUT = "sentence-vectors"


@dataclass
class QuestionResult:
    id: str
    method: str
    question: str
    answerable: bool
    answers: list[str]
    hits: list[dict[str, Any]]
    gains: list[float]
    answer: str
    abstained: bool
    confidence: float
    citations: list[dict[str, Any]]
    citation_relevant: list[bool]
    short_answer: str | None
    em: float
    f1: float
    contains: float
    timings: dict[str, float] = field(default_factory=dict)
    kind: str = ""  # what the reader was shown first: short, quote, none or text (Answer.kind)
    split: str = ""  # the half of the set the question belongs to (rag.eval.splits)
    # The best span found, shown or not, its confidence and its F1: what the short-answer
    # threshold is calibrated on.
    candidate: str | None = None
    candidate_confidence: float | None = None
    candidate_f1: float = 0.0
    candidate_evidence: dict[str, float] = field(default_factory=dict)  # what the scorer weighed (rag.eval.fit)


def hit_units(q: EvalQuestion, hit: Hit) -> set[str]:
    units = {f"doc:{hit.doc_id}"} if hit.doc_id in q.doc_ids else set()
    text = M.normalize_whitespace(hit.text)
    units |= {f"evidence:{i}" for i, ev in enumerate(q.evidence) if M.normalize_whitespace(ev) in text}
    return units


def cache_dir_for(corpus: Path, config: Config, root: Path = Path(".rag/eval-cache")) -> Path:
    """One index per corpus and settings; content changes are handled by the incremental update.
    `INDEX_LAYOUT` names what an index holds besides its chunks: an older cache lacks it."""
    key = "|".join([str(corpus.resolve()), config.embedding_model, str(config.chunk_tokens),
                    str(config.chunk_overlap), config.encoding, INDEX_LAYOUT]
                   + (["context"] if config.chunk_context else []))
    return root / f"{corpus.stem}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"


def prepare_retriever(eval_set: EvalSet, config: Config, *, corpus: Path | None = None,
                      index_dir: Path | None = None, log: Callable[[str], None] = print,
                      embedder: Embedder | None = None) -> Retriever:
    if index_dir is None:
        corpus = corpus or eval_set.corpus or config.corpus_dir
        if not Path(corpus).exists():
            raise DatasetError(f"corpus {corpus} does not exist; pass --corpus")
        index_dir = cache_dir_for(Path(corpus), config)
        if config.backend == "milvus":  # one collection per corpus and settings, never the served one
            config = config.replace(milvus_collection=f"{config.milvus_collection}_eval_{index_dir.name.rsplit('-', 1)[1]}")
        indexer = factory.indexer(config, embedder)
        report = indexer.index_paths([corpus], index_dir)
        log(f"index for {corpus}: {report.summary()}")
        retriever = factory.retriever(config, index_dir, embedder=indexer.embedder)
    else:
        retriever = factory.retriever(config, index_dir, embedder=embedder)
    check_doc_ids(eval_set.questions, set(retriever.documents))
    return retriever


def run_question(q: EvalQuestion, method: str, retriever: Retriever, generator, k: int) -> QuestionResult:
    t0 = time.perf_counter()
    retrieval = retriever.retrieve(q.question, max(RANK_DEPTH, k), mode=method)
    answer = generator.generate(retrieval.question, retrieval.hits[:k])
    total = (time.perf_counter() - t0) * 1000
    units = [hit_units(q, h) for h in retrieval.hits]
    by_chunk = {h.chunk.id: h for h in retrieval.hits}
    cited_relevant = []
    for c in answer.citations:
        hit = by_chunk.get(c.chunk_id)
        cited_relevant.append(bool(hit and hit_units(q, hit)) or
                              any(M.normalize_whitespace(ev) in M.normalize_whitespace(c.quote) for ev in q.evidence))
    prediction = "" if answer.abstained else answer.text
    # EM and F1 judge the short answer when there is one: it is what the reader is told first.
    short = None if answer.abstained or answer.short_answer is None else answer.short_answer.text
    scored = prediction if short is None else short
    candidate = None if answer.abstained else answer.short_candidate
    return QuestionResult(
        id=q.id, method=method, question=q.question, answerable=q.answerable, answers=list(q.answers),
        hits=[{"rank": h.rank, "chunk_id": h.chunk.id, "doc_id": h.doc_id, "score": round(h.score, 5),
               "relevant": bool(u)} for h, u in zip(retrieval.hits, units)],
        gains=M.unit_gains(units), answer=answer.text, abstained=answer.abstained, confidence=answer.confidence,
        citations=[c.to_dict() for c in answer.citations], citation_relevant=cited_relevant, short_answer=short,
        em=M.exact_match(scored, q.answers), f1=M.token_f1(scored, q.answers),
        contains=M.answer_contained(prediction, q.answers),
        timings={**retrieval.timings, "generate_ms": answer.timings.get("generate_ms", 0.0), "total_ms": total},
        kind=answer.kind, split=split_of(q.id, q.split),
        candidate=candidate.text if candidate else None,
        candidate_confidence=candidate.confidence if candidate else None,
        candidate_f1=M.token_f1(candidate.text, q.answers) if candidate else 0.0,
        candidate_evidence={k: round(float(v), 6) for k, v in candidate.evidence.items()} if candidate else {},
    )


def aggregate(results: Sequence[QuestionResult], questions: dict[str, EvalQuestion]) -> dict[str, float | None]:
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    out: dict[str, float | None] = {}
    for k in RECALL_KS:
        out[f"retrieval.recall@{k}"] = M.mean([M.recall_at_k(r.gains, k) for r in answerable])
    out["retrieval.mrr@10"] = M.mean([M.reciprocal_rank(r.gains, 10) for r in answerable])
    out["retrieval.ndcg@10"] = M.mean([M.ndcg_at_k(r.gains, questions[r.id].relevant_units, 10) for r in answerable])
    out["answer.em"] = M.mean([r.em for r in answerable])
    out["answer.f1"] = M.mean([r.f1 for r in answerable])
    out["answer.contains"] = M.mean([r.contains for r in answerable])
    out["answer.short_rate"] = M.mean([float(r.short_answer is not None) for r in answerable if not r.abstained])
    cited = [ok for r in answerable for ok in r.citation_relevant]
    out["citation.precision"] = M.mean([float(ok) for ok in cited])
    answered = [r for r in answerable if not r.abstained]
    out["citation.valid_share"] = M.mean([float(any(r.citation_relevant)) for r in answered])
    out["abstention.accuracy"] = M.mean([float(r.abstained) for r in unanswerable])
    out["abstention.false_refusal"] = M.mean([float(r.abstained) for r in answerable])
    out.update(tier_metrics(results))
    for stage in ("embed_ms", "search_ms", "generate_ms", "total_ms"):
        values = [r.timings.get(stage, 0.0) for r in results]
        out[f"latency.{stage}.p50"] = M.percentile(values, 50)
        out[f"latency.{stage}.p95"] = M.percentile(values, 95)
    return out


def tier_metrics(results: Sequence[QuestionResult]) -> dict[str, float | None]:
    """What the reader is shown first, judged: a short answer is right when its F1 reaches
    `M.RIGHT_F1`; a short answer to a question the documents cannot answer is always wrong."""
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    shown = [r for r in results if r.kind == "short"]
    out: dict[str, float | None] = {
        "short.precision": M.mean([float(r.answerable and r.f1 >= M.RIGHT_F1) for r in shown]),
        "short.coverage": M.mean([float(r.kind == "short") for r in answerable]),
        # A quote is introduced as what the documents say; a short answer or a language model's
        # sentences are presented as the answer.
        "short.on_unanswerable": M.mean([float(r.kind in ("short", "text")) for r in unanswerable]),
        "quote.on_unanswerable": M.mean([float(r.kind == "quote") for r in unanswerable]),
        "answer.misleading": M.mean([float(_misleads(r)) for r in results]),
    }
    for kind in ("short", "quote", "none", "text"):
        out[f"tier.{kind}"] = M.mean([float(r.kind == kind) for r in results])
    return out


def _misleads(r: QuestionResult) -> bool:
    """Whether what is shown first is wrong: a wrong short answer, or a quote or text that does not
    hold the answer (on a question the documents cannot answer, anything but "they don't say")."""
    if r.kind == "none":
        return False
    if not r.answerable:
        return True
    return r.f1 < M.RIGHT_F1 if r.kind == "short" else not r.contains


MAX_FALSE_REFUSAL = 0.10  # the calibration bound: declining answerable questions costs users most


def calibration(results: Sequence[QuestionResult], current: float) -> dict[str, float]:
    """Where the abstention threshold should sit on this set: the plain balanced-accuracy optimum, and
    the optimum among thresholds that decline at most MAX_FALSE_REFUSAL of the answerable questions
    (the one `abstain_threshold` is set from; see README "Quality")."""
    answerable = [r.confidence for r in results if r.answerable]
    unanswerable = [r.confidence for r in results if not r.answerable]
    t, bal = M.best_threshold(answerable, unanswerable)
    tb, balb = M.best_threshold(answerable, unanswerable, max_false_refusal=MAX_FALSE_REFUSAL)
    return {"threshold": current, "best_threshold": round(t, 4), "best_balanced_accuracy": round(bal, 4),
            "best_bounded_threshold": round(tb, 4), "best_bounded_balanced_accuracy": round(balb, 4),
            "max_false_refusal": MAX_FALSE_REFUSAL, **short_calibration(results)}


SHORT_PRECISION_TARGET = 0.90


def short_calibration(results: Sequence[QuestionResult], target: float = SHORT_PRECISION_TARGET
                      ) -> dict[str, float | None]:
    """The lowest short-answer threshold whose shown answers reach `target` precision on these
    questions (calibrate on a tuning half: `rag eval --split tune`), and the coverage it gives."""
    found = [(r.candidate_confidence, float(r.answerable and r.candidate_f1 >= M.RIGHT_F1))
             for r in results if r.candidate_confidence is not None]
    t = M.threshold_for_precision(found, target)
    answerable = sum(r.answerable for r in results)
    shown = [right for conf, right in found if t is not None and conf >= t]
    return {"short_precision_target": target, "short_threshold_for_target": None if t is None else round(t, 4),
            "short_coverage_at_target": round(sum(shown) / answerable, 4) if answerable and t is not None else None}


def evaluate(eval_set: EvalSet, config: Config, *, corpus: Path | None = None, index_dir: Path | None = None,
             generator: str | None = None, k: int | None = None, progress: bool = True,
             log: Callable[[str], None] = print, embedder: Embedder | None = None) -> dict[str, Any]:
    """`embedder`: an already loaded model to use instead of loading the configured one."""
    retriever = prepare_retriever(eval_set, config, corpus=corpus, index_dir=index_dir, log=log, embedder=embedder)
    gen_name = generator or config.generator
    # One generator per method, so caches warmed by one method do not flatter another's latency.
    gens = {m: factory.generator(config, gen_name, retriever=retriever) for m in METHODS}
    k = k or config.k
    default = config.retrieval
    methods = [default] + [m for m in METHODS if m != default]
    questions = {q.id: q for q in eval_set.questions}
    retriever.search("warm up the model")  # model load is not query latency
    results: dict[str, list[QuestionResult]] = {m: [] for m in methods}
    jobs = [(m, q) for m in methods for q in eval_set.questions]
    bar = _progress(len(jobs), progress)
    for method, q in jobs:
        results[method].append(run_question(q, method, retriever, gens[method], k))
        bar.update(1)
    bar.close()
    per_method = {m: aggregate(results[m], questions) for m in methods}
    threshold = getattr(gens[default], "threshold", None)
    return {
        "dataset": eval_set.name,
        "dataset_path": str(eval_set.path),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "questions": len(eval_set.questions),
        "answerable": len(eval_set.answerable),
        "unanswerable": len(eval_set.unanswerable),
        "relevance": eval_set.relevance,
        "split": eval_set.split or "all",
        "settings": {"generator": gen_name, "k": k, "retrieval": default, "relevance": eval_set.relevance,
                     "embedding_model": config.embedding_model,
                     "chunk_tokens": config.chunk_tokens, "chunk_overlap": config.chunk_overlap,
                     "abstain_threshold": threshold, "chunks_indexed": len(retriever),
                     "short_answer_threshold": getattr(getattr(gens[default], "settings", None),
                                                       "short_answer_threshold", None)},
        "method": default,
        "metrics": per_method[default],
        "baselines": {m: per_method[m] for m in methods if m != default},
        "calibration": calibration(results[default], threshold) if threshold is not None else None,
        **extractive_weights(gens[default]),
        "_results": {m: [asdict(r) for r in rs] for m, rs in results.items()},
    }


def extractive_weights(generator) -> dict[str, Any]:
    """The extractive generator's tuned weights, so a report says which rules produced its figures."""
    weights = getattr(generator, "weights", None)
    if getattr(generator, "name", None) != "extractive" or not is_dataclass(weights):
        return {}
    return {"extractive_weights": asdict(weights)}


class _NoBar:
    def update(self, n: int) -> None: ...

    def close(self) -> None: ...


def _progress(total: int, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc="evaluating", unit="q", leave=False)
