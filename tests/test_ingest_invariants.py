"""The chunk invariant, on generated texts and on the demo corpus.

For every chunk: squeeze(text) == squeeze(original[start:end]); its sentences are ordered,
non-overlapping, non-empty spans inside [start, end) that cover all of its visible text;
and no chunk is longer than max_chars unless it is a single sentence. Every character of
the kept article text (paragraphs and subheadings) lies in some chunk's sentence.
Small hand-made texts pin down packing, overlap and Markdown structure.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.errors import ConfigError
from rag.ingest.chunk import ChunkParams, pack, split_long
from rag.ingest.clean import clean
from rag.ingest.parse import ParsedDocument, parse_document
from rag.ingest.readers import Document, read_document
from rag.ingest.segment import segment_blocks
from rag.text import squeeze
from rag.types import Chunk

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"

CJK = "浙江省杭州市宁波温州湖州嘉兴绍兴金华衢州舟山台州丽水经济发展新闻记者报道产业工人企业"
_cjk_run = st.text(alphabet=CJK, min_size=1, max_size=30)
_final = st.sampled_from(["。", "！", "？", "；", "…", "……", "。”", "?", "!"])
_sentence = st.builds(
    lambda a, comma, b, end: a + comma + b + end,
    _cjk_run,
    st.sampled_from(["，", "、", ",", ""]),
    _cjk_run,
    _final,
)
_latin = st.lists(
    st.sampled_from(["Zhejiang", "GDP", "AI", "the", "port", "of", "e.g.", "5G", "HR", "3.5"]),
    min_size=1,
    max_size=6,
).map(" ".join)
_digits = st.integers(min_value=0, max_value=99999).map(str)
_punct = st.sampled_from(["。", "！", "？", "；", "…", "“", "”", "，", "、", "：", ".", "!"])
_space = st.sampled_from([" ", "  ", "\u3000", "\t"])
_breaks = st.sampled_from(["\n", "\n\n", "\n\n\n\n", "\r\n", "\n \n"])
_debris = st.sampled_from(
    ["\n半\n月\n", "\n12\n", "\n\n拍友 蒋友青 摄\n\n", "\n■ 沈华军\n", "\n(上接第一版)\n"]
)
_heading = _cjk_run.map(lambda s: f"\n\n{s[:12]}\n\n")
_dateline = st.just("\n本报讯(记者 沈越)")
_piece = st.one_of(
    _sentence, _sentence, _sentence, _sentence, _cjk_run, _latin, _digits, _punct, _space,
    _breaks, _breaks, _debris, _heading, _dateline,
)  # fmt: skip
TEXTS = st.lists(_piece, min_size=1, max_size=100).map("".join)
PARAMS = st.builds(
    ChunkParams,
    max_chars=st.sampled_from([1, 2, 5, 20, 60, 300]),
    overlap=st.integers(min_value=0, max_value=3),
)


def check_chunk(text: str, chunk: Chunk, params: ChunkParams) -> None:
    assert chunk.start < chunk.end
    assert squeeze(chunk.text) == squeeze(text[chunk.start : chunk.end])
    assert chunk.sentences, "a chunk holds at least one sentence"
    position = chunk.start
    for start, end in chunk.sentences:
        assert position <= start < end <= chunk.end
        assert squeeze(text[start:end])
        position = end
    assert chunk.sentences[0][0] == chunk.start and chunk.sentences[-1][1] == chunk.end
    # The sentences hold all visible text of the span: nothing dropped lies inside it.
    covered = "".join(squeeze(text[s:e]) for s, e in chunk.sentences)
    assert covered == squeeze(text[chunk.start : chunk.end])
    size = len(squeeze(chunk.text))
    assert size <= params.max_chars or len(chunk.sentences) == 1


def check_document(text: str, parsed: ParsedDocument, params: ChunkParams) -> None:
    for chunk in parsed.chunks:
        check_chunk(text, chunk, params)
        article = parsed.articles[chunk.article]
        assert chunk.title == article.title and chunk.meta == article.meta
        assert article.start <= chunk.start and chunk.end <= article.end
    assert [a.index for a in parsed.articles] == list(range(len(parsed.articles)))
    assert {c.article for c in parsed.chunks} == {a.index for a in parsed.articles}


def kept_positions(text: str) -> set[int]:
    """Every visible character of the articles' paragraphs and subheadings."""
    positions: set[int] = set()
    for seg in segment_blocks(clean(text)):
        for block in seg.content:
            for a, b in block.spans:
                positions.update(i for i in range(a, b) if not text[i].isspace())
    return positions


