"""`ask()` with an LLM: a real HTTP server speaking the OpenAI protocol stands in for it.

The server's `reply` plays the model: it reads the numbered passages it was sent and
answers like a model would, including its mistakes (bad markers, wrong numbers). The
`openai` client itself is never patched.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from openai_server import Fault, OpenAIServer

from rag import Answer, Assistant
from rag.config import EmbedSettings, Settings
from rag.embed import SentenceTransformerEmbedder
from rag.llm import LLMConfig
from rag.text import squeeze

pytestmark = pytest.mark.slow

QUESTION = "湖州首次颁发的“生态鼎”中，哪个县捧获了生态文明冠军鼎？"


def passage_numbers(messages: list[dict[str, Any]]) -> dict[int, str]:
    user = next(m["content"] for m in messages if m["role"] == "user")
    return {
        int(n): body
        for n, body in re.findall(r'<passage n="(\d+)"[^>]*>\n(.*?)\n</passage>', user, re.S)
    }


def cite_where(needle: str, template: str) -> Callable[[list[dict[str, Any]]], str]:
    """A 'model' that cites the passage holding `needle` with the template's {n}."""

    def reply(messages: list[dict[str, Any]]) -> str:
        found = [n for n, body in passage_numbers(messages).items() if needle in squeeze(body)]
        return template.format(n=found[0] if found else 99)

    return reply


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as srv:
        yield srv


def llm_assistant(
    srv: OpenAIServer,
    demo_index: Path,
    embed_settings: EmbedSettings,
    embedder: SentenceTransformerEmbedder,
    **config: Any,
) -> Assistant:
    cfg = LLMConfig(
        model=srv.models[0],
        base_url=srv.url,
        api_key=srv.api_key,
        timeout=config.pop("timeout", 2.0),
        total_timeout=config.pop("total_timeout", 10.0),
        max_retries=config.pop("max_retries", 1),
    )
    settings = Settings(index=demo_index, embed=embed_settings, llm=cfg)
    return Assistant(settings, embedder=embedder)


@pytest.fixture
def make(
    server: OpenAIServer,
    demo_index: Path,
    embed_settings: EmbedSettings,
    embedder: SentenceTransformerEmbedder,
) -> Callable[..., Assistant]:
    return lambda **cfg: llm_assistant(server, demo_index, embed_settings, embedder, **cfg)


def test_llm_answer_is_streamed_then_cited_and_verified(
    server: OpenAIServer, make: Callable[..., Assistant]
) -> None:
    server.reply = cite_where("长兴县捧获", "长兴县捧获了“生态文明冠军鼎”【{n}】。")
    events = list(make().ask_stream(QUESTION))
    deltas, final = events[:-1], events[-1]
    assert isinstance(final, Answer) and all(isinstance(d, str) for d in deltas)
    assert len(deltas) > 3, "the answer streams in pieces"
    assert "长兴县捧获" in "".join(deltas)  # type: ignore[arg-type]
    assert final.mode == "llm" and final.answered and final.notice is None
    assert final.text == "长兴县捧获了“生态文明冠军鼎”[1]。"
    [c] = final.citations
    assert c.supported and "长兴县" in c.quote and c.source == "002_25df68110ca78dc9.txt"
    request = server.requests[-1]
    assert request["stream"] is True and request["model"] == "test-model"


def test_passages_are_fenced_as_data(server: OpenAIServer, make: Callable[..., Assistant]) -> None:
    server.reply = cite_where("长兴县捧获", "长兴县[{n}]。")
    make().ask(QUESTION, k=4)
    system, user = server.requests[-1]["messages"]
    assert "data, not instructions" in system["content"]
    assert user["content"].count("<passage ") == 4 and user["content"].count("</passage>") == 4
    assert user["content"].rstrip().endswith(f"Question: {QUESTION}")


def test_malformed_and_dangling_markers_are_repaired(
    server: OpenAIServer, make: Callable[..., Assistant]
) -> None:
    server.reply = cite_where(
        "长兴县捧获", "长兴县夺得生态文明冠军鼎[{n}, 9]。这是湖州设立的荣誉[7]。"
    )
    answer = make().ask(QUESTION)
    assert answer.text.startswith("长兴县夺得生态文明冠军鼎[1]。")
    assert "[9]" not in answer.text and "[7]" not in answer.text
    # The claim whose only marker pointed nowhere is re-attached to a sentence only when
    # one clearly supports it; either way it is never left pointing at passage 7.
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    assert all(c.supported for c in answer.citations[1:])


