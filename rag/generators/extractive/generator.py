"""The offline default: answer with the retrieved sentences that best answer the question.

No language model is involved, so nothing can be invented: every answer sentence is a verbatim
quote from a passage and carries its citation. Each candidate sentence is scored by

    support = w * cosine(question, best clause of the sentence)   (embedding model already loaded)
            + (1 - w) * coverage(IDF-weighted question terms in the sentence; part credit in the one before)
            + a bonus if the sentence holds the kind of thing asked for (a year for "when", ...)
            - a penalty when the sentence (with the one before) lacks a number the question names
            (at least `structure_support` for the title, date line or photo caption when the question asks for one)

with the weights of an `ExtractiveWeights` (`w` is its `cosine_weight`), and the answer abstains
when the best support is below `threshold` (calibrated on the eval sets; see README "Quality").
Among the sentences within `answer_margin` of the best, the one holding the kind of thing asked
for, next to the question's words, is quoted first (the short-answer extractor's score re-orders
them; a sentence that is itself a question falls back); this moves the quote, never the confidence.
A second sentence is added when it scores nearly as well and brings terms of the question the
first one lacks, so two-part answers stay whole; a question of two parts ("who ..., and where
...?") gets the best sentence of each. A headline or date line
answers only a question about the document; a follow-up's sentence must hold the user's own words,
not only the conversation's subject; a "why" answered by a sentence opening with a connector
("Thereafter") quotes the sentence before it too. The short answer, the span of a quote that
answers the question in a few words, comes from `rag.generators.extractive.short_answer`; both
read the question through `question_types.question_type`.

What the reader is shown first (`Answer.kind`) is decided by evidence: the short answer in bold
only when the `span_scorer` is at least `short_answer_threshold` sure of it; otherwise the quotes,
introduced as what the documents say; and no answer when the question asks for a count or a
duration that no sentence above the threshold holds.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np

from rag.core.pages import span_pages
from rag.core.records import Answer, Chunk, Citation, Hit, ShortAnswer
from rag.embedders import Embedder, load_embedder
from rag.generators import StreamEvent
from rag.generators.citations import is_abstention, strip_markers, with_markers
from rag.generators.extractive.patterns import (
    ASKS_DATE,
    ASKS_PHOTO,
    ASKS_TITLE,
    LETTERS,
    MENTIONS_NUMBER,
    MENTIONS_TIME,
    NAMED_NUMBER,
    OPENS_QUESTION,
    OPENS_WITH_CONNECTOR,
    PHOTO_CAPTION,
    PROPER_NAME_WORD,
    RELATIVE_DATE_LINE,
    SECOND_QUESTION,
    SHORT_DATE_LINE,
    STATES_CAUSE,
    STREAMED_WORD,
)
from rag.generators.extractive.question_types import QuestionType, SentenceKind, question_type
from rag.generators.extractive.settings import ExtractiveSettings
from rag.generators.extractive.short_answer import Span, extract, ranked_spans
from rag.generators.extractive.span_evidence import span_evidence
from rag.generators.extractive.span_scorer import SpanScorer, load_scorer
from rag.generators.extractive.weights import ExtractiveWeights
from rag.generators.extractive.words import MEANINGFUL_WORDS, QUESTION_WORDS
from rag.generators.prompts import NOT_IN_DOCUMENTS
from rag.ingest.cleaning import parse_date
from rag.text.analysis import analyze, stopwords, word_family
from rag.text.followups import split_context
from rag.text.sentences import clauses, split_sentences


@dataclass(frozen=True)
class _Candidate:
    hit: Hit
    start: int  # offsets inside the chunk
    end: int
    # The sentence before: where "the group" or "it" is usually named, and the cause of a "Thereafter".
    previous_span: tuple[int, int] | None = None

    @property
    def text(self) -> str:
        return self.hit.chunk.text[self.start:self.end]

    @property
    def previous(self) -> str:
        return self.hit.chunk.text[self.previous_span[0]:self.previous_span[1]] if self.previous_span else ""

    @property
    def doc_span(self) -> tuple[str, int, int]:
        c = self.hit.chunk
        return (c.doc_id, c.start + self.start, c.start + self.end)


class ExtractiveGenerator:
    name = "extractive"
    # It scores sentences with the embedding model and reads the vectors stored with the index:
    # the factory hands it the retriever's embedder and the retriever as `sentences`.
    uses_embedder = True

    def __init__(self, settings: ExtractiveSettings | None = None, *, embedder: Embedder | None = None,
                 threshold: float | None = None, sentences: SentenceSource | None = None,
                 weights: ExtractiveWeights | None = None, scorer: SpanScorer | None = None):
        """`embedder`: the model already loaded for retrieval (without one, the default model is
        loaded on first use); `sentences`: where stored sentence vectors are looked up; `weights`:
        the tuned numbers of the answer step; `scorer`: how sure a short answer is (default: the
        settings' `short_answer_scorer`)."""
        self.settings = settings or ExtractiveSettings()
        self.weights = weights if weights is not None else ExtractiveWeights()
        self._embedder = embedder
        self._sentences = sentences
        self.threshold = self.settings.abstain_threshold if threshold is None else threshold
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.scorer = scorer if scorer is not None else load_scorer(self.settings.short_answer_scorer)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = load_embedder()
        return self._embedder

    def generate(self, question: str, hits: Sequence[Hit]) -> Answer:
        t0 = time.perf_counter()
        own, context = split_context(question)
        parts = _parts(own)
        if len(parts) > 1:
            # Each part of "who founded it, and where were they based?" gets its own best sentence.
            per_part = [self.score_sentences(f"{p} ({context})" if context else p, hits, own=p) for p in parts]
            scored = sorted((sc[0] for sc in per_part if sc), key=lambda sc: -sc[0])
        else:
            scored = self.score_sentences(question, hits, own=own)
        timings = {"generate_ms": 0.0}
        confidence = scored[0][0] if scored else 0.0
        if not scored or confidence < self.threshold:
            best = confidence
            timings["generate_ms"] = (time.perf_counter() - t0) * 1000
            return Answer(question=question, text=NOT_IN_DOCUMENTS, hits=tuple(hits), abstained=True,
                          timings=timings, generator=self.name, confidence=best,
                          notes=(f"best support {best:.2f} is below the threshold {self.threshold:.2f}",),
                          reason=f"no sentence supports an answer well enough ({best:.2f} < {self.threshold:.2f})")
        if len(parts) > 1:
            chosen: list[tuple[float, _Candidate]] = []
            for part in per_part:
                if not part or part[0][0] < self.threshold:
                    continue
                # A sentence already quoted may answer this part too ("formed by Uzbeks based in ...").
                spans = {c.doc_span for _, c in chosen}
                if any(sc >= part[0][0] - self.weights.second_sentence_margin for sc, c in part if c.doc_span in spans):
                    continue
                if len(chosen) < self.weights.max_sentences and not _overlaps(part[0][1], chosen):
                    chosen.append(part[0])
        else:
            chosen = self._choose(question, own, _prefer_answers(question, own, scored, self.weights))
        span = self._short_span(own, parts, chosen, question, hits)
        if isinstance(span, NoSpan) and span.declines:
            # The best sentences count nothing asked for; a less well matched one above the threshold
            # may ("Visits to all three libraries: 312,480" for "how many visits").
            for score, cand in scored:
                if score < self.threshold:
                    break
                if cand not in (c for _, c in chosen):
                    found = self._short_span(own, parts, [(score, cand)], question, hits)
                    if not isinstance(found, NoSpan):
                        chosen, span = [(score, cand)], found
                        break
        # A citation's support is the sentence's own score, not the preference that chose it.
        base = {id(c): sc for sc, c in scored}
        chosen = [(base.get(id(c), confidence), c) for _, c in chosen]
        # Reading order inside a document reads better than score order.
        chosen.sort(key=lambda sc: (sc[1].hit.rank, sc[1].doc_span[1]))
        citations, parts_text = [], []
        for marker, (score, cand) in enumerate(chosen, 1):
            c = cand.hit.chunk
            first, last = span_pages(c.metadata, c.start + cand.start, c.start + cand.end)
            citations.append(Citation(marker=marker, chunk_id=c.id, doc_id=c.doc_id, start=c.start + cand.start,
                                      end=c.start + cand.end, quote=cand.text, title=c.title, support=score,
                                      page_start=first, page_end=last, url=str(c.metadata.get("url") or "")))
            # Bracketed numbers in the document ("[9]", Wikipedia-style "[1][2]") would read as
            # citations of passages that do not exist; the quote in the citation keeps them.
            parts_text.append(with_markers(strip_markers(cand.text), [marker]))
        candidate = None
        if isinstance(span, NoSpan) and span.declines:
            # "How many people were injured": sentences about the attack that count nothing injured
            # are the closest passages, not an answer.
            timings["generate_ms"] = (time.perf_counter() - t0) * 1000
            return Answer(question=question, text=NOT_IN_DOCUMENTS, hits=tuple(hits), abstained=True,
                          timings=timings, generator=self.name, confidence=confidence, reason=span.reason)
        if isinstance(span, NoSpan):
            reason = span.reason
        else:
            cand, sp, kind, sure, evidence = span
            cite = next(ci for (_, c), ci in zip(chosen, citations) if c.doc_span == cand.doc_span)
            candidate = ShortAnswer(cite.quote[sp.start:sp.end], cite.marker, cite.doc_id, cite.start + sp.start,
                                    cite.start + sp.end, kind, confidence=sure, evidence=evidence)
            threshold = self.settings.short_answer_threshold
            reason = (f"the words \"{candidate.text}\" answer the question (confidence {sure:.2f})" if sure >= threshold
                      else f"no short answer is certain enough: the best, \"{candidate.text}\", has confidence "
                           f"{sure:.3f}, below {threshold:.3f}")
        short = candidate if candidate is not None and candidate.confidence >= self.settings.short_answer_threshold \
            else None
        text = " ".join(parts_text) if short is not None else self.settings.quote_intro + " ".join(parts_text)
        timings["generate_ms"] = (time.perf_counter() - t0) * 1000
        return Answer(question=question, text=text, citations=tuple(citations), hits=tuple(hits),
                      abstained=False, timings=timings, generator=self.name, confidence=confidence,
                      short_answer=short, reason=reason, short_candidate=candidate)

    def _choose(self, question: str, own: str, scored: list[tuple[float, _Candidate]]
                ) -> list[tuple[float, _Candidate]]:
        w = self.weights
        chosen = [scored[0]]
        covered = set(_terms(question)) & set(_analyze(scored[0][1].text))
        for score, cand in scored[1:]:
            if len(chosen) >= w.max_sentences or score < scored[0][0] - w.second_sentence_margin:
                break
            new_terms = (set(_terms(question)) & set(_analyze(cand.text))) - covered
            if new_terms and not _overlaps(cand, chosen):
                chosen.append((score, cand))
                covered |= new_terms
        top_score, top = chosen[0]
        if question_type(own).asks_reason and top.previous_span and OPENS_WITH_CONNECTOR.match(top.text):
            # "Thereafter, the IMU settled in Pakistan": the reason is what came before.
            before = _Candidate(top.hit, *top.previous_span)
            chosen = [(top_score, before), (top_score, top)]
        return chosen

    def _short_span(self, own: str, parts: list[str], chosen: list[tuple[float, _Candidate]],
                    question: str, hits: Sequence[Hit]) -> tuple[_Candidate, Span, str, float, dict[str, float]] | NoSpan:
        """The quoted sentence holding the best span, the span, its kind, confidence and evidence;
        or why no span of the quotes can answer."""
        if len(parts) > 1:
            return NoSpan("a question of two parts is answered by the quotes")
        ordered = sorted(chosen, key=lambda sc: -sc[0])
        top = ordered[0][1]
        if ASKS_TITLE.search(own) and top.text == top.hit.chunk.title:
            return top, Span(0, len(top.text), top.text, 1.0, "title"), "title", 1.0, {}
        pool = [c for _, c in ordered]
        qtype = question_type(own)
        if qtype.kind is None:
            return NoSpan("the question asks for an explanation: the sentence is the answer")
        texts, terms = [c.text for c in pool], set(_terms(question))
        ranked = ranked_spans(question, texts, terms, qtype, self.weights)
        if not ranked and len(qtype.slot) > 1 and ranked_spans(question, texts, terms, qtype, self.weights,
                                                              what_happened=False):
            # "drowned 23 people" for "how many people were killed": a count of the right thing, but
            # the passage says another word for what happened to them; the reader judges the quote.
            return NoSpan(f"the quotes count {qtype.slot[0]} but do not say they were {qtype.slot[1]}")
        if not ranked:
            if requires_span(qtype):
                return NoSpan(f"the passages hold no {_asked(qtype)}", declines=True)
            return NoSpan(f"no words of the quotes are the kind of answer asked for ({qtype.kind})")
        i, span = ranked[0]
        passages = [h.chunk.text for h in hits]
        evidence = span_evidence(qtype, set(_terms(own)), ranked, [c.text for c in pool],
                                 [sc for sc, _ in ordered], self.weights.min_score, passages)
        kind = "choice" if span.kind == "choice" else qtype.kind or ""
        return pool[i], span, kind, self.scorer.confidence(evidence), evidence

    def stream(self, question: str, hits: Sequence[Hit]) -> Iterator[StreamEvent]:
        answer = self.generate(question, hits)
        yield from STREAMED_WORD.findall(answer.text)
        yield answer

    def score_sentences(self, question: str, hits: Sequence[Hit], own: str | None = None
                        ) -> list[tuple[float, _Candidate]]:
        """Every distinct sentence of the hits with its support score, best first.

        `own`: the user's words when `question` carries the conversation's subject too; a
        sentence must speak to them, not only to the subject, to answer."""
        own = own if own is not None else split_context(question)[0]
        w = self.weights
        candidates: list[_Candidate] = []
        seen: set[tuple[str, int, int]] = set()
        for hit in hits:
            spans = split_sentences(hit.chunk.text)
            for i, (s, e) in enumerate(spans):
                cand = _Candidate(hit, s, e, spans[i - 1] if i else None)
                # A sentence saying the documents do not answer is no answer, whatever document says it.
                if (cand.doc_span not in seen and len(analyze(cand.text)) >= w.min_sentence_terms
                        and not is_abstention(cand.text)):
                    seen.add(cand.doc_span)
                    candidates.append(cand)
        if not candidates:
            return []
        q_vec = self.embedder.encode_queries([question])[0]
        # A long sentence's embedding is dominated by its longest part; its clauses are scored too
        # and the sentence takes the best of them.
        pieces = [[c.text, *clauses(c.text)] for c in candidates]
        vecs = self._sentence_vectors([p for ps in pieces for p in ps], hits) @ q_vec
        cosines, i = [], 0
        for ps in pieces:
            cosines.append(float(vecs[i:i + len(ps)].max()))
            i += len(ps)
        # Related forms count as the question's words: "edit" is found in "managing editor".
        sentence_terms = [_families(_analyze(c.text)) for c in candidates]
        idf = _idf(_families(_terms(question)), sentence_terms)
        qtype = question_type(own)
        kind, why = qtype.sentence_kind, qtype.asks_reason
        required = _numbers(question)
        rest = []
        for cand, terms in zip(candidates, sentence_terms):
            coverage = _coverage(idf, terms, _families(_analyze(cand.previous)), w.previous_sentence_credit)
            holds = _has_kind(kind, cand.text, question) or (why and STATES_CAUSE.search(cand.text))
            bonus = w.kind_bonus if holds else 0.0
            penalty = w.missing_number_penalty if required and not required <= _numbers(
                cand.previous + " " + cand.text) else 0.0
            rest.append((1 - w.cosine_weight) * coverage + bonus - penalty)

        def support(i: int, cos: float) -> float:
            score = w.cosine_weight * cos + rest[i]
            return max(score, w.structure_support) if _answers_about_document(question, candidates[i]) else score

        scores = [support(i, cos) for i, cos in enumerate(cosines)]
        rescore = self.settings.sentence_rescore
        if self._sentences is not None and rescore:
            # Stored vectors read each sentence in its passage's context, which blurs its own meaning
            # ("formed" for "founded"); the few best sentences are also embedded on their own and keep
            # the better cosine: a cost bounded by `sentence_rescore`, not by the passages' length.
            top = sorted(range(len(candidates)), key=lambda i: -scores[i])[:rescore]
            top = [i for i in top if scores[i] >= scores[top[0]] - w.rescore_margin]
            own_vecs = self._vectors([candidates[i].text for i in top]) @ q_vec
            for i, cos in zip(top, own_vecs.tolist()):
                scores[i] = support(i, max(cos, cosines[i]))
        scored = list(zip(scores, candidates))
        # Every sentence weighs the question's terms above; these ones cannot answer: a headline or
        # date line (unless the question is about the document), and, for a follow-up, a sentence that
        # names the conversation's subject but none of the user's own words ("who leads it?").
        own_terms = set(_terms(own)) if own != question else set()
        scored = [(score, cand) for score, cand in scored
                  if (not _is_structure(cand, w) or _answers_about_document(own, cand))
                  and (not own_terms or own_terms & set(_analyze(cand.text + " " + cand.previous)))]
        scored.sort(key=lambda sc: (-sc[0], sc[1].hit.rank, sc[1].start))
        return scored

    def _sentence_vectors(self, texts: list[str], hits: Sequence[Hit] = ()) -> np.ndarray:
        # Stored with the index: pooled from each passage's own forward pass when it was indexed,
        # so a question costs lookups, not a model call per sentence (rag.index.sentence_vectors).
        stored: dict[str, np.ndarray] = {}
        if self._sentences is not None:
            for hit in hits:
                wanted = [t for t in dict.fromkeys(texts) if t not in stored]
                if not wanted:
                    break
                stored.update(self._sentences.sentence_vectors(hit.chunk, wanted))
        missing = [t for t in dict.fromkeys(texts) if t not in stored]
        if missing:
            stored.update(zip(missing, self._vectors(missing)))
        return np.stack([stored[t] for t in texts])

    def _vectors(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            for t, v in zip(missing, self.embedder.encode_queries(missing)):
                self._cache[t] = v
        for t in texts:
            self._cache.move_to_end(t)
        while len(self._cache) > 20_000:
            self._cache.popitem(last=False)
        return np.stack([self._cache[t] for t in texts])


class SentenceSource(Protocol):
    def sentence_vectors(self, chunk: Chunk, texts: Collection[str]) -> dict[str, np.ndarray]: ...


@lru_cache(maxsize=1)
def _stop() -> frozenset[str]:
    return frozenset(stopwords() - MEANINGFUL_WORDS)


def _analyze(text: str) -> list[str]:
    return analyze(text, _stop())


def _terms(question: str) -> list[str]:
    return analyze(question, _stop() | QUESTION_WORDS)


def _families(stems: list[str]) -> set[str]:
    return {word_family(s) for s in stems}


def _numbers(text: str) -> set[str]:
    """The numbers a text names, as digits: "the 92nd" names 92."""
    return set(NAMED_NUMBER.findall(text))


def _idf(terms: set[str], candidates: list[set[str]]) -> dict[str, float]:
    """Rarer question terms among the candidate sentences tell more about where the answer is."""
    n = len(candidates)
    return {t: np.log(1 + n / (1 + sum(t in c for c in candidates))) for t in terms}


def _coverage(idf: dict[str, float], sentence_terms: set[str], context_terms: set[str], context_credit: float
              ) -> float:
    """Question terms found in the sentence count fully, those only in the sentence before partly."""
    total = sum(idf.values())
    if not total:
        return 0.0
    got = sum(w * (1.0 if t in sentence_terms else context_credit if t in context_terms else 0.0)
              for t, w in idf.items())
    return got / total


def _answers_about_document(question: str, cand: _Candidate) -> bool:
    text = cand.text
    return bool((ASKS_TITLE.search(question) and text == cand.hit.chunk.title)
                or (ASKS_DATE.search(question) and parse_date(text))
                or (ASKS_PHOTO.search(question) and PHOTO_CAPTION.match(text)))


def _parts(question: str) -> list[str]:
    parts = [p.strip(" ,?") for p in SECOND_QUESTION.split(question)]
    if len(parts) < 2 or not all(OPENS_QUESTION.match(p) and len(p.split()) >= 2 for p in parts):
        return [question]
    return [p + "?" for p in parts]


def _is_date_line(text: str, w: ExtractiveWeights) -> bool:
    line = text.strip().rstrip(".… ").strip()
    if len(line) > w.date_line_chars or not any(ch.isdigit() for ch in line):
        return False
    return bool(parse_date(line) or RELATIVE_DATE_LINE.fullmatch(line) or SHORT_DATE_LINE.fullmatch(line))


def _is_structure(cand: _Candidate, w: ExtractiveWeights) -> bool:
    """The document's headline or a date line: parts of the page, not statements of fact."""
    title = cand.hit.chunk.title.strip()
    return bool(title and cand.text.strip() == title) or _is_date_line(cand.text, w) or _is_headline(cand, w)


def _is_headline(cand: _Candidate, w: ExtractiveWeights) -> bool:
    """The document's first line standing alone above a blank line: its headline, whatever title
    the loader found (a plain-text file is titled by its name)."""
    chunk = cand.hit.chunk
    return (chunk.start + cand.start == 0 and chunk.text[cand.end:cand.end + 2] == "\n\n"
            and len(cand.text.split()) <= w.headline_words)


def _has_kind(kind: SentenceKind | None, sentence: str, question: str) -> bool:
    if kind == "time":
        return bool(MENTIONS_TIME.search(sentence))
    if kind == "number":
        return bool(MENTIONS_NUMBER.search(sentence))
    if kind in ("person", "place"):
        asked = {w.lower() for w in LETTERS.findall(question)}
        return any(m.group().lower() not in asked for m in PROPER_NAME_WORD.finditer(sentence))
    return False


def _prefer_answers(question: str, own: str, scored: list[tuple[float, _Candidate]], w: ExtractiveWeights
                    ) -> list[tuple[float, _Candidate]]:
    """Among the sentences nearly as well supported as the best, the one that holds what is asked for.

    "When was Splatoon 2 released?" is about as well matched by "Splatoon 2 release date slated for
    July ..." as by "Splatoon 2 was released on July 21, 2017", but only the second holds a date; a
    "who" wants the sentence naming a person next to the question's words. The short-answer extractor
    scores each close candidate's best typed span, and that score re-orders them. A sentence that is
    itself a question answers nothing. The answer's confidence stays the best support, so this
    changes which sentence is quoted, never whether the answer abstains."""
    qtype = question_type(own)
    if qtype.kind is None or not scored:
        return scored
    top = scored[0][0]
    close = [(s, c) for s, c in scored if s >= top - w.answer_margin]
    terms = set(_terms(question))
    ranked = []
    for score, cand in close:
        found = extract(own, [cand.text], terms, qtype, w)
        typed = min(found[1].score, w.answer_score_cap) if found else 0.0
        asks = w.question_sentence_penalty if cand.text.rstrip().endswith("?") else 0.0
        ranked.append((score + w.answer_weight * typed - asks, cand))
    ranked.sort(key=lambda sc: (-sc[0], sc[1].hit.rank, sc[1].start))
    return ranked + scored[len(close):]


@dataclass(frozen=True)
class NoSpan:
    """Why no short answer is offered; `declines`: no passage holds the kind of answer only a span
    can give (a count, a duration), so the documents don't say."""

    reason: str
    declines: bool = False


def requires_span(qtype: QuestionType) -> bool:
    """Whether only a span of the asked kind can answer: a count of something named ("how many
    people were injured") or a duration ("how long did it last"); a sentence without one does not."""
    return bool(qtype.slot) or qtype.measure == "long"


def _asked(qtype: QuestionType) -> str:
    if qtype.slot:
        return "number of " + " ".join(qtype.slot)
    return "length of time or distance"


def _overlaps(cand: _Candidate, chosen: list[tuple[float, _Candidate]]) -> bool:
    d, s, e = cand.doc_span
    return any(d == od and s < oe and os < e for _, c in chosen for od, os, oe in [c.doc_span])
