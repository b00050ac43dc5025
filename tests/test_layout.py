"""Cleaning by document layout: page-layout rules only where the text shows a page layout.

The furniture rules (short lines, bylines, photo credits) were written for text extracted
from newspaper and magazine PDFs; on short plain-text news they dropped whole documents.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.embed import SentenceTransformerEmbedder
from rag.index import Index, read_manifest
from rag.ingest.chunk import ChunkParams
from rag.ingest.clean import Kind, Layout, clean, detect_layout
from rag.ingest.parse import parse_document
from rag.ingest.pipeline import ingest
from rag.ingest.readers import Document
from rag.retrieve import retrieve

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "corpus"

ONE_LINERS = {
    "ranking.txt": "韩国国足在2022卡塔尔世界杯最终排名第16 | 韩联社\n",
    "hotline.txt": (
        "附全省各级征兵办公室咨询服务电话── 红星新闻记者 林聪 图据四川省人民政府征兵办公室\n"
    ),
    "flash.txt": "舟山今年新建了三座跨海大桥，总投资达到120亿元。\n",
}


def _parse(text: str, container: str = "utf-8"):  # type: ignore[no-untyped-def]
    return parse_document(Document("x.txt", text, container, "0" * 64))


@pytest.mark.parametrize("name", sorted(ONE_LINERS))
def test_one_line_plain_text_is_prose_and_kept_whole(name: str) -> None:
    text = ONE_LINERS[name]
    parsed = _parse(text)
    assert parsed.layout.layout is Layout.PROSE
    assert [c.text for c in parsed.chunks] == [text.strip()]
    assert not parsed.dropped


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.txt")), ids=lambda p: p.name[:3])
def test_pdf_extracted_demo_files_are_read_as_page_layout(path: Path) -> None:
    evidence = detect_layout(path.read_text("utf-8"))
    assert evidence.layout is Layout.PAGE
    assert "broken mid-sentence" in evidence.reason


def test_pdf_container_is_page_layout_whatever_the_lines() -> None:
    assert detect_layout("一句完整的话。\n", "pdf").layout is Layout.PAGE
    assert detect_layout("一句完整的话。\n", "utf-8").layout is Layout.PROSE


def test_prose_keeps_credits_and_short_lines_that_page_rules_drop() -> None:
    paragraphs = ["今年起，杭州亚运场馆向市民开放。", "王新 摄", "全年接待市民200万人次。"]
    text = "杭州亚运场馆向市民开放\n\n记者 王新\n\n" + "\n\n".join(paragraphs) + "\n"
    page = clean(text, "pdf")
    prose = clean(text)
    assert prose.layout.layout is Layout.PROSE
    assert Kind.CAPTION in page.kinds  # "王新 摄" is a photo credit on a page
    assert Kind.CAPTION not in prose.kinds and Kind.BYLINE in prose.kinds
    (chunk,) = _parse(text).chunks
    assert chunk.title == "杭州亚运场馆向市民开放" and chunk.meta.byline == "记者 王新"
    assert chunk.text.split("\n") == paragraphs


def test_prose_joins_only_adjacent_broken_lines() -> None:
    text = (
        "浙江省今年将新建保障性租赁住房，\n总数达到12万套。\n\n"
        "摘要：新建住房，覆盖全省\n\n下一段从这里开始。\n"
    )
    cleaned = clean(text)
    bodies = [cleaned.block_text(b) for b in cleaned.blocks if b.kind is Kind.BODY]
    assert bodies == [
        "浙江省今年将新建保障性租赁住房，总数达到12万套。",
        "摘要：新建住房，覆盖全省",
        "下一段从这里开始。",
    ]


def test_a_document_of_page_furniture_only_says_which_rule_fired() -> None:
    parsed = _parse("- 12 -\n\n第2版\n")
    assert parsed.chunks == []
    assert parsed.why_empty() == "no text left after cleaning (lines dropped: 2 as page furniture)"


def test_page_rules_that_leave_nothing_fall_back_to_prose() -> None:
    # Six short unpunctuated lines are a "list" on a page; alone, they are the document.
    text = "\n".join(["第一届", "浙江", "数字经济", "创新大赛", "获奖名单", "公布"]) + "\n"
    parsed = _parse(text, "pdf")
    assert parsed.layout.layout is Layout.PROSE
    assert "page rules left no text" in parsed.layout.reason
    assert parsed.chunks and "获奖名单" in parsed.chunks[0].text


@pytest.mark.slow
def test_short_plain_files_are_ingested_recorded_and_retrievable(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in ONE_LINERS.items():
        (docs / name).write_text(text, "utf-8")
    report = ingest([docs], tmp_path / "idx", embedder, ChunkParams())
    assert report.skipped == [] and report.files == len(ONE_LINERS)
    manifest = read_manifest(tmp_path / "idx")
    assert {r.layout for r in manifest.files.values()} == {"prose"}
    index = Index.load(tmp_path / "idx")
    questions = {
        "ranking.txt": "韩国队在卡塔尔世界杯最终排名第几？",
        "hotline.txt": "征兵办公室的咨询电话在哪里能查到？",
        "flash.txt": "舟山新建的跨海大桥总投资多少？",
    }
    for name, question in questions.items():
        top = retrieve(index, embedder, question, 1)[0]
        assert index.chunks[top.row].source == name, question
