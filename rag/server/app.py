"""The ASGI app: the assistant behind OpenAI-compatible routes (Starlette, served by uvicorn).

One loaded `Assistant` answers every request. Its work is blocking (the model, FAISS, the
LLM client), so each step runs in a worker thread, at most `concurrency` at a time; the
event loop only parses, authorises and writes.

Streaming sends the verified text: `Assistant.ask_stream` yields the LLM's raw deltas
first, but its final `Answer` renumbers, drops or adds `[n]` markers, and a stream cannot
take back what it sent. So the server drains the raw deltas (sending SSE keep-alive
comments meanwhile, or, with `draft`, the raw deltas as `reasoning_content`, which
clients show as the model's "thinking") and streams the final text, whose markers are
exactly those of the citations in the last chunk. A client that goes away mid-stream
cancels the response; closing the `ask_stream` generator then stops the upstream LLM
request too.
"""

from __future__ import annotations

import hmac
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from rag.ask import MAX_QUESTION_CHARS, AskMode, Assistant
from rag.errors import (
    ConfigError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    InvalidQuestionError,
    ModelError,
    RagError,
)
from rag.server import protocol
from rag.server.protocol import ProtocolError
from rag.types import Answer

log = logging.getLogger(__name__)

MODEL = "zhejiang-news-rag"
_INTERNAL = protocol.error_body(
    "internal error: see the server log", kind="server_error", code="internal_error"
)


@dataclass(frozen=True)
class ServerOptions:
    # RAG_API_KEY: when set, every /v1 request needs it (Bearer); kept out of reprs and logs
    api_key: str | None = field(default=None, repr=False)
    model: str = MODEL  # the model id clients choose; `-extractive`, `-llm` pick a mode
    sources_block: bool = True  # append a Sources block to the text (per request: sources_block)
    concurrency: int = 4  # answering steps running at once; further requests wait
    max_body_bytes: int = 1_000_000
    max_question_chars: int = 4 * MAX_QUESTION_CHARS  # beyond: 400; the library uses 1,000
    keepalive_seconds: float = 10.0  # SSE comment while the answer is being verified
    draft: bool = False  # stream the LLM's unverified draft as `reasoning_content` meanwhile
    cors_origins: tuple[str, ...] = ()  # web pages allowed to call the API from a browser

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, got {self.concurrency}")


