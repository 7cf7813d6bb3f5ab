"""What every language-model generator shares: prompt, call, verify, `Answer`.

A backend only has to turn a `Prompt` into a stream of text pieces (`_pieces`). Everything a
user relies on — the token budget, the fenced passages, and the verification that each sentence
is supported by the passage it cites — happens here, the same way for every model.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from rag.core.records import Answer, Hit
from rag.generators import StreamEvent
from rag.generators.citations import verify
from rag.generators.claims import ClaimSettings
from rag.generators.prompts import NOT_IN_DOCUMENTS, Prompt, build_prompt, count_tokens
from rag.safety.redact import StreamRedactor, redact


@dataclass(frozen=True)
class LLMSettings:
    """What every language-model generator shares: the prompt's token budget (`context_tokens`,
    of which `answer_tokens` are kept for the answer, counted in tiktoken's `encoding`), how
    long to wait for, and how often to retry, the model, and how the answer's claims are checked
    against the passages (`claims`)."""

    context_tokens: int = 2048
    answer_tokens: int = 384
    encoding: str = "cl100k_base"
    request_timeout: float = 60.0
    max_retries: int = 3
    claims: ClaimSettings = field(default_factory=ClaimSettings)


class LLMGenerator:
    name = "llm"

    def __init__(self, settings: LLMSettings | None = None):
        self.settings = settings or LLMSettings()

    # --- the backend's part ---
    def _pieces(self, prompt: Prompt, usage: dict[str, int]) -> Iterator[str]:
        """The answer text as it is produced; fill `usage` with token counts if the backend has them."""
        raise NotImplementedError

    # --- the shared part ---
    def prompt_for(self, question: str, hits: Sequence[Hit]) -> Prompt:
        c = self.settings
        return build_prompt(question, hits, context_tokens=c.context_tokens, answer_tokens=c.answer_tokens,
                            encoding=c.encoding)

    def generate(self, question: str, hits: Sequence[Hit]) -> Answer:
        answer = None
        for event in self.stream(question, hits):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None
        return answer

    def stream(self, question: str, hits: Sequence[Hit]) -> Iterator[StreamEvent]:
        t0 = time.perf_counter()
        prompt = self.prompt_for(question, hits)
        if not prompt.passages:
            # Nothing to answer from: saying so needs no model call.
            yield Answer(question=question, text=NOT_IN_DOCUMENTS, hits=tuple(hits), abstained=True,
                         generator=self.name, notes=("no passages were retrieved",))
            return
        pieces: list[str] = []
        notes: list[str] = []
        usage: dict[str, int] = {}
        # The model's words are the endpoint's words: an endpoint may repeat the API key, so the
        # text is masked as it enters, before it is shown, verified, quoted in notes or reported.
        masked = StreamRedactor()
        backend = self._pieces(prompt, usage)
        try:
            for piece in backend:
                pieces.append(piece)
                shown = masked.feed(piece)
                if shown:
                    yield shown
        except IncompleteStream as exc:
            notes.append(redact(str(exc)))
        finally:
            backend.close()  # a reader that stopped early cancels the backend's request now
        rest = masked.flush()
        if rest:
            yield rest
        raw = redact("".join(pieces))
        usage = {"prompt_tokens": usage.get("prompt_tokens") or prompt.n_tokens,
                 "completion_tokens": usage.get("completion_tokens") or count_tokens(raw, self.settings.encoding)}
        checked = verify(raw, prompt.passages, self.settings.claims)
        confidence = min((c.support for c in checked.citations), default=0.0)
        yield Answer(question=question, text=checked.text, citations=checked.citations, hits=tuple(hits),
                     abstained=checked.abstained,
                     timings={"generate_ms": (time.perf_counter() - t0) * 1000}, usage=usage,
                     generator=self.name, notes=tuple(notes) + checked.notes, confidence=confidence,
                     dropped=checked.dropped)


class IncompleteStream(Exception):
    """The stream broke after some text arrived; what arrived is still verified and shown."""
