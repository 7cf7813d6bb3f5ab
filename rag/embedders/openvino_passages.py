"""Passages embedded by an OpenVINO graph of the model's own weights.

On 854 realtimeqa_2023 passages, 2 cores with AVX-512 BF16 (passages/s, mean cosine to the
PyTorch fp32 vectors): PyTorch fp32 25.4; PyTorch bf16 autocast 56.5 (0.99998); OpenVINO fp32
41.9 (1.000000); OpenVINO bf16 72.6 (0.999985, lowest 0.99996). OpenVINO fuses each attention
block into one kernel, where PyTorch runs it as separate products that bf16 barely speeds up.

The graph is converted from the PyTorch weights once, by `rag.embedders.openvino_export` in a
child process, and kept in a cache folder named by the weights' hash and the OpenVINO version;
the indexing process then imports neither torch nor sentence-transformers. Only a model whose
sentence vector is the normalised mean of its token vectors is run this way
(`rag.embedders.models.mean_pooled_layout`); the token vectors are those of the same forward
pass, so a passage's sentence vectors are pooled from them as with PyTorch.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import numpy as np

from rag.core.errors import ModelNotFoundError
from rag.embedders.models import ModelLayout
from rag.embedders.pooling import pool_spans

log = logging.getLogger("rag.embedding")

# Passages a forward pass. 16 to 64 ran within noise of each other, and each request holds its
# largest batch's activations: on all of realtimeqa_2023, 16 peaked 117 MB under 32.
BATCH = 16
# A batch is padded to a multiple of this many tokens: the graph compiles and keeps kernels and
# buffers for each shape it meets, and rounding leaves a few dozen shapes instead of hundreds
# (on 5,000 passages 120 MB less at the peak, and no slower).
WIDTH_STEP = 8


def available() -> bool:
    import importlib.util

    return importlib.util.find_spec("openvino") is not None


def native_bf16() -> bool:
    """Whether OpenVINO's CPU plugin computes bf16 natively here."""
    import openvino as ov

    try:
        return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except RuntimeError:
        return False


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rag" / "openvino"


def graph_dir(layout: ModelLayout, root: Path | None = None) -> Path:
    """Where the graph of these weights, converted by this OpenVINO version, is kept."""
    import openvino as ov

    digest = hashlib.sha256()
    for name in sorted(os.listdir(layout.directory)):
        path = layout.directory / name
        if path.is_file() and (name.endswith((".safetensors", ".bin")) or name == "config.json"):
            stat = path.stat()  # size and mtime stand for the bytes: hashing 90 MB each run costs 0.1 s
            digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    return (root or cache_root()) / f"{layout.directory.name}-{digest.hexdigest()[:16]}-ov{ov.get_version().split('-')[0]}"


def ensure_graph(layout: ModelLayout, cache: Path | None = None) -> Path:
    """The folder holding the graph of `layout`'s model, converted first if it is not there."""
    where = graph_dir(layout, cache)
    if (where / "model.xml").is_file():
        return where
    log.info("converting %s to an OpenVINO graph in %s (once)", layout.directory, where)
    done = subprocess.run([sys.executable, "-m", "rag.embedders.openvino_export", str(layout.directory), str(where)],
                          capture_output=True, text=True)
    if done.returncode != 0 or not (where / "model.xml").is_file():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ModelNotFoundError(f"cannot convert {layout.directory} to an OpenVINO graph: {last}; "
                                 'set passage_backend = "torch"')
    return where


