"""Find the chunks relevant to a question: dense (FAISS), lexical (BM25) or both fused."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.backends import Backend, Filters, Key, SearchView, local_backend
from rag.backends.local import LocalBackend, LocalView
from rag.core.collections import DEFAULT_COLLECTION, INDEX_DIR, check_name, default_collections_dir, not_found
from rag.core.errors import ConfigError, QueryError, RagError
from rag.core.records import Chunk, Hit
from rag.embedders import Embedder, EmbedderSettings, load_embedder
from rag.index.library import DocumentInfo, find_document, list_documents
from rag.index.store import IndexSnapshot, IndexStore
from rag.ingest.chunking import ChunkerSettings
from rag.retrieval.rerankers import Reranker
from rag.retrieval.settings import RetrievalSettings
from rag.text.acronyms import asked_acronym, defines
from rag.text.questions import clean_question

log = logging.getLogger("rag.retrieval.retriever")
MODES = ("hybrid", "dense", "bm25")
_WORD = re.compile(r"\w+")
__all__ = ["Filters", "Retrieval", "RetrievalSettings", "Retriever", "check_k"]


@dataclass(frozen=True)
class Retrieval:
    question: str
    hits: list[Hit]
    timings: dict[str, float] = field(default_factory=dict)  # milliseconds per stage


class Retriever:
    """`Retriever.load(index_dir).search("question", k=5)` returns ranked `Hit`s.

    Hybrid mode fuses the dense and BM25 results (`fusion`): by default with reciprocal rank fusion,
    score = w_dense / (rrf_k + rank_dense) + w_bm25 / (rrf_k + rank_bm25); with "scores", each
    method's scores are scaled to [0, 1] over the candidates and added, w_dense * cosine' + w_bm25 *
    bm25' (a passage BM25 did not return counts 0 there).

    The retriever reads no configuration: it takes its `RetrievalSettings`, an embedder, a
    backend and optionally a reranker. `rag.app.factory.retriever(config)` builds one from
    rag.toml and RAG_* settings; `Retriever.load(index_dir)` is the library's shortcut.
    """

    def __init__(self, view: SearchView | IndexSnapshot, embedder: Embedder, settings: RetrievalSettings | None,
                 store: Backend | IndexStore, *, reranker: Reranker | None = None,
                 chunking: ChunkerSettings | None = None):
        """`view` and `store` from a backend; an index version and its store are taken as they are.
        `settings` None: the defaults. `chunking`: the chunker settings a newer index version must
        have been built with for `refresh` to load it (None: those of the version loaded now)."""
        if isinstance(view, IndexSnapshot):
            view = LocalView(view)
        if isinstance(store, IndexStore):
            store = LocalBackend(store.root)
        self._view = view
        self.embedder = embedder
        self.settings = settings or RetrievalSettings()
        self.store = store
        self.chunking = chunking if chunking is not None else ChunkerSettings.from_dict(view.manifest.chunker)
        self._reload_lock = threading.Lock()
        self._rejected: Any = None  # a newer version that failed its checks; not retried
        # Why the live version on disk is not the one answering (None when it is); for the page.
        self.refresh_problem: str | None = None
        self.reranker = reranker

    @classmethod
    def load(cls, index_dir: Path | str = ".rag/index", *, settings: RetrievalSettings | None = None,
             embedder: Embedder | None = None, backend: Backend | None = None,
             reranker: Reranker | None = None, collection: str = DEFAULT_COLLECTION) -> "Retriever":
        """The index at `index_dir` (or in `backend`), searched with `settings` (default: the
        documented defaults) and the embedding model named in the index's manifest (its
        installed copy), unless `embedder` is given. `collection`: a named document collection,
        kept beside `index_dir` (in `collections/`) rather than the default one. It reads no
        rag.toml or RAG_* variables: `rag.app.factory.retriever(config)` is the configured way."""
        if collection != DEFAULT_COLLECTION:
            if backend is not None:
                raise ConfigError("give Retriever.load a backend or a collection, not both")
            folder = default_collections_dir(index_dir) / check_name(collection)
            if not folder.is_dir():
                raise not_found(collection)
            index_dir = folder / INDEX_DIR
        store = backend or local_backend(index_dir)
        view = store.open()
        embedder = embedder or load_embedder(EmbedderSettings(model=view.manifest.embedder["name"]))
        return cls.open(store, embedder, settings, reranker=reranker, view=view)

    @classmethod
    def open(cls, store: Backend, embedder: Embedder, settings: RetrievalSettings | None = None, *,
             reranker: Reranker | None = None, chunking: ChunkerSettings | None = None,
             view: SearchView | None = None) -> "Retriever":
        """The live version of `store`, checked against `embedder` and `chunking` (None: the
        index's own chunker settings): a mismatch is an IndexMismatchError naming each difference."""
        view = view or store.open()
        chunking = chunking or ChunkerSettings.from_dict(view.manifest.chunker)
        _check_compatible(view, embedder, chunking, store)
        return cls(view, embedder, settings, store, reranker=reranker, chunking=chunking)

    @property
    def view(self) -> SearchView:
        """The state of the store this retriever searches (rag.backends)."""
        return self._view

    @property
    def snapshot(self) -> IndexSnapshot:
        """The loaded index version (local backend only: a Milvus collection has no snapshot)."""
        snapshot = getattr(self._view, "snapshot", None)
        if snapshot is None:
            raise AttributeError(f"the {self.store.name} backend has no index snapshot")
        return snapshot

    @property
    def documents(self) -> dict[str, dict]:
        return self._view.manifest.documents

    def list_documents(self) -> list[DocumentInfo]:
        """The documents of the version this retriever searches, by id."""
        return list_documents(self._view.manifest)

    def get_document(self, doc_id: str) -> DocumentInfo:
        return find_document(self._view.manifest, doc_id)

    def __len__(self) -> int:
        return len(self._view)

    def sentence_vectors(self, chunk: Chunk, texts: Collection[str]) -> dict[str, np.ndarray]:
        """Vectors of sentences and clauses of `chunk` stored with the index (rag.index.sentence_vectors);
        none from a backend that does not store them (the generator then embeds those texts)."""
        snapshot = getattr(self._view, "snapshot", None)
        if snapshot is None:
            return {}
        return dict(snapshot.sentences.lookup(chunk, texts))

    def refresh(self) -> bool:
        """Switch to the live index version if another process or thread published a new one.

        The new version passes the same checks as a load (built with this model and these chunk
        settings, whole on disk); one that fails them is not loaded: searches keep using the
        version loaded before, `refresh_problem` says why, and the log says it once."""
        with self._reload_lock:
            path: Any = None
            try:
                path = self.store.version()
                if path == self._view.version:
                    self.refresh_problem = None
                    return False
                if path == self._rejected:
                    return False
                view = self.store.open()
                _check_compatible(view, self.embedder, self.chunking, self.store)
            except RagError as exc:
                self._rejected = path
                self.refresh_problem = (f"the index at {self.store.where} changed, but the new version was not "
                                        f"loaded: {exc} Answers still come from the version loaded before.")
                log.warning("%s", self.refresh_problem)
                return False
            self._view, self._rejected, self.refresh_problem = view, None, None
            return True

    def _distinct(self, chunks: dict[Key, Chunk], vectors: dict[Key, np.ndarray], ranked: list[Key],
                  k: int) -> list[Key]:
        """The best k that each bring something new: a passage nearly identical to a better one
        (cosine >= `dedup_similarity`, 0.98: the same news snippet from two sites; neighbouring chunks
        of one article already reach 0.95), or sharing that share of its words with one (the same
        snippet under two sites' titles, whose headers pull the vectors apart), or mostly inside
        one already chosen (overlapping chunks of one document) is passed over."""
        threshold = self.settings.dedup_similarity
        cap = self.settings.max_chunks_per_document
        if threshold >= 1.0 and not cap:
            return ranked[:k]
        chosen: list[Key] = []
        per_doc: dict[str, int] = {}
        seen_words: dict[Key, set[str]] = {}

        def words(key: Key) -> set[str]:
            if key not in seen_words:
                seen_words[key] = set(_WORD.findall(chunks[key].text.lower()))
            return seen_words[key]

        overflow: list[Key] = []  # passed over only for their document's cap: used if nothing else is left
        for p in ranked:
            if len(chosen) == k:
                break
            c = chunks[p]
            if threshold < 1.0:
                if any(_mostly_inside(c, chunks[q]) or _same_words(words(p), words(q), threshold) for q in chosen):
                    continue
                if chosen and float(np.max(np.stack([vectors[q] for q in chosen]) @ vectors[p])) >= threshold:
                    continue
            if cap and per_doc.get(c.doc_id, 0) >= cap:
                overflow.append(p)
                continue
            per_doc[c.doc_id] = per_doc.get(c.doc_id, 0) + 1
            chosen.append(p)
        return chosen + overflow[:k - len(chosen)]

    def _by_document(self, chunks: dict[Key, Chunk], ordered: list[Key], score) -> list[Key]:
        """Chunks re-ranked with their document's evidence: each chunk's score plus
        `document_weight` times the sum of its document's three best candidate scores, so a
        document that matches in several places ranks above a lone lucky passage. The order
        inside one document never changes."""
        weight = self.settings.document_weight
        if not weight or not ordered:
            return ordered
        best: dict[str, list[float]] = {}
        for p in ordered:  # best first
            scores = best.setdefault(chunks[p].doc_id, [])
            if len(scores) < 3:
                scores.append(score(p))
        evidence = {d: sum(s) for d, s in best.items()}
        return sorted(ordered, key=lambda p: (-(score(p) + weight * evidence[chunks[p].doc_id]), p))

    def search(self, question: str, k: int | None = None, *, mode: str | None = None,
               doc_ids: Collection[str] | None = None, date_from: str | None = None,
               date_to: str | None = None) -> list[Hit]:
        return self.retrieve(question, k, mode=mode, doc_ids=doc_ids, date_from=date_from, date_to=date_to).hits

    def retrieve(self, question: str, k: int | None = None, *, mode: str | None = None,
                 doc_ids: Collection[str] | None = None, date_from: str | None = None,
                 date_to: str | None = None) -> Retrieval:
        question = clean_question(question, self.settings.max_question_chars)
        k = check_k(self.settings.k if k is None else k)
        mode = self.settings.mode if mode is None else mode
        if mode not in MODES:
            raise QueryError(f"mode must be one of {', '.join(MODES)} (lower case), not {mode!r}")
        filters = Filters(_doc_id_set(doc_ids), _date("date_from", date_from), _date("date_to", date_to))
        view = self._view  # one version for the whole query, even if a reload happens meanwhile
        timings: dict[str, float] = {}
        n = len(view)
        if n == 0:
            return Retrieval(question, [], timings)
        depth = max(k, self.settings.candidate_depth)

        t = time.perf_counter()
        query = self.embedder.encode_queries([question])[0] if mode != "bm25" else None
        timings["embed_ms"] = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        # A backend that filters while searching returns `depth` that pass; the local one
        # searches everything when filtered. The filters are checked here again either way.
        dense_rank: dict[Key, int] = {}
        if query is not None:
            dense_rank = {p: r for r, p in enumerate(view.dense(query, depth, filters))}
        bm25_rank: dict[Key, int] = {}
        bm25_score: dict[Key, float] = {}
        if mode != "dense":
            found = view.lexical(question, depth, filters)
            bm25_rank = {p: r for r, (p, _) in enumerate(found)}
            bm25_score = dict(found)

        pool = list({**dense_rank, **bm25_rank})
        chunks = {p: c for p, c in zip(pool, view.chunks(pool)) if filters.accepts(c)}
        candidates = [p for p in pool if p in chunks]
        # Cosine for every candidate, also those only BM25 found: the abstention decision needs it,
        # and de-duplication compares candidates by it.
        keys = sorted(candidates)
        vectors = dict(zip(keys, view.vectors(keys))) if keys else {}
        dense_score = {p: float(vectors[p] @ query) for p in keys} if query is not None else {}
        c = self.settings
        # What the dense side ranks by: the passage's vector, or its best sentence (small-to-big).
        dense_match, sentence_score = dense_score, {}
        if query is not None and c.small_to_big and keys:
            best = view.best_piece_cosines(keys, query)
            if best is not None:
                sentence_score = {p: float(b) for p, b in zip(keys, best.tolist()) if b == b}  # NaN: none stored
                dense_match = {p: sentence_score.get(p, dense_score[p]) for p in keys}
                by_sentence = sorted(keys, key=lambda p: (-dense_match[p], p))[:depth]
                dense_rank = {p: r for r, p in enumerate(by_sentence)}

        scaled = _scaled_sum(candidates, [(c.dense_weight, dense_match), (c.bm25_weight, bm25_score)]) \
            if mode == "hybrid" and c.fusion == "scores" else None

        def fused(p: Key) -> float:
            if mode == "dense":
                return dense_match[p]
            if mode == "bm25":
                return bm25_score.get(p, 0.0)
            if scaled is not None:
                return scaled[p]
            s = 0.0
            if p in dense_rank:
                s += c.dense_weight / (c.rrf_k + dense_rank[p] + 1)
            if p in bm25_rank:
                s += c.bm25_weight / (c.rrf_k + bm25_rank[p] + 1)
            return s

        ordered = self._by_document(chunks, sorted(candidates, key=lambda p: (-fused(p), p)), fused)
        acronym = asked_acronym(question)
        if acronym:  # the passage that spells it out is the answer, whatever else scores higher
            ordered.sort(key=lambda p: not defines(chunks[p].text, acronym))
        rerank_score: dict[int, float] = {}
        if self.reranker is not None and ordered:
            t_rerank = time.perf_counter()
            head = ordered[:max(k, self.settings.rerank_depth)]
            rerank_score = dict(zip(head, self.reranker.scores(question, [chunks[p].text for p in head])))
            ordered = sorted(head, key=lambda p: (-rerank_score[p], p)) + ordered[len(head):]
            timings["rerank_ms"] = (time.perf_counter() - t_rerank) * 1000
        ranked = self._distinct(chunks, vectors, ordered, k)
        hits = []
        for rank, p in enumerate(ranked, 1):
            parts = {}
            if p in dense_score:
                parts["dense"] = float(dense_score[p])
            if p in sentence_score:
                parts["sentence"] = sentence_score[p]
            if mode != "dense":
                parts["bm25"] = bm25_score.get(p, 0.0)
            if p in rerank_score:
                parts["rerank"] = rerank_score[p]
            hits.append(Hit(chunk=chunks[p], score=float(fused(p)), rank=rank, scores_by_retriever=parts))
        timings["search_ms"] = (time.perf_counter() - t) * 1000 - timings.get("rerank_ms", 0.0)
        return Retrieval(question, hits, timings)


def _scaled_sum(keys: list[Key], parts: list[tuple[float, dict[Key, float]]]) -> dict[Key, float]:
    """Sum of weight * score, each method's scores min-max scaled over `keys` (missing: 0 before
    scaling). Cosines and BM25 scores live on unrelated scales; scaled, a passage both methods rate
    highly beats one that only tops one list, and a method sure of its best keeps the lead that
    rank fusion flattens to 1/(k+1) vs 1/(k+2)."""
    total = dict.fromkeys(keys, 0.0)
    if not keys:
        return total
    for weight, scores in parts:
        values = np.array([scores.get(p, 0.0) for p in keys], dtype=np.float64)
        low, span = values.min(), values.max() - values.min()
        if weight and span > 0:
            for p, v in zip(keys, ((values - low) / span).tolist()):
                total[p] += weight * v
    return total


def check_k(k: object) -> int:
    """`k` as an int, or a QueryError: 2.5, "3" and True are not passage counts."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise QueryError(f"k must be a whole number of passages, such as 5 (got {k!r} of type {type(k).__name__})")
    if k < 1:
        raise QueryError(f"k must be at least 1 (got {k})")
    return int(k)


def _doc_id_set(doc_ids: Collection[str] | None) -> frozenset[str] | None:
    if doc_ids is None:
        return None
    if isinstance(doc_ids, (str, bytes)):  # a string is a collection of its characters: never meant
        raise QueryError(f"doc_ids must be a list of document ids, such as [{doc_ids!r}], not a single string")
    try:
        ids = frozenset(doc_ids)
    except TypeError:
        raise QueryError(f"doc_ids must be a list of document ids (got {type(doc_ids).__name__})") from None
    if not all(isinstance(i, str) for i in ids):
        raise QueryError("doc_ids must hold document ids as strings")
    return ids or None


def _date(name: str, value: str | None) -> str | None:
    if value is not None and not isinstance(value, str):
        raise QueryError(f"{name} must be an ISO date string such as '2014-06-17' (got {type(value).__name__})")
    return value or None


def _check_compatible(view: SearchView, embedder: Embedder, chunking: ChunkerSettings, store: Backend) -> None:
    view.manifest.check_embedder(embedder, chunking.to_dict(), store.where)


def _same_words(wa: set[str], wb: set[str], share: float) -> bool:
    """At least `share` of two passages' distinct words are common to both (Jaccard)."""
    return bool(wa and wb) and len(wa & wb) >= share * len(wa | wb)


def _mostly_inside(a: Chunk, b: Chunk) -> bool:
    """More than half of chunk `a` lies inside chunk `b` of the same document."""
    if a.doc_id != b.doc_id:
        return False
    overlap = min(a.end, b.end) - max(a.start, b.start)
    return overlap > 0.5 * (a.end - a.start)
