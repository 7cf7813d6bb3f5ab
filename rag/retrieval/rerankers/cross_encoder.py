"""sentence-transformers' `CrossEncoder` behind the `Reranker` protocol.

A cross-encoder reads question and passage together, so it judges relevance better than the
bi-encoder that found the candidates, at the price of one forward pass a candidate: it re-scores
only the top `rerank_depth`. No reranker ships as a package, so it is off unless `reranker`
names a model (a hub name, or a local directory such as a saved `cross-encoder/ms-marco-MiniLM-L6-v2`).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from functools import cached_property

from rag.core.errors import ModelNotFoundError
from rag.embedders.models import canonical_name, resolve_model

log = logging.getLogger("rag.rerank")


class CrossEncoderReranker:
    def __init__(self, model: str, *, batch_size: int = 32, device: str = "cpu"):
        self.name = canonical_name(model)
        self._source = resolve_model(model)
        self.batch_size = batch_size
        self.device = device
        self._lock = threading.Lock()

    @cached_property
    def model(self):
        with self._lock:
            from sentence_transformers import CrossEncoder

            local = os.path.isdir(self._source)
            try:
                model = CrossEncoder(self._source, device=self.device, local_files_only=local or None)
            except Exception as exc:  # OSError, hub errors, ValueError for bad repos
                raise ModelNotFoundError(
                    f"cannot load reranker {self.name!r}: {str(exc).splitlines()[0]}. Set reranker to a "
                    "local directory holding a cross-encoder, or to \"\" to turn reranking off.") from None
            log.info("loaded reranker %s", self.name)
            return model

    def scores(self, question: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        values = self.model.predict([(question, p) for p in passages], batch_size=self.batch_size,
                                    show_progress_bar=False, convert_to_numpy=True)
        return [float(v) for v in values.reshape(len(passages), -1)[:, -1]]