def threads() -> int:
    """The cores torch would use: OMP_NUM_THREADS when set, else the cores this process may run on."""
    try:
        wanted = int(os.environ.get("OMP_NUM_THREADS", "0"))
    except ValueError:
        wanted = 0
    return wanted if wanted > 0 else len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class OpenVinoPassages:
    """Normalised passage vectors (and pooled span vectors) from the OpenVINO graph."""

    def __init__(self, layout: ModelLayout, *, precision: str, batch_size: int = BATCH, cache: Path | None = None):
        self.layout = layout
        self.precision = precision  # "fp32" or "bf16"
        self.batch_size = max(1, min(batch_size, BATCH))
        self._cache = cache
        self._lock = threading.Lock()

    @property
    def variant(self) -> str:
        return f"openvino-{self.precision}"

    @cached_property
    def _tokenizer(self):
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.layout.tokenizer_file))
        tokenizer.enable_truncation(self.layout.max_tokens)
        tokenizer.no_padding()
        return tokenizer

    @cached_property
    def _compiled(self):
        import openvino as ov

        where = ensure_graph(self.layout, self._cache)
        core = ov.Core()
        settings = {"INFERENCE_PRECISION_HINT": "bf16" if self.precision == "bf16" else "f32",
                    "INFERENCE_NUM_THREADS": threads(), "PERFORMANCE_HINT": "THROUGHPUT"}
        try:
            compiled = core.compile_model(str(where / "model.xml"), "CPU", settings)
        except RuntimeError as exc:
            raise ModelNotFoundError(f"cannot load the OpenVINO graph in {where}: {str(exc).splitlines()[0]}; "
                                     "delete that folder to convert the model again, or set "
                                     'passage_backend = "torch"') from None
        self._inputs = {port.get_any_name() for port in compiled.inputs}
        log.info("loaded OpenVINO passage graph %s (%s)", where, self.precision)
        return compiled

    def _feeds(self, encodings: list) -> tuple[dict[str, np.ndarray], np.ndarray]:
        longest = max(len(e.ids) for e in encodings)
        width = max(longest, min(-(-longest // WIDTH_STEP) * WIDTH_STEP, self.layout.max_tokens))
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            ids[row, :len(e.ids)] = e.ids
            mask[row, :len(e.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return {k: v for k, v in feeds.items() if k in self._inputs}, mask

    def encode(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]] | None = None, *,
               progress=None) -> tuple[np.ndarray, list[np.ndarray] | None]:
        """Normalised vectors of `texts` and, with `spans`, each text's normalised span vectors
        (float16). `progress(n)` is called as passages are done.

        Texts go longest first in batches of similar length (a batch is padded to its longest);
        each is tokenised once, for the graph and for its spans' offsets. Two requests run at
        once: one is filled and pooled in Python while the other is in the graph."""
        import openvino as ov

        texts = list(texts)
        out = np.zeros((len(texts), self.layout.dim), dtype=np.float32)
        pooled = None if spans is None else [np.zeros((0, self.layout.dim), dtype=np.float16)] * len(texts)
        if not texts:
            return out, pooled
        compiled = self._compiled
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        failed: list[BaseException] = []

        def finished(request, job) -> None:
            rows, encodings, mask = job
            try:
                hidden = request.get_output_tensor(0).data
                weights = mask[:, :, None].astype(np.float32)
                means = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
                out[rows] = means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
                if pooled is not None:
                    for j, i in enumerate(rows):
                        n = len(encodings[j].ids)
                        offsets = np.asarray(encodings[j].offsets, dtype=np.int64).reshape(-1, 2)
                        pooled[i] = pool_spans(hidden[j, :n], offsets, spans[i]).astype(np.float16)
                if progress is not None:
                    progress(len(rows))
            except BaseException as exc:  # raised again in the caller's thread
                failed.append(exc)

        with self._lock:
            queue = ov.AsyncInferQueue(compiled, max(2, compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
            queue.set_callback(finished)
            # Tokenise a block at a time and sort it by tokens: characters order the texts
            # closely, tokens exactly, and a block's encodings are all that is held at once.
            block = self.batch_size * 8
            for at in range(0, len(order), block):
                if failed:
                    break
                chunk = order[at:at + block]
                encodings = self._tokenizer.encode_batch([texts[i] for i in chunk])
                ranked = sorted(range(len(chunk)), key=lambda j: len(encodings[j].ids), reverse=True)
                for b in range(0, len(ranked), self.batch_size):
                    picked = ranked[b:b + self.batch_size]
                    batch = [encodings[j] for j in picked]
                    feeds, mask = self._feeds(batch)
                    queue.start_async(feeds, ([chunk[j] for j in picked], batch, mask))
                    if failed:
                        break
            queue.wait_all()
        if failed:
            raise failed[0]
        return out, pooled
