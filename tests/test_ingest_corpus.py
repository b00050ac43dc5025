"""What the ingest makes of the demo corpus: articles, titles, meta, and what it drops."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from rag.ingest.chunk import ChunkParams
from rag.ingest.parse import ParsedDocument, parse_document
from rag.ingest.readers import read_document
from rag.text import squeeze
from rag.types import Chunk

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"
MAGAZINE = "001"  # 今日浙江 2024年第10期, extracted from PDF


@cache
def parsed(prefix: str) -> ParsedDocument:
    (path,) = CORPUS.glob(f"{prefix}_*.txt")
    return parse_document(read_document(path, CORPUS), ChunkParams())


def chunks_with(prefix: str, snippet: str) -> list[Chunk]:
    return [c for c in parsed(prefix).chunks if snippet in c.text]


def all_text(prefix: str) -> str:
    return "".join(squeeze(c.text) for c in parsed(prefix).chunks)


def test_first_newspaper_article_title_and_dateline() -> None:
    article = parsed("002").articles[0]
    assert article.title == "高水平建设生态文明典范城市 湖州首次颁发生态鼎"
    assert article.meta.dateline == "本报湖州9月4日电"
    assert article.meta.date == "9月4日"
    assert article.meta.byline == "记者 叶诗蕾 共享联盟·湖州 陆晓芬"
    first = parsed("002").chunks[0]
    assert first.title == article.title
    assert first.text.startswith("本报湖州9月4日电(记者 叶诗蕾")


def test_news_flash_dateline_has_no_date() -> None:
    titles = {a.title: a for a in parsed("002").articles}
    article = titles["龙港标准亮相中国质量大会"]
    assert article.meta.dateline == "本报讯"
    assert article.meta.date is None
    assert article.meta.byline == "记者 殷诚聪 共享联盟·龙港 谢陈啦 王木记"


def test_dated_dispatch_in_other_issue() -> None:
    titles = {a.title: a for a in parsed("003").articles}
    meta = titles["无人配送车亮相嘉兴街头"].meta
    assert (meta.dateline, meta.date) == ("本报嘉兴1月31日电", "1月31日")


def test_titles_and_bylines_of_a_page_of_short_articles() -> None:
    articles = parsed("000").articles
    assert [a.title for a in articles] == [
        "“平台+产业”双向赋能 推动经济高质量发展",
        "围绕产业需求 打造人才高地",
        "创新犬类管理 争做共建典范",
        "引进来走出去 当好创业“牌头兵”",
        "“三农”清风拂香远",
        "激发“干事解难”劲",
        "“三调联动”促和谐",
        "排涝“重器”防险情",
    ]
    # Names spaced for alignment are rejoined: "陈 艳" -> "陈艳".
    assert articles[0].meta.byline == "孙金良 陈艳"
    assert articles[3].meta.byline == "孙良 金凤鸣"
    assert articles[6].meta.byline == "陈昀"


def test_title_with_comma_before_a_dateline() -> None:
    titles = [a.title for a in parsed("002").articles]
    assert "淳安凝聚法治力量护航营商环境 提交一次申请,坐等公证服务" in titles
    assert not chunks_with("002", "提交一次申请,坐等公证服务")


def test_caption_inside_a_sentence_splits_it_and_is_dropped() -> None:
    chunks = parsed(MAGAZINE).chunks
    before = [c for c in chunks if c.text.endswith("招大引强积蓄动能。广泛开")]
    after = [c for c in chunks if c.text.startswith("展“投资浙里”全球大招商")]
    assert len(before) == 1 and len(after) == 1
    # Two fragments of one sentence, in consecutive chunks of the same article.
    assert chunks.index(after[0]) == chunks.index(before[0]) + 1
    assert before[0].article == after[0].article
    assert squeeze(before[0].text).endswith("广泛开")
    assert not chunks_with(MAGAZINE, "税务干部在浙江新吉奥汽车有限公司")
    for chunk in before + after:
        assert "税务干部" not in chunk.text


def test_magazine_meta_on_every_chunk() -> None:
    chunks = parsed(MAGAZINE).chunks
    assert chunks
    for chunk in chunks:
        assert chunk.meta.publication == "今日浙江"
        assert chunk.meta.issue == "2024年第10期 总第745期"
    assert all(c.meta.publication is None for c in parsed("002").chunks)


def test_magazine_is_split_into_its_articles() -> None:
    titles = [a.title for a in parsed(MAGAZINE).articles]
    assert len(titles) >= 28
    assert len(set(titles)) == len(titles)


@pytest.mark.parametrize(
    ("title", "snippet"),
    [
        ("让普惠金融润泽千企万户", "全面搭建综合服务平台"),
        ("科学打赢防汛防台攻坚战", "“1833”联合指挥体系"),
        ("艾蒲青翠千舸竞", "端午临中夏"),
        ("宁波市:以创新提质引领强群固链", "宁波健信超导科技股份有限公司"),
        ("加快打造公安人才队伍建设高地", "全员人才"),
        ("争当民营经济“示范生”", "两个健康"),
        ("“大地指纹”闪金光", "云和梯田"),
        (
            "让“先进性+世界级”成为浙江制造业鲜明标识——浙江大力推进制造业高质量发展综述",
            "工业化是现代化的前提",
        ),
    ],
)
def test_known_titles_name_the_chunks_of_their_text(title: str, snippet: str) -> None:
    chunks = chunks_with(MAGAZINE, snippet)
    assert chunks, snippet
    assert {c.title for c in chunks} == {title}


def test_title_printed_inside_a_sentence_is_not_in_the_text() -> None:
    # "…推动产业 / 高技能人才赋能高质量发展 / 工人由“工”向“匠”转变。"
    assert not chunks_with(MAGAZINE, "高技能人才赋能高质量发展")
    assert chunks_with(MAGAZINE, "推动产业")
    assert chunks_with(MAGAZINE, "工人由“工”向“匠”转变。")


def test_debris_sponsors_masthead_and_contents_are_dropped() -> None:
    text = all_text(MAGAZINE)
    for dropped in (
        "半月时政",  # one character per line in the original
        "中共龙港市委龙港市人民政府",  # sponsor list
        "中共浙江省委政法委员会",
        "编辑指导委员会",  # masthead
        "责任编辑袁卫",
        "开创全球先进制造业基地建设新局面/本刊评论员",  # table of contents
        "P38让普惠金融润泽千企万户",
        "徐露婷姚雪摄",  # photo credit
        "扫描二维码",
    ):
        assert dropped not in text, dropped


def test_subheadings_stay_in_the_text() -> None:
    (chunk,) = chunks_with("002", "为什么建工匠学院")
    assert chunk.title == "浙江工匠学院在杭成立 这所新学院如何培养大国工匠"
    assert "为什么建工匠学院\n1195万" in chunk.text


def test_words_broken_across_lines_are_rejoined() -> None:
    assert chunks_with("000", "以客户需求为核心")
    assert chunks_with("003", "锦凯智塑人手逐渐充实")
    assert chunks_with("002", "“绿水青山就是金山银山”")
    for prefix in ("000", "001", "002", "003", "004"):
        assert not chunks_with(prefix, "需 求")
        for chunk in parsed(prefix).chunks:
            assert "\n\n" not in chunk.text


def test_dateline_never_continues_a_broken_paragraph() -> None:
    # "…等绿灯亮了再" is cut off in the source; the next article must not be glued to it.
    chunks = parsed("003").chunks
    (n,) = [n for n, c in enumerate(chunks) if c.text.endswith("等绿灯亮了再")]
    assert chunks[n].title == "无人配送车亮相嘉兴街头"
    assert chunks[n + 1].title == "滨江区企业HR变身调解员"
    assert chunks[n + 1].text.startswith("本报讯(通讯员 罗盼)")
