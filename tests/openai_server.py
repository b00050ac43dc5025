"""A local HTTP server speaking the OpenAI chat-completions protocol, with scriptable faults.

Tests drive it over real HTTP with the real `openai` client:

    with OpenAIServer(reply=lambda messages: "你好") as srv:
        srv.fail_next(Fault.status(503), Fault.stall_before(0.2))  # one fault per request
        ...  # point the client at srv.url, api_key=srv.api_key, model=srv.models[0]
        assert srv.requests[0]["stream"] is True

`POST /v1/chat/completions` (SSE if `"stream": true`, else JSON) and `GET /v1/models` check
`Authorization: Bearer <api_key>` (401); chat checks the model (404) and records every body
in `srv.requests`, faulted ones included. Each request consumes one queued fault; then the
sticky one (`fail_always`) applies, if any. Streams are chunked, as real servers' are, so a
cut connection is visible. `close()` ends stalls (they wait on an Event) and joins threads.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import cycle
from typing import Any

Reply = Callable[[list[dict[str, Any]]], str]


def echo(messages: list[dict[str, Any]]) -> str:
    """The default reply: deterministic, and shows which message the model was given."""
    users = [m.get("content", "") for m in messages if m.get("role") == "user"]
    return f"OK: {users[-1] if users else ''}"


@dataclass(frozen=True)
class Fault:
    """One misbehaviour; build it with the class methods below."""

    kind: str
    code: int = 200
    body: Any = None  # dict: sent as JSON; str: sent raw (proxies answer with HTML)
    retry_after: float | None = None
    after: int = 0  # content pieces streamed before the fault
    seconds: float | None = None  # stall length; None: until the server is closed
    data: str = ""

    @classmethod
    def status(cls, code: int, body: Any = None, retry_after: float | None = None) -> Fault:
        return cls("status", code=code, body=body, retry_after=retry_after)

    @classmethod
    def stall_before(cls, seconds: float | None = None) -> Fault:
        """Accept the request, send nothing for `seconds`, then answer normally."""
        return cls("stall", seconds=seconds)

    @classmethod
    def stall_after(cls, n_pieces: int, seconds: float | None = None) -> Fault:
        """Go silent mid-stream with the connection open, then go on."""
        return cls("stall", after=n_pieces, seconds=seconds)

    @classmethod
    def keepalive(cls, n_pieces: int, every: float = 0.1) -> Fault:
        """Stall mid-stream but send an SSE comment every `every` s (the socket never idles)."""
        return cls("keepalive", after=n_pieces, seconds=every)

    @classmethod
    def inject(cls, n_pieces: int, data: str) -> Fault:
        """Send the extra event `data: <data>`, then go on."""
        return cls("inject", after=n_pieces, data=data)

    @classmethod
    def malformed(cls, n_pieces: int = 0) -> Fault:
        return cls.inject(n_pieces, '{"choices": [{"delta": {"content": "trunc')

    @classmethod
    def empty_choices_chunk(cls, n_pieces: int = 0) -> Fault:
        """A `choices: []` chunk, as servers send for usage reports and keep-alives."""
        usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        return cls.inject(n_pieces, json.dumps({"choices": [], "usage": usage}))

    @classmethod
    def disconnect(cls, n_pieces: int = 0) -> Fault:
        """Close the socket mid-stream without ending the response."""
        return cls("disconnect", after=n_pieces)


class OpenAIServer:
    """The server, running in a background thread from construction until `close()`."""

    def __init__(
        self,
        reply: Reply = echo,
        *,
        api_key: str = "test-key",
        models: Sequence[str] = ("test-model",),
        piece_sizes: Sequence[int] = (1, 2, 3),  # characters per streamed piece, cycled
        delay: float = 0.0,  # seconds before each piece
        reasoning: str = "",  # streamed first as `reasoning_content`, as DeepSeek-R1 does
    ) -> None:
        self.reply, self.api_key, self.models = reply, api_key, tuple(models)
        self.piece_sizes, self.delay, self.reasoning = tuple(piece_sizes), delay, reasoning
        self.requests: list[dict[str, Any]] = []
        self.closing = threading.Event()
        self._faults: deque[Fault] = deque()
        self._sticky: Fault | None = None
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.app = self
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,))
        self._thread.start()

    def fail_next(self, *faults: Fault) -> None:
        """Queue faults for the next requests, one each."""
        with self._lock:
            self._faults.extend(faults)

    def fail_always(self, fault: Fault | None) -> None:
        """Apply `fault` to every request once the queue is empty (None: stop)."""
        with self._lock:
            self._sticky = fault

    def close(self) -> None:
        """Stop serving, end stalls, cut open connections and join every handler thread."""
        if self.closing.is_set():
            return
        self.closing.set()
        self._httpd.shutdown()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:  # an idle keep-alive connection blocks its thread in recv
            _hang_up(conn)
        self._httpd.server_close()  # joins the handler threads (daemon_threads is False)
        self._thread.join()

    def __enter__(self) -> OpenAIServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _next_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else self._sticky


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = False  # so that server_close() joins them
    app: OpenAIServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streams, like real endpoints
    server: _HTTPServer

    def handle(self) -> None:
        app = self.server.app
        with app._lock:
            app._conns.add(self.connection)
        if app.closing.is_set():  # accepted while close() was running: it may have missed us
            _hang_up(self.connection)
        with contextlib.suppress(OSError):  # the client hung up, or close() cut the connection
            super().handle()
        with app._lock:
            app._conns.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        models = [{"id": m, "object": "model", "owned_by": "test"} for m in self.server.app.models]
        if self.path.rstrip("/") != "/v1/models":
            self._send_json(404, _error(f"no route {self.path}", "not_found"))
        elif self._authorized():
            self._send_json(200, {"object": "list", "data": models})

    def do_POST(self) -> None:
        app = self.server.app
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.rstrip("/") != "/v1/chat/completions":
            return self._send_json(404, _error(f"no route {self.path}", "not_found"))
        body = json.loads(raw or b"{}")
        with app._lock:
            app.requests.append(body)
        fault, model = app._next_fault(), body.get("model")
        if fault and fault.kind == "status":
            headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
            body = fault.body if fault.body is not None else _error(f"injected HTTP {fault.code}")
            return self._send_json(fault.code, body, headers)
        if not self._authorized():
            return
        if model not in app.models:
            return self._send_json(
                404, _error(f"The model `{model}` does not exist", "model_not_found")
            )
        if fault and fault.kind == "stall" and fault.after == 0 and not self._wait(fault.seconds):
            self.close_connection = True
            return
        text = app.reply(body.get("messages", []))
        if body.get("stream"):
            return self._stream(model, text, fault)
        message = {"role": "assistant", "content": text}
        self._send_json(200, _completion(model, "chat.completion", message=message))

    def _stream(self, model: str, text: str, fault: Fault | None) -> None:
        app = self.server.app
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._event(_delta(model, {"role": "assistant", "content": ""}))
        for piece in _pieces(app.reasoning, app.piece_sizes):
            self._event(_delta(model, {"reasoning_content": piece, "content": None}))
        pieces = list(_pieces(text, app.piece_sizes))
        for i in range(len(pieces) + 1):
            if fault and fault.after == i and not self._misbehave(fault):
                return
            if i < len(pieces):
                if app.delay and not self._wait(app.delay):
                    return
                self._event(_delta(model, {"content": pieces[i]}))
        self._event(_delta(model, {}, finish_reason="stop"))
        self._event("[DONE]")
        self._write_chunk(b"")  # the terminating zero-length chunk

    def _misbehave(self, fault: Fault) -> bool:
        """Apply a mid-stream fault; False when the response must end here."""
        if fault.kind == "inject":
            self._event(fault.data)
        elif fault.kind == "stall" and fault.after > 0:
            return self._wait(fault.seconds)
        elif fault.kind == "keepalive":
            while self._wait(fault.seconds):
                self._write_chunk(b": keep-alive\n\n")
            return False
        elif fault.kind == "disconnect":
            self.close_connection = True
            _hang_up(self.connection)
            return False
        return True

    def _wait(self, seconds: float | None) -> bool:
        """Sleep until `seconds` pass (True) or the server closes (False)."""
        return not self.server.app.closing.wait(seconds)

    def _authorized(self) -> bool:
        """Whether the API key is right; if not, the 401 has been sent."""
        if self.headers.get("Authorization") == f"Bearer {self.server.app.api_key}":
            return True
        self._send_json(401, _error("Incorrect API key provided", "invalid_api_key"))
        return False

    def _send_json(self, code: int, body: Any, headers: dict[str, str] | None = None) -> None:
        is_text = isinstance(body, str)
        data = body.encode() if is_text else json.dumps(body, ensure_ascii=False).encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain" if is_text else "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _event(self, data: Any) -> None:
        text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        self._write_chunk(f"data: {text}\n\n".encode())

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


def _pieces(text: str, sizes: Sequence[int]) -> Iterator[str]:
    start = 0
    for size in cycle(sizes):
        if start >= len(text):
            return
        yield text[start : start + size]
        start += size


def _delta(model: str, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return _completion(model, "chat.completion.chunk", delta=delta, finish_reason=finish_reason)


def _completion(model: str, kind: str, finish_reason: str | None = "stop", **part: Any) -> Any:
    choice = {"index": 0, **part, "finish_reason": finish_reason}
    return dict(id="chatcmpl-test", object=kind, created=0, model=model, choices=[choice])


def _error(message: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": code}}


def _hang_up(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        conn.shutdown(socket.SHUT_RDWR)
