"""The index directory as a backend: segments with FAISS, BM25 statistics and the chunk store."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np

from rag.backends.base import Filters
from rag.core.errors import IndexCorruptError, IndexNotFoundError
from rag.core.records import Chunk
from rag.index.sentence_vectors import PieceVectors
from rag.index.store import IndexSnapshot, IndexStore, Manifest


class LocalView:
    """One loaded index version; keys are row positions."""

    def __init__(self, snapshot: IndexSnapshot):
        self.snapshot = snapshot
        self.manifest = snapshot.manifest
        self.version = snapshot.path

    def __len__(self) -> int:
        return len(self.snapshot.chunks)

    def dense(self, query: np.ndarray, depth: int, filters: Filters) -> list[int]:
        n = len(self.snapshot.chunks)
        if filters.active:
            depth = n  # filtered after the search: filtered-out candidates must not crowd out the rest
        _, positions = self.snapshot.vector_index.search(query[None, :], min(depth, n))
        return [int(p) for p in positions[0] if p >= 0]

    def lexical(self, question: str, depth: int, filters: Filters) -> list[tuple[int, float]]:
        n = len(self.snapshot.chunks)
        if filters.active:
            depth = n
        scores, positions = self.snapshot.bm25.search(question, min(depth, n))
        return [(int(p), float(s)) for p, s in zip(positions, scores)]

    def chunks(self, keys: Sequence[int]) -> list[Chunk]:
        return [self.snapshot.chunks[p] for p in keys]

    def vectors(self, keys: Sequence[int]) -> np.ndarray:
        return np.asarray(self.snapshot.vectors[np.array(keys, dtype=np.int64)], dtype=np.float32)

    def best_piece_cosines(self, keys: Sequence[int], query: np.ndarray) -> np.ndarray | None:
        sentences = self.snapshot.sentences
        return sentences.best_cosines(keys, query) if sentences else None


class LocalBackend:
    name = "local"

    def __init__(self, root: Path | str):
        self.store = IndexStore(root)
        self.root = self.store.root
        self.where = str(self.store.root)

    def open(self) -> LocalView:
        return LocalView(self.store.load())

    def version(self) -> Path:
        return self.store.current_path()

    def read_manifest(self) -> Manifest:
        return self.store.read_manifest()

    def lock(self) -> AbstractContextManager[None]:
        return self.store.lock()

    def previous(self) -> Manifest | None:
        try:
            # Opened whole, not just its manifest: its segments are carried into the next version,
            # so a damaged one must stop the update rather than be passed on.
            return self.store.load().manifest
        except IndexNotFoundError:
            return None
        except IndexCorruptError as exc:
            raise IndexCorruptError(f"{exc} (the existing index cannot be updated)") from None

    def publish(self, manifest: Manifest, chunks: Sequence[Chunk], vectors: np.ndarray, *,
                added: Collection[str], updated: Collection[str], removed: Collection[str],
                rebuild: bool, approx_threshold: int, sentences: PieceVectors | None = None) -> tuple[int, int]:
        store = self.store
        if rebuild:
            version = store.write(manifest, chunks, vectors, approx_threshold=approx_threshold, sentences=sentences)
        else:
            # Only the new and changed documents are written; the rest stays in its segments.
            version = store.update(manifest, chunks, vectors, replaced=updated, approx_threshold=approx_threshold,
                                     sentences=sentences)
            if store.merge(approx_threshold=approx_threshold):
                version = store.current_path()
        published = store.version_info(version)
        return published.n_chunks, len(published.segments)
