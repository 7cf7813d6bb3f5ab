"""The chunk texts and metadata of one index version, read on demand from a memory-mapped file.

`chunks.jsonl` holds one JSON object a line; `chunks.offsets.npy` the byte offset where each
line starts (plus the file's end). A million chunks are ~1 GB as Python objects but a query
touches a few dozen, so the store maps the file and parses a line when it is asked for:
loading is instant and the resident memory is what queries have touched.
"""

from __future__ import annotations

import json
import mmap
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, overload

import numpy as np

from rag.core.errors import IndexCorruptError
from rag.core.records import Chunk
from rag.index import npy

REBUILD = "rebuild with `rag index --rebuild`"


def write_chunks(chunks: Iterable[Chunk], path: Path, offsets_path: Path) -> int:
    offsets = [0]
    with open(path, "wb") as fh:
        for c in chunks:
            line = (json.dumps(chunk_to_dict(c), ensure_ascii=False) + "\n").encode("utf-8")
            fh.write(line)
            offsets.append(offsets[-1] + len(line))
    np.save(offsets_path, np.asarray(offsets, dtype=np.int64))
    return len(offsets) - 1


class ChunkStore(Sequence[Chunk]):
    """A read-only sequence of `Chunk`s backed by `chunks.jsonl`."""

    def __init__(self, path: Path, offsets_path: Path | None = None):
        self.path = path
        size = path.stat().st_size
        self._file = open(path, "rb")  # noqa: SIM115 - held open for the map, closed by close()
        self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        if offsets_path is not None and offsets_path.is_file():
            try:
                self._offsets = npy.load(offsets_path, mmap_mode="r")
            except (OSError, ValueError) as exc:
                raise IndexCorruptError(f"cannot read {offsets_path} ({exc}); {REBUILD}") from None
        else:  # an index written before the offsets file existed: find the lines once
            self._offsets = _line_offsets(self._map)
        if len(self._offsets) == 0 or int(self._offsets[-1]) != size or int(self._offsets[0]) != 0:
            raise IndexCorruptError(f"{path} does not match its line offsets (truncated or replaced?); {REBUILD}")
        self._get = lru_cache(maxsize=4096)(self._parse)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @overload
    def __getitem__(self, i: int) -> Chunk: ...

    @overload
    def __getitem__(self, i: slice) -> list[Chunk]: ...

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._get(j) for j in range(*i.indices(len(self)))]
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"chunk {i} out of range")
        return self._get(i)

    def __iter__(self) -> Iterator[Chunk]:
        for i in range(len(self)):
            yield self._parse(i)  # a full scan must not evict what queries keep hot

    def close(self) -> None:
        if isinstance(self._map, mmap.mmap):
            self._map.close()
        self._file.close()

    def _record(self, i: int) -> dict[str, Any]:
        start, end = int(self._offsets[i]), int(self._offsets[i + 1])
        try:
            return json.loads(self._map[start:end])
        except (ValueError, UnicodeDecodeError) as exc:
            raise IndexCorruptError(f"{self.path} line {i + 1} is damaged ({exc}); {REBUILD}") from None

    def _parse(self, i: int) -> Chunk:
        d = self._record(i)
        try:
            return Chunk(id=d["id"], doc_id=d["doc_id"], text=d["text"], start=d["start"], end=d["end"],
                         n_tokens=d["n_tokens"], title=d.get("title", ""), metadata=d.get("metadata", {}),
                         header=d.get("header", ""))
        except (KeyError, TypeError) as exc:
            raise IndexCorruptError(f"{self.path} line {i + 1} lacks {exc}; {REBUILD}") from None


def chunk_to_dict(c: Chunk) -> dict[str, Any]:
    d = {"id": c.id, "doc_id": c.doc_id, "start": c.start, "end": c.end, "n_tokens": c.n_tokens,
         "title": c.title, "metadata": dict(c.metadata), "text": c.text}
    if c.header:
        d["header"] = c.header
    return d


def _line_offsets(data) -> np.ndarray:
    offsets = [0]
    pos = data.find(b"\n") if len(data) else -1
    while pos != -1:
        offsets.append(pos + 1)
        pos = data.find(b"\n", pos + 1)
    if offsets[-1] != len(data):  # a last line without its newline
        offsets.append(len(data))
    return np.asarray(offsets, dtype=np.int64)


def copy_rows(stores_and_rows, path: Path, offsets_path: Path) -> int:
    """Write the given rows of several chunk stores as one new store, copying their lines as bytes
    (no parsing). `stores_and_rows`: (store, ascending rows or None for all)."""
    offsets = [np.zeros(1, dtype=np.int64)]
    written = 0
    with open(path, "wb") as fh:
        for store, rows in stores_and_rows:
            starts = np.asarray(store._offsets, dtype=np.int64)
            if rows is None:
                rows = np.arange(len(store))
            if not len(rows):
                continue
            # Consecutive rows are copied as one range.
            breaks = np.flatnonzero(np.diff(rows) != 1) + 1
            for run in np.split(rows, breaks):
                a, b = int(starts[run[0]]), int(starts[run[-1] + 1])
                fh.write(store._map[a:b])
            lengths = starts[rows + 1] - starts[rows]
            offsets.append(written + np.cumsum(lengths))
            written += int(lengths.sum())
    np.save(offsets_path, np.concatenate(offsets))
    return written
