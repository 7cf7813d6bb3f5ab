"""The fair peer of `python -m bench indexing`: what most code does to index passages with
sentence-transformers. Load the model, `encode` the passages (batches of 32, normalised vectors),
add them to a FAISS `IndexFlatIP` and write it to disk.

    python bench/plain_encode.py TEXTS.json MODEL_DIR OUT.faiss THREADS

Run as a script, not through the bench package, so its process imports only what a plain
pipeline imports: the benchmark times it from process start to exit, as it times `rag index`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(texts_path: str, model: str, out: str, threads: str) -> int:
    import faiss
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    # After importing faiss: torch and FAISS may share one OpenMP runtime.
    torch.set_num_threads(int(threads))
    texts = json.loads(Path(texts_path).read_text(encoding="utf-8"))
    encoder = SentenceTransformer(model, device="cpu")
    vectors = encoder.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    index = faiss.IndexFlatIP(int(vectors.shape[1]))
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    faiss.write_index(index, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
