"""Split documents into sentence-aligned, token-bounded chunks with exact character spans.

Sizes are counted with tiktoken (the same tokens prompts are budgeted in). Because the embedding
model has its own tokenizer and a hard `max_seq_length`, every chunk is also checked with a
`fits` callback from the embedder and split further if the model would truncate it.

With `context` on, every chunk also gets a header naming its document (title, date, section
heading) that the embedder and the keyword index read above the text: a passage deep in a long
article no longer loses what the article is about. The header counts against the embedder's
limit (header and text together are checked with `fits`, so neither is truncated), not against
`chunk_tokens`, which stays the size of the text the generator reads; taking the header out of
that budget was measured too and made passages shorter and answers worse. The chunk's span and
text stay exact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rag.core.pages import chunk_structure
from rag.core.records import Chunk, Document
from rag.text.sentences import append_trimmed, split_sentences
from rag.text.tokens import get_encoding

HEADER_TOKENS = 32  # at most; a longer title is cut, so the embedder still reads the whole text
HEADER_SEPARATOR = " · "


@dataclass(frozen=True)
class ChunkerSettings:
    """Chunk size and overlap in tokens of `encoding` (tiktoken), and whether each chunk carries
    its document's title, date and heading as a header (`context`). Recorded in the manifest."""

    chunk_tokens: int = 160
    chunk_overlap: int = 32
    encoding: str = "cl100k_base"
    context: bool = True

    @classmethod
    def from_dict(cls, data: dict) -> "ChunkerSettings":
        """The settings a manifest records (`to_dict`); `context` absent means off."""
        return cls(int(data["chunk_tokens"]), int(data["chunk_overlap"]), str(data["encoding"]),
                   bool(data.get("context", False)))

    def to_dict(self) -> dict:
        d = {"chunk_tokens": self.chunk_tokens, "chunk_overlap": self.chunk_overlap, "encoding": self.encoding}
        if self.context:  # absent when off, so indexes built before headers existed still match
            d["context"] = True
        return d


