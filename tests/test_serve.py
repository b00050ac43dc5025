"""`rag serve`: the official `openai` client against the real server on a localhost port.

The app runs under uvicorn in a thread (one test also runs `rag serve` as a subprocess);
the upstream LLM, where there is one, is the fault-injecting server of tests/openai_server.py.
Real model, real index, real HTTP; the `openai` client is never patched.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import uvicorn
from openai_server import Fault, OpenAIServer

from rag import Assistant
from rag.config import EmbedSettings, Settings
from rag.embed import SentenceTransformerEmbedder
from rag.llm import LLMConfig
from rag.server import ServerOptions, create_app
from rag.server.run import bind
from rag.text import squeeze

pytestmark = pytest.mark.slow

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"
MODEL = "zhejiang-news-rag"
ZH_QUESTION = "绍兴的网上轻纺城去年撮合业务量达到多少？"
TRIPOD = "湖州首次颁发的“生态鼎”中，哪个县捧获了生态文明冠军鼎？"
OUT_OF_CORPUS = "2030年火星基地的建设进展如何？"


class Served:
    """An app under uvicorn in a background thread, on a free localhost port."""

    def __init__(self, app: Any) -> None:
        sock = bind("127.0.0.1", 0)
        self.port = sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.base}/v1"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]})
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)

    def client(self, api_key: str = "unused") -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url, api_key=api_key, max_retries=0, timeout=60)

    def health(self) -> dict[str, Any]:
        return httpx.get(f"{self.base}/health").json()  # type: ignore[no-any-return]

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@pytest.fixture(scope="module")
def served(assistant: Assistant) -> Iterator[Served]:
    s = Served(create_app(assistant))
    yield s
    s.close()


@pytest.fixture
def client(served: Served) -> openai.OpenAI:
    return served.client()


def ask(client: openai.OpenAI, question: str, **kw: Any) -> Any:
    return client.chat.completions.create(
        model=kw.pop("model", MODEL), messages=[{"role": "user", "content": question}], **kw
    )


def check_exact(citations: list[dict[str, Any]], text: str) -> None:
    """Every citation quotes its file at its offsets; markers are numbered as cited."""
    assert citations
    assert [c["n"] for c in citations] == list(range(1, len(citations) + 1))
    markers = [int(n) for n in re.findall(r"\[(\d+)\]", text)]
    assert list(dict.fromkeys(markers)) == [c["n"] for c in citations]
    for c in citations:
        original = (CORPUS / c["source"]).read_text(encoding="utf-8")
        assert squeeze(original[c["start"] : c["end"]]) == squeeze(c["quote"])
        assert set(c["meta"]) == {"publication", "issue", "date", "dateline", "byline"}
        assert isinstance(c["supported"], bool) and c["title"]


def stream_events(served: Served, body: dict[str, Any], **headers: str) -> list[str]:
    """The raw `data:` payloads of a streamed response, in order."""
    with httpx.stream(
        "POST", f"{served.url}/chat/completions", json=body, headers=headers, timeout=60
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return [line[6:] for line in response.iter_lines() if line.startswith("data: ")]


# -- models and answers ------------------------------------------------------------------


def test_models_lists_the_assistant_and_its_extractive_variant(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert ids == [MODEL, f"{MODEL}-extractive"]  # no `-llm`: no LLM is configured
    assert client.models.retrieve(f"{MODEL}-extractive").id == f"{MODEL}-extractive"


def test_answer_carries_exact_citations_without_client_warnings(client: openai.OpenAI) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the client parses our shape without complaint
        completion = ask(client, ZH_QUESTION)
    content = completion.choices[0].message.content
    extra = completion.model_extra
    assert completion.object == "chat.completion" and completion.model == MODEL
    assert completion.choices[0].finish_reason == "stop"
    assert extra["answered"] is True and extra["mode"] == "extractive"
    assert "311亿" in content and any("311亿" in c["quote"] for c in extra["citations"])
    answer_text, _, block = content.partition("\n\n---\n")
    check_exact(extra["citations"], answer_text)
    assert block.startswith("**来源**") and all(
        f"[{c['n']}]" in block for c in extra["citations"]
    ), "text-only clients see the sources too"


def test_stream_sends_the_same_answer_and_citations_in_the_last_chunk(
    client: openai.OpenAI, served: Served
) -> None:
    whole = ask(client, ZH_QUESTION)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        chunks = list(ask(client, ZH_QUESTION, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert len(chunks) > 3, "the text arrives in several deltas"
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.model_extra["citations"] == whole.model_extra["citations"]
    assert last.model_extra["answered"] is True
    assert all("citations" not in (c.model_extra or {}) for c in chunks[:-1])
    # On the wire: the chunk with the citations comes right before `data: [DONE]`.
    body = {"model": MODEL, "messages": [{"role": "user", "content": ZH_QUESTION}], "stream": True}
    events = stream_events(served, body)
    assert events[-1] == "[DONE]"
    assert json.loads(events[-2])["citations"] == whole.model_extra["citations"]


def test_follow_up_uses_the_history(client: openai.OpenAI) -> None:
    first = ask(client, TRIPOD)
    follow_up = "那么颁奖是在哪一天？"  # the award of the previous question; alone: refused
    messages: list[Any] = [
        {"role": "system", "content": "You are a helpful assistant."},  # ignored
        {"role": "user", "content": TRIPOD},
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": [{"type": "text", "text": follow_up}]},  # content parts
    ]
    reply = client.chat.completions.create(model=MODEL, messages=messages)
    alone = ask(client, follow_up)
    cited = reply.model_extra["citations"]
    assert reply.model_extra["answered"] and cited
    assert cited[0]["source"] == "002_25df68110ca78dc9.txt"
    assert "9月4日" in " ".join(c["quote"] for c in cited)
    assert not alone.model_extra["answered"], "without the history it cannot be answered"


def test_refusal_is_an_ordinary_answer_marked_unanswered(client: openai.OpenAI) -> None:
    completion = ask(client, OUT_OF_CORPUS)
    extra = completion.model_extra
    assert extra["answered"] is False and extra["citations"] == []
    assert "语料中没有找到" in completion.choices[0].message.content
    assert "---" not in completion.choices[0].message.content, "no sources block when none"


def test_sources_block_can_be_switched_off_per_request(client: openai.OpenAI) -> None:
    plain = ask(client, ZH_QUESTION, extra_body={"sources_block": False, "k": 3})
    content = plain.choices[0].message.content
    assert "来源" not in content and "---" not in content
    check_exact(plain.model_extra["citations"], content)


def test_retrieve_returns_passages_with_their_metadata(served: Served) -> None:
    response = httpx.post(f"{served.url}/retrieve", json={"query": ZH_QUESTION, "k": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list" and body["query"] == ZH_QUESTION
    assert [p["rank"] for p in body["data"]] == [1, 2, 3]
    top = body["data"][0]
    assert "311亿" in top["text"] and set(top["meta"]) >= {"publication", "date"}
    original = (CORPUS / top["source"]).read_text(encoding="utf-8")
    assert squeeze(original[top["start"] : top["end"]]) == squeeze(top["text"])
    scores = [p["score"] for p in body["data"]]
    assert scores == sorted(scores, reverse=True)


# -- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("messages", "extra", "status", "code"),
    [
        ([{"role": "user", "content": "   "}], {}, 400, "invalid_question"),
        ([{"role": "system", "content": "hi"}], {}, 400, "invalid_value"),
        ([{"role": "user", "content": "浙江" * 2500}], {}, 400, "question_too_long"),
        ([{"role": "user", "content": ZH_QUESTION}], {"k": 0}, 400, "invalid_value"),
        ([{"role": "user", "content": ZH_QUESTION}], {"model": "gpt-4o"}, 404, "model_not_found"),
    ],
    ids=["empty", "no-user-message", "over-long", "bad-k", "unknown-model"],
)
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_bad_requests_get_openai_errors(
    client: openai.OpenAI,
    messages: list[Any],
    extra: dict[str, Any],
    status: int,
    code: str,
    stream: bool,
) -> None:
    extra = dict(extra)  # the parameter is shared between the two stream cases
    model = extra.pop("model", MODEL)
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(
            model=model, messages=messages, stream=stream, extra_body=extra
        )
    err = caught.value
    assert err.status_code == status
    assert isinstance(err.body, dict) and err.body["code"] == code and err.body["message"]
    assert "Traceback" not in err.response.text


def test_malformed_oversized_and_unrouted_requests(served: Served) -> None:
    url = f"{served.url}/chat/completions"
    bad_json = httpx.post(url, content=b"{not json", headers={"content-type": "application/json"})
    assert bad_json.status_code == 400 and "not valid JSON" in bad_json.json()["error"]["message"]
    huge = {"model": MODEL, "messages": [{"role": "user", "content": "浙" * 400_000}]}
    too_big = httpx.post(url, json=huge)
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "request_too_large"
    missing = httpx.get(f"{served.url}/nowhere")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong_method = httpx.get(url)
    assert wrong_method.status_code == 405 and "error" in wrong_method.json()


def test_missing_index_is_a_503_that_says_what_to_do(
    tmp_path: Path, embed_settings: EmbedSettings, embedder: SentenceTransformerEmbedder
) -> None:
    lonely = Assistant(Settings(index=tmp_path / "none", embed=embed_settings), embedder=embedder)
    s = Served(create_app(lonely))
    try:
        with pytest.raises(openai.InternalServerError) as caught:
            ask(s.client(), ZH_QUESTION)
        assert caught.value.status_code == 503
        assert caught.value.body["code"] == "index_unavailable"  # type: ignore[index]
        assert "rag ingest" in caught.value.body["message"]  # type: ignore[index]
    finally:
        s.close()


def test_bearer_token_is_required_when_configured(assistant: Assistant) -> None:
    s = Served(create_app(assistant, ServerOptions(api_key="s3cret")))
    try:
        with pytest.raises(openai.AuthenticationError) as caught:
            s.client("wrong").models.list()
        assert caught.value.body["code"] == "invalid_api_key"  # type: ignore[index]
        bare = httpx.post(f"{s.url}/chat/completions", json={"model": MODEL, "messages": []})
        assert bare.status_code == 401 and bare.headers["www-authenticate"] == "Bearer"
        assert "Authorization: Bearer" in bare.json()["error"]["message"]
        assert httpx.post(f"{s.url}/retrieve", json={"query": "x"}).status_code == 401
        assert s.health()["status"] == "ok", "the health check needs no key"
        good = s.client("s3cret")
        assert next(m.id for m in good.models.list()) == MODEL
        assert ask(good, ZH_QUESTION).model_extra["answered"] is True
    finally:
        s.close()


def test_browser_pages_are_allowed_only_when_named(assistant: Assistant, served: Served) -> None:
    preflight = {
        "Origin": "http://localhost:3000",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    closed = httpx.options(f"{served.url}/chat/completions", headers=preflight)
    assert "access-control-allow-origin" not in closed.headers
    s = Served(create_app(assistant, ServerOptions(cors_origins=("http://localhost:3000",))))
    try:
        opened = httpx.options(f"{s.url}/chat/completions", headers=preflight)
        assert opened.status_code == 200
        assert opened.headers["access-control-allow-origin"] == "http://localhost:3000"
        assert "authorization" in opened.headers["access-control-allow-headers"].lower()
        other = httpx.options(
            f"{s.url}/chat/completions", headers={**preflight, "Origin": "http://evil.example"}
        )
        assert "access-control-allow-origin" not in other.headers
        models = httpx.get(f"{s.url}/models", headers={"Origin": "http://localhost:3000"})
        assert models.headers["access-control-allow-origin"] == "http://localhost:3000"
    finally:
        s.close()


# -- with an upstream LLM ------------------------------------------------------------------


def cite_where(needle: str, template: str) -> Callable[[list[dict[str, Any]]], str]:
    """A 'model' citing, with `template`'s {n}, the passage that holds `needle`."""

    def reply(messages: list[dict[str, Any]]) -> str:
        user = next(m["content"] for m in messages if m["role"] == "user")
        bodies = re.findall(r'<passage n="(\d+)"[^>]*>\n(.*?)\n</passage>', user, re.S)
        found = [int(n) for n, body in bodies if needle in squeeze(body)]
        return template.format(n=found[0] if found else 99)

    return reply


