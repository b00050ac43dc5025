"""The LLM seam: messages in, text stream out, over any OpenAI-compatible chat endpoint.

OpenAI, DeepSeek, Qwen/DashScope, Ollama, vLLM and llama.cpp's server all speak the
chat-completions protocol, so one client covers them. Everything that can go wrong ends
in `LLMError` with a message that says what to do; callers fall back to an extractive
answer. One answer never takes longer than `LLMConfig.total_timeout` in all (retries and
backoff included), whatever the server does.

Why a worker thread per answer: the HTTP client's read timeout fires only when the socket
is silent. A server (or proxy) that stalls but keeps sending SSE comments (`: keep-alive`)
never trips it, and the SSE decoder does not hand control back for comments. So the HTTP
work runs in a daemon thread that feeds a queue, and this thread waits on the queue with
the stall and total deadlines. An abandoned worker ends at its next chunk or HTTP read
timeout (against a server trickling comments forever: when that server hangs up).
"""

from __future__ import annotations

import email.utils
import logging
import queue
import random
import threading
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypedDict

from rag.errors import ConfigError, LLMError

if TYPE_CHECKING:
    import openai

log = logging.getLogger(__name__)


class Message(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str


class ChatModel(Protocol):
    """An LLM as the rest of the product sees it."""

    name: str

    def stream(self, messages: Sequence[Message]) -> Iterator[str]:
        """Yield the answer's text deltas in order; raise `LLMError` on any failure."""
        ...


@dataclass(frozen=True)
class LLMConfig:
    model: str
    base_url: str | None  # None: OpenAI's own endpoint
    api_key: str = field(repr=False)  # kept out of reprs so that it never reaches a log
    timeout: float = 30.0  # seconds without progress: connecting, then between stream events
    total_timeout: float = 120.0  # hard cap for one answer, retries and backoff included
    max_retries: int = 2
    temperature: float = 0.1
    max_tokens: int = 800

    def __post_init__(self) -> None:
        if not self.model.strip():
            raise ConfigError("the LLM model name is empty: set RAG_LLM_MODEL")
        for name in ("timeout", "total_timeout"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"LLM {name} must be > 0 seconds, got {getattr(self, name)}")
        if self.max_retries < 0:
            raise ConfigError(f"LLM max_retries must be >= 0, got {self.max_retries}")
        if not 0.0 <= self.temperature <= 2.0:
            raise ConfigError(f"LLM temperature must be in [0, 2], got {self.temperature}")
        if self.max_tokens < 1:
            raise ConfigError(f"LLM max_tokens must be >= 1, got {self.max_tokens}")


# Worth retrying, with every 5xx: the same request may well succeed later. Other 4xx never will.
_RETRYABLE_4XX = frozenset({408, 409, 429})
_READ_SLACK = 1.0  # the HTTP read timeout only stops abandoned workers; ours fires first
_DETAIL_CHARS = 200  # of a server's error text (proxies answer with whole HTML pages)


class _TransientError(LLMError):
    """A failure before the first token that a retry may cure."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _Opened:
    """Queue marker: the endpoint answered 200 and the stream is open."""


class _Ended:
    """Queue marker: the stream ended (with `data: [DONE]` or end of body)."""


class OpenAIChat:
    """`ChatModel` over the official `openai` client, with bounded retries and deadlines."""

    def __init__(
        self,
        config: LLMConfig,
        *,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        max_retry_after: float = 10.0,
    ) -> None:
        import openai  # heavy; `import rag.llm` must stay cheap

        if not config.api_key:
            raise ConfigError(
                "no API key for the LLM endpoint: set OPENAI_API_KEY "
                "(local servers such as Ollama accept any non-empty value)"
            )
        self.config = config
        self.name = config.model
        self._backoff, self._max_backoff = backoff, max_backoff
        self._max_retry_after = max_retry_after
        # Retries are ours (bounded by the answer's deadline, and never after the first
        # token), so the client's own are off.
        timeout = openai.Timeout(config.timeout + _READ_SLACK, connect=config.timeout)
        self._client = openai.OpenAI(
            api_key=config.api_key, base_url=config.base_url, timeout=timeout, max_retries=0
        )
        self.url = str(self._client.base_url).rstrip("/")

    def complete(self, messages: Sequence[Message]) -> str:
        return "".join(self.stream(messages))

    def stream(self, messages: Sequence[Message]) -> Generator[str, None, None]:
        # A generator (not just an iterator) so that callers can close() it early.
        deadline = time.monotonic() + self.config.total_timeout
        attempts = self.config.max_retries + 1
        for attempt in range(attempts):
            try:
                yield from self._attempt(messages, deadline)
                return
            except _TransientError as exc:
                if attempt + 1 == attempts:
                    tried = f" (gave up after {attempts} attempts)" if attempts > 1 else ""
                    raise LLMError(f"{exc}{tried}") from exc
                self._pause(exc, attempt, deadline)

    def _pause(self, exc: _TransientError, attempt: int, deadline: float) -> None:
        """Sleep before retry number `attempt + 1`, or give up if that would pass the deadline."""
        if exc.retry_after is not None:
            delay = min(exc.retry_after, self._max_retry_after)
        else:  # exponential backoff; the jitter spreads out clients that failed together
            delay = min(self._max_backoff, self._backoff * 2**attempt) * random.uniform(0.5, 1.0)
        if time.monotonic() + delay >= deadline:
            raise LLMError(
                f"{exc}; no time left to retry within total_timeout={self.config.total_timeout:g} s"
            ) from exc
        log.warning(
            "LLM attempt %d/%d failed: %s; retrying in %.2f s",
            attempt + 1,
            self.config.max_retries + 1,
            exc,
            delay,
        )
        time.sleep(delay)

    def _attempt(self, messages: Sequence[Message], deadline: float) -> Iterator[str]:
        """One request. Raises `_TransientError` only while nothing has been yielded."""
        feed: queue.SimpleQueue[object] = queue.SimpleQueue()
        cancel = threading.Event()
        payload = [{"role": m["role"], "content": m["content"]} for m in messages]
        threading.Thread(
            target=self._pump, args=(payload, feed, cancel), name="llm-stream", daemon=True
        ).start()
        opened = started = finished = False
        try:
            while True:
                item = self._next(feed, deadline, opened, started)
                if isinstance(item, _Opened):
                    opened = True
                elif isinstance(item, _Ended):
                    break
                else:
                    text, done = self._parse(item)
                    finished = finished or done
                    if text:
                        started = True
                        yield text
        finally:
            cancel.set()  # a worker blocked in a read stops at its next chunk or read timeout
        if not finished:  # a close-delimited body that was cut looks like a clean end
            raise self._error(f"the stream from {self.url} ended without a finish_reason", started)

    def _pump(
        self, payload: list[Any], feed: queue.SimpleQueue[object], cancel: threading.Event
    ) -> None:
        """Worker thread: run the request and put markers, chunks or the exception on `feed`."""
        try:
            stream = self._client.chat.completions.create(
                model=self.config.model,
                messages=payload,
                stream=True,
                temperature=self.config.temperature,
                max_tokens=self.config.max_tokens,
            )
            feed.put(_Opened())
            with stream:
                for chunk in stream:
                    if cancel.is_set():
                        return
                    feed.put(chunk)
            feed.put(_Ended())
        except Exception as exc:  # handed to the consuming thread, which classifies it
            feed.put(exc)

    def _next(
        self, feed: queue.SimpleQueue[object], deadline: float, opened: bool, started: bool
    ) -> object:
        """The worker's next item, or the error for a stall, a passed deadline or a failure."""
        remaining = deadline - time.monotonic()
        try:
            item = feed.get(timeout=max(0.0, min(self.config.timeout, remaining)))
        except queue.Empty:
            if self.config.timeout >= remaining:
                raise LLMError(
                    f"no complete answer from {self.url} within total_timeout="
                    f"{self.config.total_timeout:g} s"
                ) from None
            what = "stream stalled" if opened else "endpoint did not answer"
            message = f"the LLM {what}: nothing from {self.url} for {self.config.timeout:g} s"
            raise self._error(message, started) from None
        if isinstance(item, Exception):
            raise self._translate(item, opened, started) from item
        return item

    def _parse(self, chunk: object) -> tuple[str, bool]:
        """(text, finished) of one chunk. Keep-alives and reasoning deltas give no text."""
        from openai.types.chat import ChatCompletionChunk

        choices = getattr(chunk, "choices", None) or []  # `choices: []`: usage or keep-alive
        if not isinstance(chunk, ChatCompletionChunk) or not isinstance(choices, list):
            raise LLMError(f"malformed chunk from {self.url}: {str(chunk)[:_DETAIL_CHARS]}")
        if not choices:
            return "", False
        delta = getattr(choices[0], "delta", None)
        finish = getattr(choices[0], "finish_reason", None)
        if finish not in (None, "stop"):
            log.warning("the LLM stopped with finish_reason=%r", finish)
        # `reasoning_content` (DeepSeek-R1, Qwen3) is deliberately not read: it is not the answer.
        text = getattr(delta, "content", None)
        if text is not None and not isinstance(text, str):
            raise LLMError(f"malformed chunk from {self.url}: content is {text!r}")
        return text or "", finish is not None

    def _translate(self, exc: Exception, opened: bool, started: bool) -> LLMError:
        """An actionable `LLMError` for an exception raised in the worker."""
        import openai

        if isinstance(exc, openai.APIStatusError):
            return self._status_error(exc)
        if isinstance(exc, openai.APITimeoutError):
            message = f"the LLM endpoint at {self.url} timed out"
        elif isinstance(exc, openai.APIConnectionError) and not opened:
            message = (
                f"cannot reach the LLM endpoint at {self.url}: is the server running? "
                "check OPENAI_BASE_URL"
            )
        elif isinstance(exc, openai.APIConnectionError):
            message = f"the LLM endpoint at {self.url} dropped the connection mid-stream"
        elif isinstance(exc, openai.APIError):  # an `error` object sent inside the stream
            message = f"the LLM endpoint at {self.url} reported an error: {exc.message}"
        elif isinstance(exc, ValueError):  # unparseable JSON in a `data:` line
            return LLMError(f"malformed chunk from {self.url}: {exc}")
        else:
            return LLMError(f"unexpected failure talking to {self.url}: {exc!r}")
        return self._error(message, started)

    def _status_error(self, exc: openai.APIStatusError) -> LLMError:
        code, detail = exc.status_code, _detail(exc.body)
        if code == 401:
            return LLMError(
                "the endpoint rejected the API key: check OPENAI_API_KEY "
                f"(HTTP 401 from {self.url}: {detail})"
            )
        if code == 403:
            return LLMError(
                f"the endpoint at {self.url} refused access (HTTP 403: {detail}): "
                f"check the API key's permissions for model '{self.config.model}'"
            )
        if code == 404:
            return LLMError(
                f"model '{self.config.model}' not found at {self.url}: set RAG_LLM_MODEL "
                f"(or check OPENAI_BASE_URL, which usually ends in /v1) (HTTP 404: {detail})"
            )
        message = f"the LLM endpoint at {self.url} answered HTTP {code}: {detail}"
        if code in _RETRYABLE_4XX or code >= 500:
            return _TransientError(message, _retry_after(exc.response.headers))
        return LLMError(message)

    def _error(self, message: str, started: bool) -> LLMError:
        """Failures are worth a retry only while the caller has seen nothing."""
        return LLMError(message) if started else _TransientError(message)


def _detail(body: object) -> str:
    """The server's own words: its error message, else the start of its raw body."""
    message = body.get("message") if isinstance(body, dict) else body
    return " ".join(str(message or "no details").split())[:_DETAIL_CHARS]


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked us to wait, from `retry-after-ms` (OpenAI) or `retry-after`."""
    try:
        if "retry-after-ms" in headers:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        if "retry-after" in headers:
            return max(0.0, float(headers["retry-after"]))
    except ValueError:
        pass
    try:  # RFC 9110 also allows an HTTP date
        when = email.utils.parsedate_to_datetime(headers.get("retry-after", ""))
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def make_chat_model(config: LLMConfig) -> ChatModel:
    return OpenAIChat(config)