def options_from_env(env: Mapping[str, str], **overrides: Any) -> ServerOptions:
    """ServerOptions from RAG_API_KEY, with explicit values (CLI flags) winning."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return ServerOptions(api_key=env.get("RAG_API_KEY") or None, **given)


class InFlight:
    """Requests being answered (GET /health shows it; a freed worker shows as a decrement)."""

    def __init__(self) -> None:
        self.count = 0

    @contextmanager
    def track(self) -> Iterator[None]:
        self.count += 1  # only the event loop thread touches it
        try:
            yield
        finally:
            self.count -= 1


_STATUS: list[tuple[type[RagError], int, str, str]] = [
    (InvalidQuestionError, 400, "invalid_request_error", "invalid_question"),
    (ConfigError, 400, "invalid_request_error", "invalid_value"),
    (IndexNotFoundError, 503, "server_error", "index_unavailable"),
    (IndexCorruptError, 503, "server_error", "index_unavailable"),
    (IndexMismatchError, 503, "server_error", "index_unavailable"),
    (ModelError, 503, "server_error", "model_unavailable"),
]


def rag_error(exc: RagError) -> ProtocolError:
    for cls, status, kind, code in _STATUS:
        if isinstance(exc, cls):
            return ProtocolError(status, str(exc), code=code, kind=kind)
    return ProtocolError(500, str(exc), code="server_error", kind="server_error")


class _Api:
    """The routes' shared state: the assistant, the options, the thread limiter."""

    def __init__(self, assistant: Assistant, options: ServerOptions) -> None:
        self.assistant = assistant
        self.options = options
        self.limiter = anyio.CapacityLimiter(options.concurrency)
        self.in_flight = InFlight()
        self.created = int(time.time())

    # -- helpers -----------------------------------------------------------------------

    def modes(self) -> dict[str, AskMode]:
        name = self.options.model
        out: dict[str, AskMode] = {name: "auto", f"{name}-extractive": "extractive"}
        if self.assistant.chat is not None:
            out[f"{name}-llm"] = "llm"
        return out

    def authorize(self, request: Request) -> None:
        key = self.options.api_key
        if key is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ProtocolError(
                401, "missing API key: send the header 'Authorization: Bearer <RAG_API_KEY>'",
                code="invalid_api_key",
            )  # fmt: skip
        if not hmac.compare_digest(token.strip().encode(), key.encode()):
            raise ProtocolError(401, "incorrect API key provided", code="invalid_api_key")

    async def body(self, request: Request) -> bytes:
        limit = self.options.max_body_bytes
        declared = request.headers.get("content-length", "")
        too_big = ProtocolError(
            413, f"the request body exceeds {limit:,} bytes: shorten the conversation",
            code="request_too_large",
        )  # fmt: skip
        if declared.isdigit() and int(declared) > limit:
            raise too_big
        raw = bytearray()
        async for part in request.stream():
            raw += part
            if len(raw) > limit:
                raise too_big
        return bytes(raw)

    async def run(self, fn: Any, *args: Any) -> Any:
        return await anyio.to_thread.run_sync(fn, *args, limiter=self.limiter)

    # -- routes ------------------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "in_flight": self.in_flight.count})

    async def models(self, request: Request) -> Response:
        self.authorize(request)
        data = [self._model(name) for name in self.modes()]
        return JSONResponse({"object": "list", "data": data})

    async def model(self, request: Request) -> Response:
        self.authorize(request)
        name = request.path_params["model"]
        self._mode(name)
        return JSONResponse(self._model(name))

    def _model(self, name: str) -> dict[str, Any]:
        return {"id": name, "object": "model", "created": self.created, "owned_by": MODEL}

    def _mode(self, name: str) -> AskMode:
        modes = self.modes()
        if name not in modes:
            raise ProtocolError(
                404, f"the model `{name}` does not exist: choose one of {', '.join(modes)}",
                code="model_not_found", param="model",
            )  # fmt: skip
        return modes[name]

    async def chat(self, request: Request) -> Response:
        self.authorize(request)
        req = protocol.parse(protocol.ChatRequest, await self.body(request))
        mode = self._mode(req.model)
        question, history = protocol.conversation(req.messages)
        if len(question) > self.options.max_question_chars:
            raise ProtocolError(
                400, f"the question is {len(question):,} characters long; the limit is "
                f"{self.options.max_question_chars:,}: ask a shorter question",
                code="question_too_long", param="messages",
            )  # fmt: skip
        reply = _Reply(
            id=f"chatcmpl-{uuid.uuid4().hex}",
            created=int(time.time()),
            model=req.model,
            question=question,
            sources=self.options.sources_block if req.sources_block is None else req.sources_block,
            draft=self.options.draft if req.draft is None else req.draft,
        )
        events = self.assistant.ask_stream(question, req.k, mode, history)
        if not req.stream:
            with self.in_flight.track():
                answer = await self.run(partial(_final, events))
            return JSONResponse(protocol.completion(*reply.head(), reply.content(answer), answer))
        # The first step runs before the response starts, so that a bad question or a
        # missing index still gets its own status code.
        try:
            first = await self.run(_step, events)
        except BaseException:
            await _close(events)
            raise
        body = self._stream(reply, first, events)
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return _EventStream(body, events, media_type="text/event-stream", headers=headers)

    async def _stream(
        self, reply: _Reply, event: str | Answer | None, events: Iterator[str | Answer]
    ) -> AsyncGenerator[bytes, None]:
        with self.in_flight.track():
            yield protocol.sse(protocol.chunk(*reply.head(), {"role": "assistant", "content": ""}))
            try:
                wrote = time.monotonic()
                while isinstance(event, str):  # raw LLM deltas: drained, see the module doc
                    if reply.draft:  # shown as "thinking" by clients that know the field
                        delta = {"reasoning_content": event}
                        yield protocol.sse(protocol.chunk(*reply.head(), delta))
                    elif time.monotonic() - wrote > self.options.keepalive_seconds:
                        yield b": keep-alive\n\n"
                        wrote = time.monotonic()
                    event = await self.run(_step, events)
                if event is None:
                    raise RagError("the assistant ended without an answer")
                for piece in protocol.pieces(reply.content(event)):
                    yield protocol.sse(protocol.chunk(*reply.head(), {"content": piece}))
                yield protocol.sse(protocol.chunk(*reply.head(), {}, "stop", event))
                yield protocol.sse("[DONE]")
            except RagError as exc:  # the headers are sent: the error travels as an event
                log.warning("answer failed mid-stream: %s", exc)
                yield protocol.sse(rag_error(exc).body())
            except Exception:
                log.exception("unexpected error while streaming an answer")
                yield protocol.sse(_INTERNAL)

    async def retrieve(self, request: Request) -> Response:
        self.authorize(request)
        req = protocol.parse(protocol.RetrieveRequest, await self.body(request))
        history = [
            {"role": m.role, "content": protocol.text_of(m)}
            for m in req.history
            if m.role in ("user", "assistant")
        ]
        with self.in_flight.track():
            prep = await self.run(self.assistant.prepare, req.query, req.k, history)
        data = [protocol.passage_json(p, rank) for rank, p in enumerate(prep.passages, start=1)]
        return JSONResponse({"object": "list", "query": prep.query, "data": data})


