"""One index version per answer: an upload that commits while an answer streams changes
nothing about that answer (citations, context view); the next question sees the upload.

The LLM is the local OpenAI-protocol server; the upload is the real ingest pipeline, run
between two streamed deltas so the interleaving is deterministic.
"""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest
from openai_server import OpenAIServer
from test_llm_mode import QUESTION, cite_where

from rag import Assistant
from rag.config import EmbedSettings, Settings
from rag.embed import SentenceTransformerEmbedder
from rag.ingest.chunk import ChunkParams
from rag.ingest.pipeline import ingest
from rag.llm import LLMConfig
from rag.text import squeeze
from rag.ui.app import STATUS, ChatPage

pytestmark = pytest.mark.slow

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"
CITED = "002_25df68110ca78dc9.txt"  # the file the question's answer comes from


def test_upload_committing_mid_stream_leaves_the_answer_exact(
    demo_index: Path,
    tmp_path: Path,
    embed_settings: EmbedSettings,
    embedder: SentenceTransformerEmbedder,
) -> None:
    index = tmp_path / "index"
    shutil.copytree(demo_index, index)
    # The upload: a new file that sorts first (every row shifts) and a new version of the
    # cited file with text put in front (every offset in it shifts).
    upload = tmp_path / "upload"
    upload.mkdir()
    (upload / "000_aaa.txt").write_text(
        "嘉兴建成首个零碳港口\n\n本报嘉兴5月2日电 嘉兴港零碳码头日前投入运营，"
        "年吞吐量约120万标箱。\n",
        "utf-8",
    )
    original = (CORPUS / CITED).read_text("utf-8")
    (upload / CITED).write_text("更正启事：本期有一处日期更正。\n\n" + original, "utf-8")

    reply = cite_where("长兴县捧获", "长兴县捧获了“生态文明冠军鼎”【{n}】。")
    with OpenAIServer(reply=reply) as srv:
        llm = LLMConfig(model=srv.models[0], base_url=srv.url, api_key=srv.api_key, timeout=60.0)
        assistant = Assistant(Settings(index, embed_settings, llm), embedder=embedder)
        page = ChatPage(assistant)
        before = assistant.index.manifest.data_dir
        steps = page.respond(QUESTION, [], 5, "auto")
        assert next(steps)[0][-1]["content"] == STATUS
        streamed = next(steps)[0][-1]["content"]
        assert streamed and streamed != STATUS and QUESTION not in streamed

        report = ingest([upload], index, embedder, ChunkParams())  # commits mid-answer
        assert report.added == ["000_aaa.txt"] and report.updated == [CITED]
        assert assistant.index.manifest.data_dir != before

        *_, (chat, _, _, _, shown) = list(steps)
    assert shown is not None and shown.answer.mode == "llm", chat[-1]["content"]
    assert shown.index.manifest.data_dir == before
    [c] = shown.answer.citations
    assert c.source == CITED and c.supported
    assert squeeze(original[c.start : c.end]) == squeeze(c.quote), "offsets of the old version"
    assert "长兴县" in c.quote
    context = page.open_citation(str(c.n), shown)
    marked = re.search(r"<mark[^>]*>(.*?)</mark>", context, re.S)
    assert marked and squeeze(html.unescape(marked[1])) == squeeze(c.quote)
    # The next question is answered from the upload.
    *_, (_, _, _, _, later) = list(
        page.respond("嘉兴港零碳码头年吞吐量约多少？", [], 5, "extractive")
    )
    assert later is not None and later.index.manifest.data_dir != before
    assert later.answer.citations[0].source == "000_aaa.txt"
    assert "120万" in later.answer.text
