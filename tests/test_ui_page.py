"""The chat page's handlers without a browser: upload limits, errors, rendering."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from rag import Assistant
from rag.errors import ServeError
from rag.present import citation_label
from rag.types import Answer, Citation
from rag.ui.app import STATUS, ChatPage, UploadLimits, check_port
from rag.ui.render import chat_text, context_html, readable, sources_html

pytestmark = pytest.mark.slow

# A conversation whose second question only makes sense after the first.
FIRST = "热电厂原计划什么时候停止供热？"
FOLLOW_UP = "后来缩短到几天？"
FOLLOW_UP_FACT = "6天"


def test_upload_limits_reject_with_reasons(assistant: Assistant, tmp_path: Path) -> None:
    page = ChatPage(assistant, UploadLimits(max_files=3, max_bytes=100))
    ok = tmp_path / "ok.txt"
    ok.write_text("短文。", "utf-8")
    big = tmp_path / "big.md"
    big.write_text("长" * 200, "utf-8")
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ")
    rejected, accepted = page._check([str(ok), str(exe), str(big)])
    assert accepted == [str(ok)]
    assert any("tool.exe: unsupported type" in r for r in rejected)
    assert any("big.md" in r and "limit" in r for r in rejected)
    rejected, _ = page._check([str(ok)] * 4)
    assert rejected == ["ok.txt: more than 3 files at once"]
    assert "Choose one or more files" in page.add_files([])


def test_errors_are_shown_in_the_chat_not_raised(assistant: Assistant) -> None:
    page = ChatPage(assistant)
    *_, (chat, _, _, _, answer) = list(page.respond("", [], 5, "auto"))
    assert chat[-1]["role"] == "assistant" and "question is empty" in chat[-1]["content"]
    assert answer is None
    *_, (chat, _, sources, _, answer) = list(
        page.respond("绍兴网上轻纺城撮合业务量", chat, 5, "auto")
    )
    assert answer is not None and answer.answer.citations
    assert len(chat) == 4, "history kept: two questions, two answers"
    assert "rag-cite" in sources


def _answer(supported: bool, answered: bool = True) -> Answer:
    cite = Citation(1, "a.txt", "标题", "原句。", 0, 3, "a.txt:0-3", supported)
    return Answer("答案[1]。", "llm", answered, "note <b>", [cite] if answered else [], [])


def test_rendering_marks_unsupported_citations_and_escapes_html() -> None:
    assert "[1⚠]" in chat_text(_answer(False)) and "[1⚠]" not in chat_text(_answer(True))
    html = sources_html(_answer(False))
    assert "rag-unsupported" in html and "not supported" in html and "&lt;b&gt;" in html
    assert chat_text(_answer(True, answered=False)).startswith("🚫")


def test_context_highlights_the_quote_and_rejoins_pdf_lines() -> None:
    out = context_html("题", "前文以客户需\n\n求为核心。", "引用句。", "后文。")
    assert '<mark class="rag-hl">引用句。</mark>' in out
    assert "以客户需求为核心" in out
    assert readable("第一段。\n第二\n\n段。") == "第一段。\n第二段。"


def _parts(text: str) -> list[dict[str, str]]:
    return [{"type": "text", "text": text}]


def test_history_as_gradio_parts_reaches_the_answer_and_every_turn_stays(
    assistant: Assistant,
) -> None:
    page = ChatPage(assistant)
    *_, (chat, _, _, _, first) = list(page.respond(FIRST, [], 5, "extractive"))
    assert first is not None and first.answer.answered
    # Gradio 6 hands every earlier message back with its content as a list of parts.
    history = [{"role": m["role"], "content": _parts(m["content"]), "metadata": None} for m in chat]
    *_, (chat, _, _, _, second) = list(page.respond(_parts(FOLLOW_UP), history, 5, "extractive"))
    assert [m["role"] for m in chat] == ["user", "assistant", "user", "assistant"]
    assert chat[0]["content"] == FIRST and chat[2]["content"] == FOLLOW_UP
    assert second is not None and second.answer.answered, chat[-1]["content"]
    assert FOLLOW_UP_FACT in second.answer.text
    # A follow-up that cannot be answered alone: only the history can make the difference.
    vague = "那么颁奖是在哪一天？"
    tripod = "湖州首次颁发的生态鼎中，哪个县捧获了生态文明冠军鼎？"
    *_, (chat, _, _, _, first) = list(page.respond(tripod, [], 5, "extractive"))
    history = [{"role": m["role"], "content": _parts(m["content"]), "metadata": None} for m in chat]
    *_, (_, _, _, _, dated) = list(page.respond(_parts(vague), history, 5, "extractive"))
    assert dated is not None and dated.answer.answered and "9月4日" in dated.answer.text
    assert not assistant.ask(vague, mode="extractive").answered, "the history made the difference"


def test_a_status_line_then_streamed_text_then_the_sources(assistant: Assistant) -> None:
    page = ChatPage(assistant)
    steps, bubbles = [], []
    for step in page.respond("绍兴的网上轻纺城去年撮合业务量达到多少？", [], 5, "extractive"):
        steps.append(step)
        bubbles.append(step[0][-1]["content"])  # the chat list is updated in place
    assert bubbles[0] == STATUS and all(bubbles), "never an empty bubble"
    assert "rag-pending" in steps[0][2]
    final = steps[-1][4]
    assert final is not None and final.answer.citations
    partial = bubbles[1:-1]
    assert len(partial) >= 2, "the extractive answer arrives in pieces"
    assert all(final.answer.text.startswith(p) for p in partial)
    assert all(s[4] is None for s in steps[:-1]), "sources only once the answer is complete"
    choices = steps[-1][3]["choices"]
    assert [value for _, value in choices] == [str(c.n) for c in final.answer.citations]


def test_citation_labels_and_panel_name_the_publication(assistant: Assistant) -> None:
    answer = assistant.ask("2023年浙江全省工业增加值是多少？")
    cited = [c for c in answer.citations if c.meta.publication]
    assert cited, [c.meta for c in answer.citations]
    c = cited[0]
    label = citation_label(c)
    assert label == f"[{c.n}] {c.title} · 今日浙江 2024年第10期", label
    panel = sources_html(answer)
    assert "今日浙江 2024年第10期 总第745期" in panel and f'data-source="{c.source}"' in panel
    if c.meta.byline:
        assert c.meta.byline in panel
    labels = [citation_label(c) for c in answer.citations]
    assert len(set(labels)) == len(labels), "every label is distinct"


def test_port_in_use_is_one_actionable_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServeError, match=r"--port") as info:
            check_port("127.0.0.1", port)
    assert "\n" not in str(info.value) and str(port) in str(info.value)