@dataclass(frozen=True)
class _Reply:
    id: str
    created: int
    model: str
    question: str
    sources: bool
    draft: bool

    def head(self) -> tuple[str, int, str]:
        return self.id, self.created, self.model

    def content(self, answer: Answer) -> str:
        block = protocol.sources_block(answer, self.question) if self.sources else ""
        return answer.text + block


def _step(events: Iterator[str | Answer]) -> str | Answer | None:
    return next(events, None)


def _final(events: Iterator[str | Answer]) -> Answer:
    last = None
    for event in events:
        last = event
    if not isinstance(last, Answer):
        raise RagError("the assistant ended without an answer")
    return last


async def _close(events: Iterator[str | Answer]) -> None:
    """Close the answer generator (which stops its LLM request), even while cancelled."""
    close = getattr(events, "close", None)
    if close is not None:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(close)


class _EventStream(StreamingResponse):
    """A StreamingResponse that always closes its body and the answer generator behind it,
    also when the client disconnected and the response was cancelled mid-send."""

    def __init__(
        self, body: AsyncGenerator[bytes, None], events: Iterator[str | Answer], **kw: Any
    ) -> None:
        super().__init__(body, **kw)
        self._body, self._events = body, events

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self._body.aclose()
            await _close(self._events)


async def _protocol_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProtocolError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


async def _rag_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RagError)
    return await _protocol_error(request, rag_error(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
    message = f"{request.method} {request.url.path}: {exc.detail}"
    body = protocol.error_body(message, code=code)
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error answering %s %s", request.method, request.url.path)
    return JSONResponse(_INTERNAL, status_code=500)


def create_app(assistant: Assistant, options: ServerOptions | None = None) -> Starlette:
    """The OpenAI-compatible API of one loaded assistant."""
    api = _Api(assistant, options or ServerOptions())
    routes = [
        Route("/health", api.health, methods=["GET"]),
        Route("/v1/models", api.models, methods=["GET"]),
        Route("/v1/models/{model:path}", api.model, methods=["GET"]),
        Route("/v1/chat/completions", api.chat, methods=["POST"]),
        Route("/v1/retrieve", api.retrieve, methods=["POST"]),
    ]
    handlers = {
        ProtocolError: _protocol_error,
        RagError: _rag_error,
        HTTPException: _http_error,
        Exception: _unexpected,
    }
    cors = Middleware(
        CORSMiddleware,
        allow_origins=list(api.options.cors_origins),
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type"],
    )
    middleware = [cors] if api.options.cors_origins else []
    app = Starlette(routes=routes, exception_handlers=handlers, middleware=middleware)
    app.state.api = api
    return app
