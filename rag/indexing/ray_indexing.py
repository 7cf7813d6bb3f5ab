"""Chunking and embedding of the documents to (re)index as a Ray Data job.

Each actor of the pool loads the configured embedding model the way a single process does
(`load_embedder`, resolved from the locally installed model package; nothing is downloaded)
and turns a batch of documents into their chunks and vectors with the same `Chunker` and the
same `encode_passages`. The driver puts the results back in document order, so the index it
writes is the one a single-process build writes. Loading files, change detection and writing
the index stay on the driver: the content hashes that decide what to re-embed are of the
cleaned text, and the index directory is local to it.

A worker process or node that dies is Ray's to handle: Ray Data restarts the actors of a pool
and retries the batches they held (its defaults for actor pools: `max_restarts=-1`,
`max_task_retries=-1`), so nothing here retries.
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import socket
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from tqdm import tqdm

from rag.core.errors import ConfigError, RagError
from rag.core.records import Chunk, Document
from rag.embedders import EmbedderSettings
from rag.indexing.indexer import too_many_chunks
from rag.ingest.chunking import ChunkerSettings
from rag.ingest.loaders import SkippedFile

log = logging.getLogger("rag.ray")

# Documents per batch: at most this many, and small enough that every actor gets several
# batches (an idle actor while another works through a long tail is the main loss).
MAX_DOCS_PER_BATCH = 256
BATCHES_PER_ACTOR = 4


class RayUnavailableError(ConfigError):
    """`--ray` was asked for, but the package is missing or the cluster cannot be reached."""


@dataclass(frozen=True)
class Prepared:
    """What the job returns for the documents given: chunks and vectors per document id, and
    the documents skipped for having more than `max_file_chunks` chunks."""

    chunks: dict[str, list[Chunk]]
    vectors: dict[str, np.ndarray]
    too_big: list[SkippedFile]

    def vectors_for(self, chunks: Sequence[Chunk]) -> np.ndarray:
        """The vectors of `chunks`, in their order (chunks of one document are consecutive)."""
        parts, position = [], {}
        for c in chunks:
            if c.doc_id not in position:
                position[c.doc_id] = 0
            i = position[c.doc_id]
            parts.append(self.vectors[c.doc_id][i])
            position[c.doc_id] = i + 1
        return np.ascontiguousarray(np.stack(parts), dtype=np.float32)


class ChunkAndEmbed:
    """The Ray Data callable: one instance per actor, holding the model for its whole life."""

    def __init__(self, embedding: EmbedderSettings, chunking: ChunkerSettings, max_file_chunks: int,
                 threads: int = 1):
        # Torch would otherwise start a thread per core of the machine in every actor, and
        # actors sharing a node would fight over the cores Ray gave each of them.
        import torch

        torch.set_num_threads(max(1, threads))
        from rag.embedders import load_embedder
        from rag.ingest.chunking import Chunker

        # Passages always go through the full model (the int8 path is for questions only).
        self.embedder = load_embedder(replace(embedding, query_backend="torch"))
        self.chunker = Chunker.from_settings(chunking, fits=self.embedder.fits)
        self.limit = max_file_chunks

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        docs: list[Document] = [pickle.loads(b) for b in batch["doc"]]
        chunked, skipped = [], []
        for doc in docs:
            chunks = self.chunker.chunk(doc)
            if len(chunks) > self.limit:
                skipped.append(too_many_chunks(len(chunks), self.limit))
                chunks = []
            else:
                skipped.append("")
            chunked.append(chunks)
        texts = [c.indexed_text for chunks in chunked for c in chunks]
        vectors = self.embedder.encode_passages(texts)
        out_chunks, out_vectors, at = [], [], 0
        for chunks in chunked:
            out_chunks.append(pickle.dumps(chunks))
            out_vectors.append(pickle.dumps(vectors[at:at + len(chunks)]))
            at += len(chunks)
        return {"i": list(batch["i"]), "chunks": out_chunks, "vectors": out_vectors, "skipped": skipped}


class RayIndexing:
    """Runs `ChunkAndEmbed` over documents on the Ray cluster at `address`.

    `address`: "local" (or empty) starts a Ray instance in this process for the run; "auto"
    joins the cluster this machine belongs to (RAY_ADDRESS, or the one `ray start` left);
    "host:port" or "ray://host:10001" names a cluster.
    """

    def __init__(self, embedding: EmbedderSettings, chunking: ChunkerSettings, max_file_chunks: int = 10_000,
                 address: str = "local", *, actors: int = 0):
        """Each actor loads the model `embedding` names and chunks with `chunking`; `actors`: 0
        means one per CPU of the cluster."""
        self.embedding = embedding
        self.chunking = chunking
        self.max_file_chunks = max_file_chunks
        self.address = address.strip() or "local"
        self.actors = actors

    def prepare(self, docs: Sequence[Document], *, show_progress: bool = False) -> Prepared:
        if not docs:
            return Prepared({}, {}, [])
        ray = _import_ray()
        started = self._connect(ray)
        try:
            return self._run(ray, list(docs), show_progress)
        finally:
            if started:
                ray.shutdown()

    def _connect(self, ray) -> bool:
        """Joins (or starts) the cluster; True when this call did, so it is left again after."""
        if ray.is_initialized():
            return False
        address = None if self.address == "local" else self.address
        verbose = log.isEnabledFor(logging.INFO)
        # Ray's own notices (token auth on, progress bars off, deprecations) would bury the
        # command's output; -v shows them, and the workers' logs.
        kwargs = {"address": address or "local", "logging_level": logging.INFO if verbose else logging.ERROR,
                  "log_to_driver": verbose}
        if address is None:
            kwargs["include_dashboard"] = False
        try:
            if address is not None and not address.startswith("ray://"):
                _probe(address)
            ray.init(**kwargs)
        except Exception as exc:  # ConnectionError, RuntimeError, ray's AuthenticationError, ValueError
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0].rstrip(". ")
            # A cluster with token authentication (the default of `ray start --head`) turns away a
            # driver without its token as "failed to connect".
            auth = ("; if the cluster uses token authentication, set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN "
                    "(or RAY_AUTH_TOKEN_PATH)" if "auth" in str(exc).lower() or "failed to connect" in first.lower()
                    else "")
            raise RayUnavailableError(
                f"cannot reach the Ray cluster at {self.address!r}: {first[:300]}{auth}. Start one "
                "(`ray start --head`), give its address with --ray ADDRESS or ray_address (auto, host:port, "
                "ray://host:10001), or use --ray local") from None
        log.info("connected to Ray at %s: %s", self.address, ray.cluster_resources())
        return True

    def _pool_size(self, ray) -> int:
        if self.actors:
            return self.actors
        return max(1, int(ray.cluster_resources().get("CPU", 1)))

    def _run(self, ray, docs: list[Document], show_progress: bool) -> Prepared:
        from ray.data import ActorPoolStrategy, DataContext

        if not log.isEnabledFor(logging.INFO):
            logging.getLogger("ray.data").setLevel(logging.ERROR)
        # Progress is ours, counted in documents as results stream back: Ray Data's own bars
        # stay silent on a driver whose worker logs are off (the default without -v).
        DataContext.get_current().enable_progress_bars = False
        size = self._pool_size(ray)
        per_batch = max(1, min(MAX_DOCS_PER_BATCH, math.ceil(len(docs) / (size * BATCHES_PER_ACTOR))))
        items = [{"i": i, "doc": pickle.dumps(d)} for i, d in enumerate(docs)]
        dataset = ray.data.from_items(items, override_num_blocks=math.ceil(len(docs) / per_batch)).map_batches(
            ChunkAndEmbed, fn_constructor_kwargs={"embedding": self.embedding, "chunking": self.chunking,
                                                 "max_file_chunks": self.max_file_chunks, "threads": 1},
            batch_size=per_batch, batch_format="numpy", compute=ActorPoolStrategy(size=size), num_cpus=1)
        log.info("chunking and embedding %d documents on Ray: %d actors, %d documents a batch",
                 len(docs), size, per_batch)
        rows = []
        try:
            with tqdm(total=len(docs), unit="doc", desc="chunking and embedding on Ray",
                      disable=not show_progress) as bar:
                for row in dataset.iter_rows():
                    rows.append(row)
                    bar.update(1)
        except Exception as exc:  # RayTaskError and friends wrap what the actor raised
            raise _job_error(exc) from None
        chunks: dict[str, list[Chunk]] = {}
        vectors: dict[str, np.ndarray] = {}
        too_big: list[SkippedFile] = []
        for row in sorted(rows, key=lambda r: int(r["i"])):
            doc = docs[int(row["i"])]
            if row["skipped"]:
                # Said by the indexer's logger, like the single-process skip: `rag index` prints those.
                logging.getLogger("rag.indexing.indexer").warning("skipped %s: %s", doc.source, row["skipped"])
                too_big.append(SkippedFile(doc.source, str(row["skipped"]), doc.id))
                continue
            chunks[doc.id] = pickle.loads(row["chunks"])
            vectors[doc.id] = pickle.loads(row["vectors"])
        if len(chunks) + len(too_big) != len(docs):
            raise RagError(f"the Ray job returned {len(chunks) + len(too_big)} of {len(docs)} documents; "
                           "run `rag index` again")
        return Prepared(chunks, vectors, too_big)


def _probe(address: str, timeout: float = 5.0) -> None:
    """Fails fast when the cluster's GCS port does not answer: `ray.init` would retry for ever."""
    try:
        from ray._private.services import canonicalize_bootstrap_address

        # "auto" becomes RAY_ADDRESS or the cluster `ray start` recorded on this machine.
        resolved = canonicalize_bootstrap_address(address)
    except (ImportError, AttributeError):  # a Ray without this helper: let ray.init resolve it
        return
    if resolved is None:
        raise ConnectionError("no running Ray cluster found (set RAY_ADDRESS or give host:port)")
    host, _, port = resolved.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ConnectionError(f"nothing answers at {resolved} ({exc.strerror or exc})") from None


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401  (Ray Data ships in the 'data' extra of ray)
    except ImportError as exc:
        raise RayUnavailableError(f"--ray needs Ray with Ray Data ({exc.name or 'ray'} is not installed): "
                                  "pip install 'rag[ray]', or index without --ray") from None
    # Usage statistics would be sent to the network on start; none is reachable from every site.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    return ray


def _job_error(exc: BaseException) -> RagError:
    cause = getattr(exc, "cause", None)
    while cause is not None and getattr(cause, "cause", None) is not None:
        cause = cause.cause
    if isinstance(cause, RagError):
        return type(cause)(f"on a Ray worker: {cause}")
    first = (str(cause or exc).strip().splitlines() or [type(exc).__name__])[0]
    return RagError(f"the Ray indexing job failed: {type(cause or exc).__name__}: {first[:300]}; "
                    "run again with -v to see the workers' logs")