@pytest.fixture
def upstream() -> Iterator[OpenAIServer]:
    with OpenAIServer() as srv:
        yield srv


@pytest.fixture
def make_llm_served(
    upstream: OpenAIServer,
    demo_index: Path,
    embed_settings: EmbedSettings,
    embedder: SentenceTransformerEmbedder,
) -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def make(total_timeout: float = 5.0) -> Served:
        config = LLMConfig(
            model=upstream.models[0],
            base_url=upstream.url,
            api_key=upstream.api_key,
            timeout=0.5,
            total_timeout=total_timeout,
            max_retries=1,
        )
        settings = Settings(index=demo_index, embed=embed_settings, llm=config)
        started.append(Served(create_app(Assistant(settings, embedder=embedder))))
        return started[-1]

    yield make
    for s in started:
        s.close()


@pytest.fixture
def llm_served(make_llm_served: Callable[..., Served]) -> Served:
    return make_llm_served()


def test_llm_answer_streams_its_verified_text(upstream: OpenAIServer, llm_served: Served) -> None:
    # The model writes full-width markers with its passage number; the client gets [1].
    upstream.reply = cite_where("长兴县捧获", "长兴县捧获了“生态文明冠军鼎”【{n}】。")
    client = llm_served.client()
    assert f"{MODEL}-llm" in [m.id for m in client.models.list()]
    chunks = list(ask(client, TRIPOD, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("长兴县捧获了“生态文明冠军鼎”[1]。") and "【" not in text
    extra = chunks[-1].model_extra
    assert extra["mode"] == "llm" and extra["answered"] and extra["notice"] is None
    check_exact(extra["citations"], text.partition("\n\n---\n")[0])
    assert upstream.requests[-1]["stream"] is True


def test_llm_draft_streams_as_reasoning_before_the_verified_text(
    upstream: OpenAIServer, llm_served: Served
) -> None:
    upstream.reply = cite_where("长兴县捧获", "长兴县捧获了“生态文明冠军鼎”【{n}】。")
    chunks = list(ask(llm_served.client(), TRIPOD, stream=True, extra_body={"draft": True}))
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    drafts = [(d.model_extra or {}).get("reasoning_content") for d in deltas]
    n_draft = sum(1 for x in drafts if x)
    assert n_draft > 3, "the draft streams while the LLM writes"
    assert all(drafts[1 : 1 + n_draft]) and not any(drafts[1 + n_draft :]), "draft first"
    raw = "".join(x for x in drafts if x)
    assert raw == upstream.reply(upstream.requests[-1]["messages"]), "the LLM's own words"
    text = "".join(d.content or "" for d in deltas)
    assert "【" in raw and text.startswith("长兴县捧获了“生态文明冠军鼎”[1]。")
    assert chunks[-1].model_extra["citations"]


def test_follow_up_is_rewritten_by_the_llm_from_the_history(
    upstream: OpenAIServer, llm_served: Served
) -> None:
    def reply(messages: list[dict[str, Any]]) -> str:
        if "standalone" in messages[0]["content"]:
            return "湖州首次颁发生态鼎时，共有多少个乡镇(街道)夺鼎？"
        return cite_where("36个乡镇", "共有36个乡镇(街道)夺鼎[{n}]。")(messages)

    upstream.reply = reply
    client = llm_served.client()
    first = ask(client, TRIPOD, model=f"{MODEL}-extractive").choices[0].message.content
    assert "**来源**" in first
    history = [{"role": "user", "content": TRIPOD}, {"role": "assistant", "content": first}]
    messages: list[Any] = [*history, {"role": "user", "content": "那乡镇呢？"}]
    answer = client.chat.completions.create(model=f"{MODEL}-llm", messages=messages)
    rewrite = next(r for r in upstream.requests if "standalone" in r["messages"][0]["content"])
    conversation = rewrite["messages"][1]["content"]
    assert TRIPOD in conversation and "那乡镇呢？" in conversation
    assert "来源" not in conversation, "our Sources block is not sent back to the LLM"
    assert answer.model_extra["mode"] == "llm"
    assert "36个乡镇" in answer.model_extra["citations"][0]["quote"]


@pytest.mark.parametrize(
    "fault", [Fault.status(500), Fault.stall_before(None)], ids=["500", "stall"]
)
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_failing_upstream_falls_back_to_extractive_with_a_notice(
    upstream: OpenAIServer, llm_served: Served, fault: Fault, stream: bool
) -> None:
    upstream.fail_always(fault)
    client = llm_served.client()
    if stream:
        chunks = list(ask(client, ZH_QUESTION, stream=True))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        extra = chunks[-1].model_extra
    else:
        completion = ask(client, ZH_QUESTION)
        text, extra = completion.choices[0].message.content, completion.model_extra
    assert extra["mode"] == "extractive" and extra["answered"]
    assert "The LLM failed" in extra["notice"]
    assert "311亿" in text
    check_exact(extra["citations"], text.partition("\n\n---\n")[0])


def test_client_disconnect_mid_stream_frees_the_worker(
    upstream: OpenAIServer, make_llm_served: Callable[..., Served]
) -> None:
    # The upstream LLM would take minutes to finish, and the server would wait for it.
    llm_served = make_llm_served(total_timeout=600.0)
    upstream.reply = lambda messages: "长兴县捧获了冠军鼎。" * 400
    upstream.delay = 0.1
    client = llm_served.client()
    with ask(client, TRIPOD, stream=True) as stream:
        first = next(iter(stream))  # the role chunk: the answer is being written upstream
        assert first.choices[0].delta.role == "assistant"
        assert llm_served.health()["in_flight"] == 1
    # The client hung up: the server stops answering and hangs up on the upstream LLM.
    deadline = time.monotonic() + 10
    while llm_served.health()["in_flight"] or upstream._conns:
        assert time.monotonic() < deadline, "the worker kept answering a client that left"
        time.sleep(0.1)
    upstream.delay = 0.0
    upstream.reply = cite_where("长兴县捧获", "长兴县捧获了冠军鼎[{n}]。")
    assert ask(client, TRIPOD).model_extra["mode"] == "llm", "the server still answers"


# -- the command -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rag_serve(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "rag", "serve", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )


def test_rag_serve_answers_the_openai_client(demo_index: Path, cli_env: dict[str, str]) -> None:
    port = _free_port()
    env = {**cli_env, "RAG_API_KEY": "k"}
    proc = rag_serve("--index", str(demo_index), "--port", str(port), env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "rag serve did not come up"
                time.sleep(0.5)
        client = openai.OpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0)
        completion = ask(client, ZH_QUESTION)
        assert "311亿" in completion.choices[0].message.content
        assert completion.model_extra["citations"]
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{base}/v1", api_key="nope", max_retries=0).models.list()
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        _, stderr = proc.communicate(timeout=30)
    # 130 after Ctrl-C; 0 where SIGINT was ignored when the process started (a background job)
    assert proc.returncode in (0, 130), stderr
    assert f"http://127.0.0.1:{port}/v1" in stderr and "Traceback" not in stderr


def test_rag_serve_fails_cleanly(tmp_path: Path, cli_env: dict[str, str]) -> None:
    proc = rag_serve("--index", str(tmp_path / "none"), "--port", str(_free_port()), env=cli_env)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "rag ingest" in stderr and "Traceback" not in stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        proc = rag_serve("--index", str(tmp_path / "none"), "--port", port, env=cli_env)
        _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "choose another --port" in stderr
    assert "Traceback" not in stderr
