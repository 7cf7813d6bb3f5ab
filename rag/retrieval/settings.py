"""The retriever's settings (the `[retrieval]` section of rag.toml)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetrievalSettings:
    """How a question becomes ranked passages (rag.retrieval.retriever).

    `mode`: hybrid | dense | bm25. `fusion`: "rrf" adds weight / (rrf_k + rank) per method;
    "scores" adds weight * score, each method's scores scaled to [0, 1] over the candidates.
    `small_to_big`: the dense side ranks a passage by its best stored sentence. Passages at
    least `dedup_similarity` similar to a better one are skipped; at most
    `max_chunks_per_document` passages of one document (0: no limit), and a passage gains
    `document_weight` times its document's other candidates' scores. The best `rerank_depth`
    candidates are re-scored when the retriever has a reranker.
    """

    k: int = 5
    mode: str = "hybrid"
    fusion: str = "rrf"
    dense_weight: float = 2.0
    bm25_weight: float = 1.0
    rrf_k: int = 60
    candidate_depth: int = 50
    small_to_big: bool = False
    dedup_similarity: float = 0.98
    max_chunks_per_document: int = 2
    document_weight: float = 0.0
    max_question_chars: int = 4000
    rerank_depth: int = 20