def chunked_positions(text: str, chunks: list[Chunk]) -> set[int]:
    return {
        i
        for chunk in chunks
        for s, e in chunk.sentences
        for i in range(s, e)
        if not text[i].isspace()
    }


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, params=PARAMS)
def test_invariant_on_generated_text(text: str, params: ChunkParams) -> None:
    parsed = parse_document(Document("gen.txt", text, "utf-8", "0"), params)
    check_document(text, parsed, params)
    assert chunked_positions(text, parsed.chunks) == kept_positions(text)


@cache
def corpus(name: str, max_chars: int, overlap: int) -> tuple[str, ParsedDocument]:
    doc = read_document(CORPUS / name, CORPUS)
    return doc.text, parse_document(doc, ChunkParams(max_chars, overlap))


CORPUS_FILES = sorted(p.name for p in CORPUS.glob("*.txt"))


def test_corpus_is_present() -> None:
    assert len(CORPUS_FILES) == 5


@pytest.mark.parametrize("name", CORPUS_FILES)
@pytest.mark.parametrize(("max_chars", "overlap"), [(300, 1), (120, 0), (600, 2)])
def test_invariant_on_corpus(name: str, max_chars: int, overlap: int) -> None:
    params = ChunkParams(max_chars, overlap)
    text, parsed = corpus(name, max_chars, overlap)
    assert parsed.chunks
    check_document(text, parsed, params)
    assert chunked_positions(text, parsed.chunks) == kept_positions(text)


def test_params_are_validated() -> None:
    with pytest.raises(ConfigError, match="max_chars"):
        ChunkParams(max_chars=0)
    with pytest.raises(ConfigError, match="overlap"):
        ChunkParams(overlap=-1)


def test_short_article_is_one_chunk() -> None:
    text = "宁波民宿邀杭州市民去看海\n\n本报讯(记者 陈晔)第一句话。第二句话!第三句话?\n"
    parsed = parse_document(Document("s.txt", text, "utf-8", "0"), ChunkParams(300, 1))
    assert len(parsed.chunks) == 1
    chunk = parsed.chunks[0]
    assert chunk.title == "宁波民宿邀杭州市民去看海"
    assert chunk.text == "本报讯(记者 陈晔)第一句话。第二句话!第三句话?"
    assert len(chunk.sentences) == 3


def test_overlap_repeats_whole_trailing_sentences() -> None:
    sentences = [f"第{n}句话" + "字" * 20 + "。" for n in range(10)]
    text = "标题\n\n本报讯" + "".join(sentences)
    parsed = parse_document(Document("o.txt", text, "utf-8", "0"), ChunkParams(60, 1))
    assert len(parsed.chunks) > 2
    for first, second in zip(parsed.chunks, parsed.chunks[1:], strict=False):
        assert second.sentences[0] == first.sentences[-1]
    none = parse_document(Document("o.txt", text, "utf-8", "0"), ChunkParams(60, 0))
    for first, second in zip(none.chunks, none.chunks[1:], strict=False):
        assert second.start >= first.end


def test_no_tiny_trailing_chunk() -> None:
    sizes = [60, 30, 60, 30, 10]
    # Greedy packing alone gives [60+30], [60+30], [10]; the last two are evened out.
    ranges = pack(sizes, ChunkParams(max_chars=95, overlap=0))
    assert ranges == [(0, 2), (2, 3), (3, 5)]
    assert [sum(sizes[a:b]) for a, b in ranges] == [90, 60, 40]


def test_chunks_do_not_end_with_a_subheading() -> None:
    ranges = pack([50, 50, 10, 50], ChunkParams(max_chars=115, overlap=0), [0, 0, 1, 0])
    assert ranges[0] == (0, 2)  # the heading at index 2 moves to the next chunk


def test_long_sentence_is_cut_at_commas_else_hard() -> None:
    text = "甲" * 30 + "，" + "乙" * 30 + "，" + "丙" * 30 + "。"
    parts = split_long(text, 0, len(text), 40)
    assert [text[a:b] for a, b in parts] == ["甲" * 30 + "，", "乙" * 30 + "，", "丙" * 30 + "。"]
    hard = split_long("字" * 95, 0, 95, 40)
    assert [b - a for a, b in hard] == [40, 40, 15]


def test_markdown_headings_title_articles_and_keep_their_marks_in_the_text() -> None:
    text = (
        "# 浙江新闻摘要\n\n正文第一句。第二句!\n\n## 小标题\n\n第二段的内容。\n\n"
        "# 另一篇\n\n另一篇正文。"
    )
    parsed = parse_document(Document("n.md", text, "utf-8", "0"), ChunkParams())
    assert [a.title for a in parsed.articles] == ["浙江新闻摘要", "另一篇"]
    assert [c.text for c in parsed.chunks] == [
        "正文第一句。第二句!\n## 小标题\n第二段的内容。",
        "另一篇正文。",
    ]
