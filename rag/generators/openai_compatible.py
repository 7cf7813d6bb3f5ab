"""Any OpenAI-compatible chat endpoint: OpenAI, vLLM, Ollama, a llama.cpp server, ...

Uses the official `openai` client with its own retries off, so the policy is ours and visible:
up to `max_retries` retries on connection errors, timeouts, 429 and 5xx, with exponential
backoff plus jitter, honouring `Retry-After` (capped at 30 s). The API key comes from the
environment variable named by `openai_api_key_env` and is never logged or shown. Servers on
this machine (localhost) need no key.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlparse

from rag.core.errors import ConfigError, EndpointError
from rag.generators.llm import IncompleteStream, LLMGenerator, LLMSettings
from rag.generators.prompts import Prompt
from rag.safety.redact import redact, remember, watch_env

log = logging.getLogger("rag.generators.openai")
MAX_RETRY_AFTER = 30.0
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


@dataclass(frozen=True)
class OpenAISettings(LLMSettings):
    """The endpoint (`base_url`, any OpenAI-compatible /v1), the model, and the environment
    variable holding the API key (`api_key_env`), besides the shared `LLMSettings`."""

    base_url: str = "https://api.openai.com/v1"
    model: str = "gpt-4o-mini"
    api_key_env: str = "OPENAI_API_KEY"


class OpenAICompatibleGenerator(LLMGenerator):
    name = "openai"

    def __init__(self, settings: OpenAISettings | None = None, *, base_url: str | None = None,
                 model: str | None = None, api_key: str | None = None, backoff: float = 0.5):
        """`base_url` and `model` override the settings' (the page's Hosted endpoint and model)."""
        settings = settings or OpenAISettings()
        super().__init__(settings)
        self.settings: OpenAISettings = settings
        try:
            import openai
        except ImportError:
            raise ConfigError("the openai generator needs the 'openai' package: pip install 'rag[hosted]'") from None
        self._openai = openai
        self.base_url = (base_url or self.settings.base_url).rstrip("/")
        self.model = model or self.settings.model
        self.backoff = backoff
        host = urlparse(self.base_url).hostname or ""
        watch_env(self.settings.api_key_env)
        remember(api_key)
        key = api_key or os.environ.get(self.settings.api_key_env)
        if not key:
            if host not in LOCAL_HOSTS:
                raise ConfigError(f"{self.settings.api_key_env} is not set; export it with your API key for "
                                  f"{host or self.base_url}, or choose --generator extractive")
            key = "not-needed"
        self._client = openai.OpenAI(base_url=self.base_url, api_key=key, timeout=self.settings.request_timeout,
                                     max_retries=0)

    def __repr__(self) -> str:  # never the key
        return f"OpenAICompatibleGenerator(base_url={self.base_url!r}, model={self.model!r})"

    def _pieces(self, prompt: Prompt, usage: dict[str, int]) -> Iterator[str]:
        stream = self._with_retries(lambda: self._client.chat.completions.create(
            model=self.model, messages=prompt.messages, max_tokens=self.settings.answer_tokens, temperature=0,
            stream=True, stream_options={"include_usage": True}))
        received = False
        chunks = 0
        try:
            for chunk in stream:
                chunks += 1
                if getattr(chunk, "usage", None):
                    usage["prompt_tokens"] = chunk.usage.prompt_tokens or 0
                    usage["completion_tokens"] = chunk.usage.completion_tokens or 0
                choices = getattr(chunk, "choices", None)
                if choices is None:
                    raise EndpointError(f"the endpoint {self.base_url} returned a malformed response (no choices)")
                for choice in choices:
                    delta = getattr(getattr(choice, "delta", None), "content", None)
                    if delta:
                        received = True
                        yield delta
        except EndpointError:
            raise
        except (self._openai.APIError, ValueError, AttributeError) as exc:
            if received:
                raise IncompleteStream(f"the answer stream from {self.base_url} broke off "
                                       f"({type(exc).__name__}); showing what arrived") from None
            raise self._describe(exc) from None
        except Exception as exc:  # httpx read errors surface as plain exceptions mid-stream
            if received:
                raise IncompleteStream(f"the answer stream from {self.base_url} broke off "
                                       f"({type(exc).__name__}); showing what arrived") from None
            raise EndpointError(f"the endpoint {self.base_url} broke off the answer ({type(exc).__name__})") from None
        finally:
            # A reader that stops early (the page's Stop) closes the generator here: closing the
            # response ends the request, so the server stops generating instead of running on.
            stream.close()
        if chunks == 0:
            raise EndpointError(f"the endpoint {self.base_url} returned a malformed response (no answer events); "
                                "is it an OpenAI-compatible API?")

    def _with_retries(self, call):
        attempts = self.settings.max_retries + 1
        for attempt in range(1, attempts + 1):
            try:
                return call()
            except (self._openai.APIConnectionError, self._openai.RateLimitError,
                    self._openai.InternalServerError, self._openai.APIStatusError) as exc:
                retryable = not isinstance(exc, self._openai.APIStatusError) or exc.status_code == 429 \
                    or exc.status_code >= 500
                if not retryable or attempt == attempts:
                    raise self._describe(exc, attempts if retryable else 1) from None
                delay = self._delay(exc, attempt)
                log.warning("endpoint %s: %s; retrying in %.1fs (%d/%d)", self.base_url, self._short(exc), delay,
                            attempt, attempts - 1)
                time.sleep(delay)
            except self._openai.APIError as exc:
                raise self._describe(exc) from None
        raise AssertionError("unreachable")

    def _delay(self, exc: Exception, attempt: int) -> float:
        response = getattr(exc, "response", None)
        header = response.headers.get("retry-after") if response is not None else None
        if header:
            try:
                return min(MAX_RETRY_AFTER, max(0.0, float(header)))
            except ValueError:
                pass
        return min(MAX_RETRY_AFTER, self.backoff * 2 ** (attempt - 1) * (1 + random.random() / 2))

    def _describe(self, exc: Exception, attempts: int = 1) -> EndpointError:
        o = self._openai
        where = f"the endpoint {self.base_url}"
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        if isinstance(exc, o.APITimeoutError):
            return EndpointError(f"{where} did not answer within {self.settings.request_timeout:g} s{tries}; "
                                 "try again later or raise request_timeout")
        if isinstance(exc, o.APIConnectionError):
            return EndpointError(f"{where} is unreachable{tries} ({self._short(exc)}); check the URL or start the server")
        if isinstance(exc, o.AuthenticationError):
            return EndpointError(f"{where} rejected the API key (401); check {self.settings.api_key_env}")
        if isinstance(exc, o.NotFoundError):
            return EndpointError(f"{where} does not know model {self.model!r} or the path (404); check the model "
                                 "name and that the URL ends in /v1")
        if isinstance(exc, o.APIStatusError):
            return EndpointError(f"{where} returned HTTP {exc.status_code}{tries}; try again later")
        if isinstance(exc, (o.APIResponseValidationError, ValueError, AttributeError)):
            return EndpointError(f"{where} returned a malformed response; is it an OpenAI-compatible API?")
        return EndpointError(f"{where} failed: {self._short(exc)}")

    def close(self) -> None:
        """Release the client's connections (the generator cannot be used afterwards)."""
        self._client.close()

    def _short(self, exc: Exception) -> str:
        # Error bodies are the server's words, and some servers echo the Authorization header back.
        return _short(exc, self._client.api_key)


def _short(exc: Exception, key: str = "") -> str:
    # Masked first, then cut: a key cut in half no longer matches the key.
    text = redact(str(exc), [key]).strip()
    text = text.splitlines()[0] if text else type(exc).__name__
    return text[:160]
