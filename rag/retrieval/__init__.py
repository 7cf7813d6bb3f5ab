"""From a question to ranked passages: dense, BM25 and hybrid search, fusion, de-duplication, the
per-document cap and rerankers."""
