"""BM25 lexical retrieval over immutable segments, with statistics of the whole live collection.

Tokens are lower-cased words with English stop words removed and Snowball stems (PyStemmer),
the setup bm25s recommends. Each segment stores only what does not depend on the rest of the
collection: its term frequencies (term-major, like a posting list) and its document lengths.
Document frequencies, the document count and the average length are computed at query time
over the live rows of every segment, so a query scores exactly as on one index built from the
same live chunks: no per-segment IDF drift, and tombstoned chunks count for nothing.

The formula is bm25s's default ("lucene"): idf = ln(1 + (N - df + 0.5) / (df + 0.5)),
tf part = tf / (tf + k1 * (1 - b + b * dl / avgdl)), k1 = 1.5, b = 0.75; a query term that
repeats counts once per repetition, as in bm25s.
"""

from __future__ import annotations

import json
import logging
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from rag.core.errors import IndexCorruptError
from rag.index import npy
from rag.text.analysis import analyze

log = logging.getLogger("rag.index.bm25")

K1 = 1.5
B = 0.75


class TermStats:
    """One segment's term frequencies: for term j, `rows[indptr[j]:indptr[j+1]]` (ascending) hold
    it `tf[...]` times; `doc_len[r]` is row r's token count (at least 1, as in bm25s)."""

    FILES = ("vocab.json", "indptr.npy", "rows.npy", "tf.npy", "doc_len.npy")

    def __init__(self, vocab: list[str], indptr: np.ndarray, rows: np.ndarray, tf: np.ndarray,
                 doc_len: np.ndarray):
        self.vocab = vocab
        self.ids = {t: i for i, t in enumerate(vocab)}
        self.indptr, self.rows, self.tf, self.doc_len = indptr, rows, tf, doc_len

    def __len__(self) -> int:
        return len(self.doc_len)

    @classmethod
    def build(cls, texts: Iterable[str]) -> "TermStats":
        ids: dict[str, int] = {}
        term_ids, rows, tfs, lengths = array("i"), array("i"), array("i"), array("q")
        for r, text in enumerate(texts):
            tokens = analyze(text)
            lengths.append(max(len(tokens), 1))
            for term, count in Counter(tokens).items():
                term_ids.append(ids.setdefault(term, len(ids)))
                rows.append(r)
                tfs.append(count)
        vocab = list(ids)
        return cls.from_postings(vocab, np.frombuffer(term_ids, dtype=np.int32), np.frombuffer(rows, dtype=np.int32),
                                 np.frombuffer(tfs, dtype=np.int32), np.frombuffer(lengths, dtype=np.int64))

    @classmethod
    def from_postings(cls, vocab: list[str], term_ids: np.ndarray, rows: np.ndarray, tf: np.ndarray,
                      doc_len: np.ndarray) -> "TermStats":
        # Rows arrive ascending, so a stable sort by term keeps each posting list ascending.
        order = np.argsort(term_ids, kind="stable")
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(np.bincount(term_ids, minlength=len(vocab)), out=indptr[1:])
        return cls(vocab, indptr, rows[order].astype(np.int32), tf[order].astype(np.int32),
                   np.asarray(doc_len, dtype=np.int64))

    @classmethod
    def merge(cls, parts: Sequence[tuple["TermStats", np.ndarray | None]]) -> "TermStats":
        """The statistics of the listed segments' kept rows (`None`: all), rows renumbered in order,
        without re-analysing any text."""
        ids: dict[str, int] = {}
        term_ids, rows, tfs, lengths = [], [], [], []
        offset = 0
        for stats, keep in parts:
            n = len(stats)
            new_row = np.arange(n, dtype=np.int64) if keep is None else np.full(n, -1, dtype=np.int64)
            if keep is not None:
                new_row[keep] = np.arange(len(keep))
            remap = np.fromiter((ids.setdefault(t, len(ids)) for t in stats.vocab), dtype=np.int64,
                                count=len(stats.vocab))
            old_terms = np.repeat(np.arange(len(stats.vocab)), np.diff(stats.indptr))
            r = new_row[np.asarray(stats.rows)]
            alive = r >= 0
            term_ids.append(remap[old_terms[alive]])
            rows.append(r[alive] + offset)
            tfs.append(np.asarray(stats.tf)[alive])
            kept_len = np.asarray(stats.doc_len) if keep is None else np.asarray(stats.doc_len)[keep]
            lengths.append(kept_len)
            offset += len(kept_len)
        if not parts:
            return cls([], np.zeros(1, dtype=np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32),
                       np.zeros(0, np.int64))
        t, r = np.concatenate(term_ids), np.concatenate(rows)
        order = np.lexsort((r, t))  # by term, then row
        vocab = list(ids)
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(np.bincount(t, minlength=len(vocab)), out=indptr[1:])
        return cls(vocab, indptr, r[order].astype(np.int32), np.concatenate(tfs)[order].astype(np.int32),
                   np.concatenate(lengths))

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        j = self.ids.get(term)
        if j is None:
            return None
        start, end = int(self.indptr[j]), int(self.indptr[j + 1])
        return np.asarray(self.rows[start:end]), np.asarray(self.tf[start:end])

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        (path / "vocab.json").write_text(json.dumps(self.vocab, ensure_ascii=False), encoding="utf-8")
        for name, values in (("indptr", self.indptr), ("rows", self.rows), ("tf", self.tf), ("doc_len", self.doc_len)):
            np.save(path / f"{name}.npy", np.asarray(values))

    @classmethod
    def load(cls, path: Path) -> "TermStats":
        try:
            vocab = json.loads((path / "vocab.json").read_text(encoding="utf-8"))
            arrays = [npy.load(path / f"{name}.npy", mmap_mode="r") for name in ("indptr", "rows", "tf", "doc_len")]
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(f"cannot read the BM25 statistics in {path}: {exc}") from None
        indptr, rows, tf, doc_len = arrays
        if (not isinstance(vocab, list) or len(indptr) != len(vocab) + 1 or len(rows) != len(tf)
                or (len(indptr) and int(indptr[-1]) != len(rows)) or indptr.ndim != 1 or doc_len.ndim != 1):
            raise IndexCorruptError(f"the BM25 statistics in {path} do not fit together")
        return cls(vocab, indptr, rows, tf, doc_len)


