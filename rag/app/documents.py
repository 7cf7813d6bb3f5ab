"""A document's text as the index holds it, put back together from its passages: each passage
sits at its own offsets, so `text[start:end]` is exactly what a search hit or a citation quotes."""

from __future__ import annotations

import numpy as np

from rag.backends.base import Filters
from rag.core.records import Chunk
from rag.retrieval.retriever import Retriever


def chunks_of(retriever: Retriever, doc_id: str) -> list[Chunk]:
    view = retriever.view
    snapshot = getattr(view, "snapshot", None)
    if snapshot is not None:
        found = [c for c in snapshot.chunks if c.doc_id == doc_id]
    else:  # a backend without a local snapshot: ask it for the document's passages
        n = int(retriever.documents.get(doc_id, {}).get("n_chunks", 0)) or 1
        probe = np.ones(retriever.embedder.dim, dtype=np.float32) / np.sqrt(retriever.embedder.dim)
        keys = view.dense(probe, n + 16, Filters(doc_ids=frozenset({doc_id})))
        found = [c for c in view.chunks(keys) if c.doc_id == doc_id]
    return sorted({c.id: c for c in found}.values(), key=lambda c: (c.start, c.end))


def document_text(chunks: list[Chunk]) -> str:
    """The document's text from its passages; characters no passage holds (whitespace the chunker
    skipped between them) are spaces, so every offset stays the document's own."""
    if not chunks:
        return ""
    text = [" "] * max(c.end for c in chunks)
    for c in chunks:
        text[c.start:c.end] = c.text
    return "".join(text)
