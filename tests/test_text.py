"""Chinese-first text utilities."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from rag.text import (
    detect_lang,
    fold,
    join_lines,
    match_key,
    sentence_spans,
    split_sentences,
    squeeze,
    tokenize,
)


def test_sentences_split_on_chinese_marks_and_keep_closing_quotes() -> None:
    text = "他说：“今年增长5.8%。”随后离开了！真的吗？？这是第二句……最后一句；结尾"
    assert split_sentences(text) == [
        "他说：“今年增长5.8%。”",
        "随后离开了！",
        "真的吗？？",
        "这是第二句……",
        "最后一句；",
        "结尾",
    ]


def test_latin_sentences_do_not_split_on_decimal_points() -> None:
    assert split_sentences("GDP grew 3.5% in 2023. Exports rose! 出口增长。") == [
        "GDP grew 3.5% in 2023.",
        "Exports rose!",
        "出口增长。",
    ]


def test_sentence_spans_respect_bounds_and_trim() -> None:
    text = "前文。  甲句。乙句！  后文。"
    spans = list(sentence_spans(text, 3, 12))
    assert [text[a:b] for a, b in spans] == ["甲句。", "乙句！"]


@given(st.text(alphabet="中文字。！？；…,. \nab1“”", max_size=80))
def test_sentence_spans_cover_all_non_space_text_in_order(text: str) -> None:
    spans = list(sentence_spans(text))
    assert "".join(squeeze(text[a:b]) for a, b in spans) == squeeze(text)
    assert all(a < b for a, b in spans)
    assert all(b1 <= a2 for (_, b1), (a2, _) in itertools.pairwise(spans))


def test_fold_is_length_preserving_width_normalisation() -> None:
    assert fold("ＧＤＰ增长２０２３") == "gdp增长2023"
    assert len(fold("ＡＢＣ　１")) == len("ＡＢＣ　１")
    assert match_key("ＧＤＰ 增长\n２０２３") == "gdp增长2023"


def test_join_lines_removes_pdf_breaks_between_chinese_but_not_latin_words() -> None:
    assert join_lines("以客户需\n\n求为核心") == "以客户需求为核心"
    assert join_lines("the next\nword") == "the next word"
    assert join_lines("孙金良 陈 艳") == "孙金良 陈 艳"  # spaces inside a line stay


@given(st.text(alphabet="中文ab \n\t。", max_size=60))
def test_join_lines_only_changes_whitespace(text: str) -> None:
    assert squeeze(join_lines(text)) == squeeze(text)


def test_tokenize_uses_words_not_character_runs() -> None:
    tokens = tokenize("２０２３年浙江省GDP达到8.64万亿元")
    assert "2023" in tokens and "gdp" in tokens
    assert "浙江" in tokens and "万亿" in tokens  # search mode adds sub-words
    assert "浙江省gdp达到8.64万亿元" not in tokens
    assert "的" not in tokenize("浙江的制造业")  # stop word


def test_detect_lang() -> None:
    assert detect_lang("What is the GDP of Zhejiang?") == "en"
    assert detect_lang("湖州的生态鼎是什么") == "zh"
    assert detect_lang("Which county won 生态文明冠军鼎?") == "zh"
    assert detect_lang("2023") == "en"
