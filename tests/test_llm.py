"""The LLM seam against a real OpenAI-protocol server over real HTTP (no mocked client).

Timeouts are small (0.5 s without progress) so that every failure path runs in about a
second; elapsed-time bounds are loose because CI machines are slow and shared.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any, cast

import pytest
from openai_server import Fault, OpenAIServer

from rag.errors import ConfigError, LLMError
from rag.llm import ChatModel, LLMConfig, Message, OpenAIChat, _retry_after, make_chat_model

pytestmark = pytest.mark.timeout(30)

QUESTION: list[Message] = [
    {"role": "system", "content": "只根据资料回答。"},
    {"role": "user", "content": "湖州今年的粮食产量是多少？"},
]
EXPECTED = "OK: 湖州今年的粮食产量是多少？"
STALL = 0.5  # LLMConfig.timeout in these tests


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as srv:
        yield srv


def chat(srv: OpenAIServer, max_retry_after: float = 2.0, **overrides: Any) -> OpenAIChat:
    settings: dict[str, Any] = {
        "model": srv.models[0],
        "base_url": srv.url,
        "api_key": srv.api_key,
        "timeout": STALL,
        "total_timeout": 10.0,
        "max_retries": 2,
    }
    config = LLMConfig(**{**settings, **overrides})
    # Short backoff keeps the retry tests fast; the policy itself is unchanged.
    return OpenAIChat(config, backoff=0.05, max_backoff=0.2, max_retry_after=max_retry_after)


def drain(model: ChatModel) -> tuple[list[str], BaseException | None]:
    """The pieces streamed before the failure, and the failure (None if none)."""
    pieces: list[str] = []
    try:
        for piece in model.stream(QUESTION):
            pieces.append(piece)
    except LLMError as exc:
        return pieces, exc
    return pieces, None


def timed_failure(model: ChatModel) -> tuple[list[str], str, float]:
    start = time.monotonic()
    pieces, error = drain(model)
    assert isinstance(error, LLMError), f"expected LLMError, streamed {pieces!r}"
    return pieces, str(error), time.monotonic() - start


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed again: nothing listens there


# --- the happy path -------------------------------------------------------------------


def test_streams_the_reply_in_order(server: OpenAIServer) -> None:
    model: ChatModel = make_chat_model(chat(server).config)
    pieces = list(model.stream(QUESTION))
    assert len(pieces) > 3  # really streamed, not one blob
    assert "".join(pieces) == EXPECTED
    assert model.name == "test-model"


def test_request_carries_model_messages_temperature_and_stream(server: OpenAIServer) -> None:
    assert chat(server, temperature=0.3, max_tokens=123).complete(QUESTION) == EXPECTED
    (body,) = server.requests
    assert body["model"] == "test-model"
    assert body["messages"] == QUESTION
    assert body["temperature"] == 0.3
    assert body["max_tokens"] == 123
    assert body["stream"] is True


def test_tolerates_empty_choices_null_delta_and_reasoning() -> None:
    with OpenAIServer(reasoning="先想一想……") as srv:  # DeepSeek-R1 style reasoning deltas
        null_delta = '{"choices": [{"index": 0, "delta": null, "finish_reason": null}]}'
        srv.fail_next(Fault.empty_choices_chunk(0), Fault.empty_choices_chunk(3))
        srv.fail_next(Fault.inject(2, null_delta), Fault.inject(2, '{"id": "no-choices"}'))
        model = chat(srv)
        for _ in range(4):
            assert model.complete(QUESTION) == EXPECTED
        assert len(srv.requests) == 4


def test_abandoning_the_stream_early_does_not_hang(server: OpenAIServer) -> None:
    stream = chat(server).stream(QUESTION)
    assert next(stream) == "O"
    stream.close()  # the caller lost interest: the worker must wind down on its own


# --- retries before the first token ---------------------------------------------------


def test_503_then_success_is_retried(server: OpenAIServer) -> None:
    server.fail_next(Fault.status(503))
    assert chat(server).complete(QUESTION) == EXPECTED
    assert len(server.requests) == 2


def test_429_retry_after_is_honoured(server: OpenAIServer) -> None:
    server.fail_next(Fault.status(429, retry_after=0.6))
    start = time.monotonic()
    assert chat(server).complete(QUESTION) == EXPECTED
    assert 0.55 <= time.monotonic() - start < 3.0  # backoff alone would be ~0.05 s
    assert len(server.requests) == 2


def test_429_retry_after_is_capped(server: OpenAIServer) -> None:
    server.fail_next(Fault.status(429, retry_after=3600))
    start = time.monotonic()
    assert chat(server, max_retry_after=0.3).complete(QUESTION) == EXPECTED
    assert time.monotonic() - start < 2.0


def test_retry_after_past_the_deadline_gives_up_at_once(server: OpenAIServer) -> None:
    server.fail_always(Fault.status(429, retry_after=30))
    model = chat(server, total_timeout=3.0, max_retry_after=60.0)
    _, message, elapsed = timed_failure(model)
    assert "HTTP 429" in message and "no time left" in message
    assert elapsed < 1.5
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "headers, seconds",
    [({"retry-after": "2"}, 2.0), ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
     ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0), ({"retry-after": "soon"}, None),
     ({}, None)],
)  # fmt: skip
def test_retry_after_header_forms(headers: dict[str, str], seconds: float | None) -> None:
    assert _retry_after(headers) == seconds


def test_sticky_500_fails_after_max_retries(server: OpenAIServer) -> None:
    server.fail_always(Fault.status(500))
    _, message, elapsed = timed_failure(chat(server, max_retries=2))
    assert "HTTP 500" in message and "3 attempts" in message
    assert len(server.requests) == 3
    assert elapsed < 3.0


def test_stall_before_first_byte_fails_within_the_timeout(server: OpenAIServer) -> None:
    server.fail_always(Fault.stall_before())
    _, message, elapsed = timed_failure(chat(server, max_retries=0))
    assert "did not answer" in message and server.url in message
    assert STALL * 0.8 <= elapsed < STALL + 2.0
    assert len(server.requests) == 1


def test_one_stall_before_first_byte_is_retried(server: OpenAIServer) -> None:
    server.fail_next(Fault.stall_before())
    assert chat(server).complete(QUESTION) == EXPECTED
    assert len(server.requests) == 2


def test_disconnect_before_first_token_is_retried(server: OpenAIServer) -> None:
    server.fail_next(Fault.disconnect(0))
    assert chat(server).complete(QUESTION) == EXPECTED
    assert len(server.requests) == 2


# --- never retried ----------------------------------------------------------------------


def test_wrong_api_key_fails_at_once(server: OpenAIServer) -> None:
    _, message, elapsed = timed_failure(chat(server, api_key="sk-wrong"))
    assert "the endpoint rejected the API key: check OPENAI_API_KEY" in message
    assert len(server.requests) == 1
    assert elapsed < 2.0


def test_unknown_model_fails_at_once(server: OpenAIServer) -> None:
    _, message, _ = timed_failure(chat(server, model="qwen-nope"))
    assert f"model 'qwen-nope' not found at {server.url}: set RAG_LLM_MODEL" in message
    assert len(server.requests) == 1


@pytest.mark.parametrize("code", [400, 401, 403, 404, 422])
def test_client_errors_are_never_retried(server: OpenAIServer, code: int) -> None:
    server.fail_always(Fault.status(code, body="<html>nginx says no</html>"))
    _, message, _ = timed_failure(chat(server))
    assert len(server.requests) == 1
    assert "attempts" not in message


def test_connection_refused_names_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    config = LLMConfig(model="m", base_url=url, api_key="k", timeout=STALL, max_retries=1)
    _, message, elapsed = timed_failure(OpenAIChat(config, backoff=0.05))
    assert f"cannot reach the LLM endpoint at {url}: is the server running?" in message
    assert "OPENAI_BASE_URL" in message
    assert elapsed < 3.0


# --- failures after the first token: LLMError, no retry, never a hang -----------------


def test_stall_mid_stream_fails_quickly(server: OpenAIServer) -> None:
    server.fail_next(Fault.stall_after(3))
    pieces, message, elapsed = timed_failure(chat(server))
    assert "".join(pieces) == EXPECTED[:6]  # pieces of 1, 2, 3 characters
    assert "stalled" in message
    assert elapsed < STALL + 2.0
    assert len(server.requests) == 1


def test_keepalive_comments_do_not_hide_a_stall(server: OpenAIServer) -> None:
    # The socket is never idle, so the HTTP read timeout alone would wait forever.
    server.fail_next(Fault.keepalive(2, every=0.05))
    pieces, message, elapsed = timed_failure(chat(server))
    assert pieces and "stalled" in message
    assert elapsed < STALL + 2.0


def test_total_timeout_caps_a_slow_but_steady_stream() -> None:
    with OpenAIServer(reply=lambda _: "慢" * 200, delay=0.05) as srv:
        pieces, message, elapsed = timed_failure(chat(srv, total_timeout=1.0))
    assert pieces and "total_timeout=1 s" in message
    assert 0.9 <= elapsed < 2.5


def test_malformed_chunk_fails(server: OpenAIServer) -> None:
    server.fail_next(Fault.malformed(2))
    pieces, message, _ = timed_failure(chat(server))
    assert pieces == ["O", "K:"]
    assert "malformed chunk" in message
    assert len(server.requests) == 1


def test_json_that_is_not_a_chunk_fails(server: OpenAIServer) -> None:
    server.fail_next(Fault.inject(1, "[1, 2]"))
    _, message, _ = timed_failure(chat(server))
    assert "malformed chunk" in message


def test_disconnect_mid_stream_fails(server: OpenAIServer) -> None:
    server.fail_next(Fault.disconnect(2))
    pieces, message, _ = timed_failure(chat(server))
    assert pieces == ["O", "K:"]
    assert "dropped the connection" in message
    assert len(server.requests) == 1


def test_error_event_mid_stream_fails(server: OpenAIServer) -> None:
    server.fail_next(Fault.inject(2, '{"error": {"message": "overloaded"}}'))
    _, message, _ = timed_failure(chat(server))
    assert "reported an error: overloaded" in message


# --- configuration and packaging ------------------------------------------------------


@pytest.mark.parametrize(
    "field, value",
    [("model", " "), ("timeout", 0), ("total_timeout", -1), ("max_retries", -1),
     ("temperature", 3.0), ("max_tokens", 0)],
)  # fmt: skip
def test_invalid_settings_raise_config_error(field: str, value: object) -> None:
    settings: dict[str, Any] = {"model": "m", "base_url": None, "api_key": "k", field: value}
    with pytest.raises(ConfigError):
        LLMConfig(**settings)


def test_missing_api_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        OpenAIChat(LLMConfig(model="m", base_url=None, api_key=""))


def test_api_key_stays_out_of_reprs() -> None:
    assert "sk-secret" not in repr(LLMConfig(model="m", base_url=None, api_key="sk-secret"))


def test_importing_the_module_does_not_import_openai() -> None:
    code = "import sys, rag.llm; sys.exit('openai' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# --- the test server itself (others reuse it) --------------------------------------------


def test_server_speaks_plain_json_and_lists_models(server: OpenAIServer) -> None:
    import openai

    client = openai.OpenAI(api_key=server.api_key, base_url=server.url, max_retries=0)
    reply = client.chat.completions.create(model="test-model", messages=cast(Any, QUESTION))
    assert reply.choices[0].message.content == EXPECTED
    assert [m.id for m in client.models.list()] == ["test-model"]


def test_closing_the_server_ends_stalls_promptly() -> None:
    srv = OpenAIServer()
    srv.fail_always(Fault.stall_before())
    pieces, _ = drain(chat(srv, max_retries=0))
    start = time.monotonic()
    srv.close()
    assert not pieces and time.monotonic() - start < 1.0