class Chunker:
    """Packs whole sentences into chunks of at most `chunk_tokens` tokens.

    Consecutive chunks of a document share trailing sentences of at most `chunk_overlap`
    tokens, so a fact stated across a chunk boundary is still seen whole by one chunk.
    A sentence longer than a chunk is cut at token boundaries.
    """

    def __init__(self, chunk_tokens: int = 160, chunk_overlap: int = 32,
                 encoding: str = "cl100k_base", fits: Callable[[str], bool] | None = None, *,
                 context: bool = False):
        if chunk_tokens < 8:
            raise ValueError("chunk_tokens must be at least 8")
        if not 0 <= chunk_overlap < chunk_tokens:
            raise ValueError("chunk_overlap must be in [0, chunk_tokens)")
        self.settings = ChunkerSettings(chunk_tokens, chunk_overlap, encoding, context)
        self._enc = get_encoding(encoding)
        self._fits = fits

    @classmethod
    def from_settings(cls, settings: ChunkerSettings, fits: Callable[[str], bool] | None = None) -> "Chunker":
        s = settings
        return cls(s.chunk_tokens, s.chunk_overlap, s.encoding, fits, context=s.context)

    def count(self, text: str) -> int:
        return len(self._enc.encode(text, disallowed_special=()))

    def chunk(self, doc: Document) -> list[Chunk]:
        headers = self._headers(doc) if self.settings.context else {}
        # Every chunk must fit the embedder behind the longest header its document can give.
        longest = max(headers.values(), key=self.count, default="")
        prefix = longest + "\n" if longest else ""
        spans = [span for start, end in _parts(doc) for span in
                 self._spans(doc.text, start, end, self.settings.chunk_tokens, prefix=prefix)]
        chunks = []
        for i, (start, end) in enumerate(spans):
            text = doc.text[start:end]
            metadata = _chunk_metadata(doc, start, end)
            chunks.append(Chunk(id=f"{doc.id}#{i}", doc_id=doc.id, text=text, start=start,
                                end=end, n_tokens=self.count(text), title=doc.title, metadata=metadata,
                                header=headers.get(metadata.get("section"), headers.get(None, ""))))
        return chunks

    def _headers(self, doc: Document) -> dict[str | None, str]:
        """The header of a chunk under each section heading of `doc` (None: outside any)."""
        base = [p for p in (doc.title.strip(), str(doc.metadata.get("date") or "").strip()) if p]
        sections = [s[2] for s in doc.metadata.get("sections") or () if len(s) > 2 and str(s[2]).strip()]
        out: dict[str | None, str] = {None: self._cut(HEADER_SEPARATOR.join(base))}
        for name in sections:
            parts = base + ([str(name).strip()] if str(name).strip() != doc.title.strip() else [])
            out[name] = self._cut(HEADER_SEPARATOR.join(parts))
        return {k: v for k, v in out.items() if v}

    def _cut(self, header: str) -> str:
        tokens = self._enc.encode(" ".join(header.split()), disallowed_special=())
        return self._enc.decode(tokens[:HEADER_TOKENS]).rstrip("\ufffd").strip()  # no half a character

    def chunk_all(self, docs: Iterable[Document]) -> list[Chunk]:
        return [c for d in docs for c in self.chunk(d)]

    def _spans(self, text: str, start: int, end: int, limit: int, prefix: str = "") -> list[tuple[int, int]]:
        """Spans of at most `limit` tokens that the embedder takes whole, read after `prefix`."""
        pieces = self._pieces(text, start, end, limit)
        spans = self._pack(text, pieces, limit)
        if self._fits is None:
            return spans
        checked: list[tuple[int, int]] = []
        for s, e in spans:
            if self._fits(prefix + text[s:e]) or limit <= 8:
                checked.append((s, e))
            else:  # the embedder's tokenizer is less frugal than tiktoken here: go smaller
                checked.extend(self._spans(text, s, e, max(8, limit // 2), prefix))
        return checked

    def _pieces(self, text: str, start: int, end: int, limit: int) -> list[tuple[int, int, int]]:
        """Sentences with token counts; over-long sentences cut into token windows."""
        pieces = []
        for s, e in split_sentences(text, start, end):
            tokens = self._enc.encode(text[s:e], disallowed_special=())
            if len(tokens) <= limit:
                pieces.append((s, e, len(tokens)))
                continue
            _, offsets = self._enc.decode_with_offsets(tokens)
            i = 0
            while i < len(tokens):
                n = limit
                while True:
                    we = s + offsets[i + n] if i + n < len(tokens) else e
                    trimmed: list[tuple[int, int]] = []
                    append_trimmed(text, s + offsets[i], we, trimmed)
                    counts = [self.count(text[ts:te]) for ts, te in trimmed]
                    # A window cut out of the token stream can re-encode to more tokens than it held
                    # (a character split across tokens): take fewer tokens until it fits.
                    if n == 1 or all(c <= limit for c in counts):
                        break
                    n -= 1
                pieces.extend((ts, te, c) for (ts, te), c in zip(trimmed, counts))
                i += n
        return pieces

    def _pack(self, text: str, pieces: list[tuple[int, int, int]], limit: int) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        i = 0
        while i < len(pieces):
            j, total = i, 0
            while j < len(pieces) and total + pieces[j][2] <= limit:
                total += pieces[j][2]
                j += 1
            j = max(j, i + 1)
            # The separators between sentences can cost a token or two more than the sum.
            while j - 1 > i and self.count(text[pieces[i][0]:pieces[j - 1][1]]) > limit:
                j -= 1
            spans.append((pieces[i][0], pieces[j - 1][1]))
            if j >= len(pieces):
                break
            # Step back over trailing sentences that fit in the overlap budget, but always move on.
            back, carried = j, 0
            while back - 1 > i and carried + pieces[back - 1][2] <= self.settings.chunk_overlap:
                carried += pieces[back - 1][2]
                back -= 1
            i = back
        return spans


def _parts(doc: Document) -> list[tuple[int, int]]:
    """The spans chunks are cut from: the whole text, or, for a document whose sections are units
    of their own (`section_breaks`: the sheets of a workbook, the slides of a deck), each section,
    so that no chunk holds the end of one sheet under the next one's name."""
    if not doc.metadata.get("section_breaks"):
        return [(0, len(doc.text))]
    cuts = sorted({0, len(doc.text), *(int(s[0]) for s in doc.metadata.get("sections") or ()
                                         if 0 < int(s[0]) < len(doc.text))})
    return list(zip(cuts, cuts[1:]))


def _chunk_metadata(doc: Document, start: int, end: int) -> dict:
    keep = ("date", "path", "type", "byline", "url")
    return {**{k: doc.metadata[k] for k in keep if k in doc.metadata},
            **chunk_structure(doc.metadata, start, end)}