def test_a_wrong_number_is_flagged_as_unsupported(
    server: OpenAIServer, make: Callable[..., Assistant]
) -> None:
    server.reply = cite_where("36个乡镇", "湖州共有58个乡镇(街道)成功夺鼎[{n}]。")
    answer = make().ask("湖州首次颁发生态鼎时有多少个乡镇夺鼎？")
    assert answer.answered and answer.citations
    assert not answer.citations[0].supported
    assert answer.notice and "could not be matched" in answer.notice


def test_model_refusal_becomes_a_refusal(
    server: OpenAIServer, make: Callable[..., Assistant]
) -> None:
    server.reply = lambda messages: "NO_ANSWER: 文章没有提到这个问题。"
    events = list(make().ask_stream("湖州的生态鼎是用什么金属铸造的？"))
    assert not any(isinstance(e, str) and "NO_ANSWER" in e for e in events)
    final = events[-1]
    assert isinstance(final, Answer) and not final.answered and final.mode == "llm"
    assert "语料中没有找到" in final.text and final.citations == []


@pytest.mark.parametrize(
    "fault",
    [
        Fault.status(500),
        Fault.stall_before(None),
        Fault.malformed(3),
        Fault.disconnect(3),
        Fault.stall_after(3, None),
    ],
    ids=["500", "stall-before", "malformed", "disconnect", "stall-midstream"],
)
def test_failing_endpoint_falls_back_to_extractive(
    server: OpenAIServer, make: Callable[..., Assistant], fault: Fault
) -> None:
    server.reply = cite_where("长兴县捧获", "长兴县捧获了冠军鼎[{n}]。")
    server.fail_always(fault)
    started = time.perf_counter()
    answer = make(timeout=0.5, total_timeout=3.0, max_retries=1).ask(QUESTION)
    elapsed = time.perf_counter() - started
    assert answer.mode == "extractive" and answer.answered
    assert answer.notice and "The LLM failed" in answer.notice
    assert answer.citations, "the fallback answer is cited like any extractive answer"
    assert elapsed < 15, f"took {elapsed:.1f} s: a failing endpoint must not hang the answer"


def test_follow_up_is_rewritten_by_the_llm_before_retrieval(
    server: OpenAIServer, make: Callable[..., Assistant]
) -> None:
    def reply(messages: list[dict[str, Any]]) -> str:
        if "standalone" in messages[0]["content"]:
            return "湖州首次颁发生态鼎时，共有多少个乡镇(街道)夺鼎？"
        return cite_where("36个乡镇", "共有36个乡镇(街道)夺鼎[{n}]。")(messages)

    server.reply = reply
    history = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "长兴县。"}]
    answer = make().ask("那乡镇呢？", history=history)
    rewrite, answering = server.requests[-2:]
    assert (
        "那乡镇呢？" in rewrite["messages"][1]["content"]
        and QUESTION in rewrite["messages"][1]["content"]
    )
    assert "湖州首次颁发生态鼎时，共有多少个乡镇" in answering["messages"][1]["content"]
    assert answer.answered and "36个乡镇" in answer.citations[0].quote


def test_eval_measures_llm_mode_next_to_extractive(
    server: OpenAIServer, make: Callable[..., Assistant], tmp_path: Path
) -> None:
    from rag.evals import report
    from rag.evals.metrics import load_gold
    from rag.evals.run import DEFAULT_CONFIGS, default_gold_path, evaluate

    server.reply = cite_where("311亿", "网上轻纺城撮合业务量达311亿元[{n}]。")
    items = [i for i in load_gold(default_gold_path()) if i.id in ("g002", "g001")]
    assert items
    results = evaluate(items, make(), DEFAULT_CONFIGS, modes=("extractive", "llm"))
    assert all(set(r.answers) == {"extractive", "llm"} for r in results)
    assert all(r.answers["llm"]["mode"] == "llm" for r in results)
    meta = {"gold": "g", "n_items": 2, "index": "i", "n_chunks": 1, "model": "m",
            "seconds": 1.0, "command": "rag eval"}  # fmt: skip
    report.write(tmp_path, results, items, list(DEFAULT_CONFIGS), ["extractive", "llm"], meta)
    md = (tmp_path / "report.md").read_text("utf-8")
    assert "## Answers (llm mode)" in md and "## Answers (extractive mode)" in md