class LexicalIndex:
    """BM25 over the live rows of several segments. `parts`: (stats, live mask or None, offset of
    the segment's first live row among all live rows, live rank of each row or None)."""

    def __init__(self, parts: Sequence[tuple[TermStats, np.ndarray | None, int, np.ndarray | None]]):
        self._parts = list(parts)
        self._n = 0
        total_len = 0
        for stats, live, _, _ in self._parts:
            lengths = np.asarray(stats.doc_len)
            self._n += len(lengths) if live is None else int(live.sum())
            total_len += int(lengths.sum() if live is None else lengths[live].sum())
        self._avgdl = total_len / self._n if self._n else 1.0
        # Deleted rows, ascending: a query counts and drops them per posting list in O(deleted),
        # where masking every posting list cost O(postings): 1.4x the merged index's BM25 time at
        # a million chunks with one document deleted.
        self._dead = [None if live is None else np.flatnonzero(~np.asarray(live, dtype=bool))
                      for _, live, _, _ in self._parts]

    def __len__(self) -> int:
        return self._n

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, positions among the live rows) best first; only rows sharing a term with the query."""
        terms = analyze(query)
        if not terms or self._n == 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        postings = []  # per part: term -> (rows, tf), live rows only
        df: Counter[str] = Counter()
        for (stats, live, _, _), dead in zip(self._parts, self._dead):
            found = {}
            for term in set(terms):
                p = stats.postings(term)
                if p is None:
                    continue
                n_live = len(p[0]) - (_deleted_among(p[0], dead, live) if dead is not None else 0)
                if n_live:
                    found[term] = p
                    df[term] += n_live
            postings.append(found)
        if not df:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        idf = {t: float(np.log(1 + (self._n - d + 0.5) / (d + 0.5))) for t, d in df.items()}
        all_scores, all_positions = [], []
        for (stats, _, offset, rank), dead, found in zip(self._parts, self._dead, postings):
            if not found:
                continue
            rows_list, weights = [], []
            for term in terms:  # repeats count, in query order, so every row sums in the same order everywhere
                if term not in found:
                    continue
                rows, tf = found[term]
                tf = tf.astype(np.float64)
                dl = np.asarray(stats.doc_len)[rows].astype(np.float64)
                rows_list.append(rows)
                weights.append(idf[term] * tf / (tf + K1 * (1 - B + B * dl / self._avgdl)))
            summed = np.bincount(np.concatenate(rows_list), weights=np.concatenate(weights), minlength=len(stats))
            if dead is not None:
                summed[dead] = 0.0
            hit = np.flatnonzero(summed > 0)
            scores = summed[hit].astype(np.float32)
            hit, scores = _top(hit, scores, k)
            all_scores.append(scores)
            all_positions.append(offset + (hit if rank is None else rank[hit]))
        if not all_scores:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        scores = np.concatenate(all_scores)
        positions = np.concatenate(all_positions).astype(np.int64)
        positions, scores = _top(positions, scores, k)
        return scores, positions


def _deleted_among(rows: np.ndarray, dead: np.ndarray, live: np.ndarray) -> int:
    """How many of a posting list's rows (ascending) are deleted: by binary search for each deleted
    row while they are few against the list, else by reading the live mask at every row."""
    if not len(dead) or not len(rows):
        return 0
    if 16 * len(dead) < len(rows):
        at = np.searchsorted(rows, dead)
        inside = at < len(rows)
        return int(np.count_nonzero(rows[at[inside]] == dead[inside]))
    return len(rows) - int(np.count_nonzero(live[rows]))


def _top(positions: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best by score, ties by position (every tie at the k-th score is considered)."""
    if len(scores) > k:
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        keep = scores >= kth
        positions, scores = positions[keep], scores[keep]
    order = np.lexsort((positions, -scores))[:k]
    return positions[order], scores[order]


class Bm25sIndex:
    """The lexical index of a format-1 index (a bm25s model), read until the next write migrates it."""

    def __init__(self, model, n_docs: int):
        self._model = model
        self._n = n_docs
        self._vocab = model.vocab_dict

    def __len__(self) -> int:
        return self._n

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        terms = [t for t in analyze(query) if t in self._vocab]
        if not terms or self._n == 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        docs, scores = self._model.retrieve([terms], k=min(k, self._n), show_progress=False, n_threads=1)
        docs, scores = docs[0], scores[0]
        keep = scores > 0
        return scores[keep].astype(np.float32), docs[keep].astype(np.int64)

    @classmethod
    def load(cls, path: Path, mmap: bool = True) -> "Bm25sIndex":
        import bm25s

        try:
            n = json.loads((path / "size.json").read_text())["n_docs"]
            model = bm25s.BM25.load(str(path), mmap=mmap, show_progress=False)
        except (OSError, ValueError, KeyError) as exc:
            raise IndexCorruptError(f"cannot read the BM25 index in {path}: {exc}") from None
        return cls(model, n)
