"""From a question to ranked passages: dense, BM25 and hybrid search, fusion, de-duplication, the
per-document cap and rerankers."""

from rag.retrieval.settings import RetrievalSettings

__all__ = ["RetrievalSettings"]
