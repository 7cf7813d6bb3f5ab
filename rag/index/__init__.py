"""The index directory: versioned segments of chunks, vectors (FAISS), sentence vectors and BM25
statistics, the manifest, the merge policy and the document library."""
