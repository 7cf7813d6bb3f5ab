"""Start an upload (or a first index, or a removal) and stop dead at a chosen moment, printing
"stopped" for the test to kill the process there; used by tests/reliability/test_leftovers.py.

    python -m tests.support.upload_worker CORPUS INDEX MOMENT

`before-index`: the upload's part file is written, the index not yet updated.
`after-index`: the index lists the upload, its file is not yet in place.
`removing`: an upload is set aside for removal, the index still lists it.
`first-index`: the first `rag index` of CORPUS is writing its first version.
Runs the real indexer with the tiny hash embedder of crash_worker, so it starts in a moment.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import rag.index.store
from rag.indexing.indexer import Indexer, IndexerSettings
from rag.indexing.uploads import ingest

from .crash_worker import HashEmbedder

NAME, DATA = "kilns.txt", b"A kiln fires clay at high heat for many hours."


def stop(*_args, **_kwargs) -> None:
    print("stopped", flush=True)
    time.sleep(600)


def indexer(corpus: Path) -> Indexer:
    return Indexer(IndexerSettings(corpus_dir=corpus), HashEmbedder())


if __name__ == "__main__":
    corpus, index_dir, moment = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    writer = indexer(corpus)
    if moment == "before-index":
        Indexer.sync = stop
    elif moment == "after-index":  # stopped as the part file is about to be moved into place
        real_replace = os.replace
        os.replace = lambda src, dst: stop() if str(src).endswith(".part") else real_replace(src, dst)
    elif moment == "removing":
        ingest(NAME, DATA, corpus_dir=corpus, index_dir=index_dir, indexer=writer)
        Indexer.sync = stop
        writer.remove_documents([f"uploads/{NAME}"], index_dir)
    elif moment == "first-index":
        rag.index.store.write_segment = stop
        writer.index_paths([corpus], index_dir)
    ingest(NAME, DATA, corpus_dir=corpus, index_dir=index_dir, indexer=writer)
