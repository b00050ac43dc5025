"""The wire format: OpenAI chat-completions shapes in and out, plus our citation fields.

Requests are parsed with pydantic models that accept unknown fields (clients send many:
`temperature`, `top_p`, `user`, `stream_options`, …) and ignore them. Responses are plain
dicts shaped like OpenAI's, so the official `openai` client parses them without warnings;
the fields OpenAI does not have (`citations`, `answered`, `mode`, `notice`, `short`) sit at
the top level of the completion object and of the final chunk, where the client exposes
them as `model_extra`.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rag.ask import MAX_K
from rag.llm import Message
from rag.text import detect_lang
from rag.types import Answer, Citation, Passage

QUOTE_CHARS = 80  # of each quote in the Sources block appended to the text
_SOURCES_LABEL = {"zh": "来源", "en": "Sources"}
_SOURCES_RULE = "\n\n---\n**"
T = TypeVar("T", bound=BaseModel)


class ProtocolError(Exception):
    """A request the server refuses, with the HTTP status and OpenAI error fields."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        param: str | None = None,
        kind: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param, self.kind = (
            status,
            message,
            code,
            param,
            kind,
        )

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.kind, self.code, self.param)


def error_body(
    message: str, kind: str = "invalid_request_error", code: str | None = None, param: Any = None
) -> dict[str, Any]:
    """OpenAI's error shape: {"error": {"message", "type", "param", "code"}}."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


# -- requests --------------------------------------------------------------------------


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    # A string, or content parts ([{"type": "text", "text": ...}, {"type": "image_url", ...}]).
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """POST /v1/chat/completions. Unknown fields are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    k: int = Field(5, ge=1, le=MAX_K)  # ours: passages to retrieve
    sources_block: bool | None = None  # ours: append a Sources block to the text (None: server)
    draft: bool | None = None  # ours: stream the LLM's draft as reasoning_content (None: server)


class RetrieveRequest(BaseModel):
    """POST /v1/retrieve: passages only, for users who bring their own LLM."""

    model_config = ConfigDict(extra="allow")

    query: str
    k: int = Field(5, ge=1, le=MAX_K)
    history: list[ChatMessage] = Field(default_factory=list)


def parse(model: type[T], raw: bytes) -> T:
    """Validate a JSON body; any problem becomes a 400 naming the field."""
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        if first["type"] == "json_invalid":
            raise ProtocolError(400, f"the body is not valid JSON: {first['msg']}") from None
        message = f"{where}: {first['msg']}" if where else first["msg"]
        raise ProtocolError(400, message, code="invalid_value", param=where or None) from None


def text_of(message: ChatMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    parts = message.content or []
    return "\n".join(str(p.get("text", "")) for p in parts if p.get("type") == "text")


def conversation(messages: list[ChatMessage]) -> tuple[str, list[Message]]:
    """The last user message is the question; user/assistant turns before it, the history.

    System (and developer, tool) messages are ignored: the assistant has its own prompt.
    """
    turns = [(m.role, text_of(m)) for m in messages if m.role in ("user", "assistant")]
    users = [i for i, (role, _) in enumerate(turns) if role == "user"]
    if not users:
        raise ProtocolError(
            400, "no user message: the last message with role 'user' is the question",
            code="invalid_value", param="messages",
        )  # fmt: skip
    last = users[-1]
    history: list[Message] = []
    for role, content in turns[:last]:
        text = strip_sources(content).strip()
        if text:
            history.append({"role": "user" if role == "user" else "assistant", "content": text})
    return turns[last][1], history


# -- responses -------------------------------------------------------------------------


def citation_json(c: Citation) -> dict[str, Any]:
    return asdict(c)  # n, source, title, quote, start, end, passage_id, supported, meta{…}


def passage_json(p: Passage, rank: int) -> dict[str, Any]:
    return {"rank": rank, **asdict(p)}


def extras(answer: Answer) -> dict[str, Any]:
    """Our fields, next to OpenAI's, in the completion object and the final chunk."""
    return {
        "answered": answer.answered,
        "mode": answer.mode,
        "notice": answer.notice,
        "short": getattr(answer, "short", None),  # the fact alone, when the library gives one
        "citations": [citation_json(c) for c in answer.citations],
    }


def sources_block(answer: Answer, question: str) -> str:
    """A compact Markdown list of the citations, for clients that show only the text."""
    if not answer.citations:
        return ""
    lines = [f"{_SOURCES_RULE}{_SOURCES_LABEL[detect_lang(question)]}**", ""]
    for c in answer.citations:
        quote = c.quote if len(c.quote) <= QUOTE_CHARS else c.quote[: QUOTE_CHARS - 1] + "…"
        where = " ".join(x for x in (c.meta.publication, c.meta.issue, c.meta.date) if x)
        flag = "" if c.supported else " ⚠"
        lines.append(
            f"- [{c.n}]{flag} {c.title}" + (f" · {where}" if where else "") + f" · {c.source}"
            f"：“{quote}”"
        )
    return "\n".join(lines)


def strip_sources(text: str) -> str:
    """The text without a Sources block we appended (clients send our answers back)."""
    for label in _SOURCES_LABEL.values():
        cut = text.rfind(f"{_SOURCES_RULE}{label}**")
        if cut >= 0:
            return text[:cut]
    return text


def completion(id_: str, created: int, model: str, content: str, answer: Answer) -> dict[str, Any]:
    message = {"role": "assistant", "content": content}
    choice = {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
    return {
        "id": id_,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [choice],
        **extras(answer),
    }


def chunk(
    id_: str,
    created: int,
    model: str,
    delta: dict[str, Any],
    finish_reason: Literal["stop"] | None = None,
    answer: Answer | None = None,
) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
    out = {
        "id": id_,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [choice],
    }
    return out if answer is None else {**out, **extras(answer)}


def sse(data: dict[str, Any] | str) -> bytes:
    """One server-sent event: `data: <json>` and a blank line."""
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {text}\n\n".encode()


def pieces(text: str, size: int = 24) -> list[str]:
    """The answer cut into stream deltas; joined, they are the text exactly."""
    return [text[i : i + size] for i in range(0, len(text), size)]
