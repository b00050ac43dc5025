"""The chat page's handlers without a browser: upload limits, errors, rendering."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag import Assistant
from rag.types import Answer, Citation
from rag.ui.app import ChatPage, UploadLimits
from rag.ui.render import chat_text, context_html, readable, sources_html

pytestmark = pytest.mark.slow


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
    assert answer is not None and answer.citations
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
