"""The typed records that flow through the pipeline.

`Chunk.text == document.text[chunk.start:chunk.end]` always holds; that invariant is what
lets the web page highlight a passage and the evaluation check evidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

AnswerKind = Literal["short", "quote", "none", "text"]
# How each kind of answer is named to a reader, beside the reason it was given.
ANSWER_KIND_LABELS = {"short": "Short answer", "quote": "Quote", "none": "Not in the documents",
                      "text": "Generated answer"}


@dataclass(frozen=True)
class Document:
    id: str
    title: str
    text: str
    source: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Chunk:
    id: str
    doc_id: str
    text: str
    start: int
    end: int
    n_tokens: int
    title: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    # A line naming the chunk's document (title, date, section) that the embedder and the keyword
    # index read above the text when `chunk_context` is on; never part of the span or the answer.
    header: str = ""

    @property
    def indexed_text(self) -> str:
        """What the index sees of this chunk: its header, if any, then its exact text."""
        return f"{self.header}\n{self.text}" if self.header else self.text


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float
    rank: int
    scores_by_retriever: Mapping[str, float] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.chunk.text

    @property
    def doc_id(self) -> str:
        return self.chunk.doc_id

    @property
    def title(self) -> str:
        return self.chunk.title

    @property
    def start(self) -> int:
        return self.chunk.start

    @property
    def end(self) -> int:
        return self.chunk.end

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "score": round(float(self.score), 6),
            "doc_id": self.chunk.doc_id,
            "chunk_id": self.chunk.id,
            "title": self.chunk.title,
            "start": self.chunk.start,
            "end": self.chunk.end,
            "text": self.chunk.text,
            "scores_by_retriever": {k: round(float(v), 6) for k, v in self.scores_by_retriever.items()},
            "metadata": dict(self.chunk.metadata),
        }


@dataclass(frozen=True)
class Citation:
    """The exact supporting span: `quote == document.text[start:end]`."""

    marker: int
    chunk_id: str
    doc_id: str
    start: int
    end: int
    quote: str
    title: str = ""
    support: float = 0.0
    # The pages the quote is on (1-based), for documents with pages (PDF); None otherwise.
    page_start: int | None = None
    page_end: int | None = None
    # The web page the quote is from (its document's URL), for documents fetched from the web.
    url: str = ""

    @property
    def pages(self) -> str:
        """"p. 2", "pp. 2–3", or ""."""
        from rag.core.pages import pages_label

        return pages_label(self.page_start, self.page_end)

    def to_dict(self) -> dict[str, Any]:
        return {
            "marker": self.marker,
            "chunk_id": self.chunk_id,
            "doc_id": self.doc_id,
            "title": self.title,
            "quote": self.quote,
            "start": self.start,
            "end": self.end,
            "page_start": self.page_start,
            "page_end": self.page_end,
            "url": self.url or None,
            "support": round(float(self.support), 4),  # a plain number, also when scored with numpy
        }


@dataclass(frozen=True)
class ShortAnswer:
    """The few words that answer the question ("in the late 1990s"), cut from a cited quote:
    `text == document.text[start:end]` and the span lies inside citation `marker`'s quote."""

    text: str
    marker: int
    doc_id: str
    start: int
    end: int
    kind: str = ""  # what the question asked for: time, number, person, place, name, phrase
    # How likely the span is the answer (0-1), from the span's evidence; it is shown only above a
    # threshold calibrated for precision.
    confidence: float = 0.0
    # The evidence the confidence was computed from (feature name -> value), for reports and tuning.
    evidence: Mapping[str, float] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "marker": self.marker, "doc_id": self.doc_id, "start": self.start,
                "end": self.end, "kind": self.kind, "confidence": round(float(self.confidence), 4)}


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    citations: tuple[Citation, ...] = ()
    hits: tuple[Hit, ...] = ()
    abstained: bool = False
    timings: Mapping[str, float] = field(default_factory=dict)
    usage: Mapping[str, int] = field(default_factory=dict)
    generator: str = ""
    standalone_question: str = ""
    notes: tuple[str, ...] = ()
    # How well the best evidence supports answering (0-1); the abstention decision compares it
    # with a calibrated threshold.
    confidence: float = 0.0
    # None when the question asks for an explanation (why, how), no span of the quotes fits, or the
    # best span is not certain enough to be shown as the answer.
    short_answer: ShortAnswer | None = None
    # Why the answer has the kind it has, in words a reader understands.
    reason: str = ""
    # The best span found, shown or not: what the short-answer threshold is calibrated on.
    short_candidate: ShortAnswer | None = field(default=None, compare=False)

    @property
    def kind(self) -> AnswerKind:
        """What the reader is shown first: "short" (a few words in bold, with the quote that proves
        them), "quote" (the supporting sentences alone: the evidence is there but no span is certain),
        "none" (the documents don't say) or "text" (a language model's verified sentences)."""
        if self.abstained:
            return "none"
        if self.short_answer is not None:
            return "short"
        return "quote" if self.generator == "extractive" else "text"
    # Sentences of the model's answer left out because the passages they cite do not support them.
    dropped: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "standalone_question": self.standalone_question or self.question,
            "answer": self.text,
            "kind": self.kind,
            "reason": self.reason,
            "short_answer": self.short_answer.to_dict() if self.short_answer else None,
            "abstained": self.abstained,
            "generator": self.generator,
            "citations": [c.to_dict() for c in self.citations],
            "hits": [h.to_dict() for h in self.hits],
            "timings": {k: round(float(v), 2) for k, v in self.timings.items()},
            "usage": dict(self.usage),
            "confidence": round(float(self.confidence), 4),
            "notes": list(self.notes),
            "dropped": self.dropped,
        }
