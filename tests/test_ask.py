"""`ask()` in extractive mode over the demo corpus: the public contract, refusals, bad input.

Real model, real index (the session's demo index); no LLM is configured here.
"""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

import rag
from rag import Answer, Assistant, Citation, Passage
from rag.errors import ConfigError, IndexNotFoundError, InvalidQuestionError
from rag.index import Index
from rag.text import squeeze

pytestmark = pytest.mark.slow

ZH_QUESTION = "绍兴的网上轻纺城去年撮合业务量达到多少？"
EN_QUESTION = "What was the matchmaking business volume of Shaoxing's online China Textile City?"
OUT_OF_CORPUS_ZH = "2030年火星基地的建设进展如何？"
OUT_OF_CORPUS_EN = "Who won the 2018 FIFA World Cup final in Moscow?"


def check_citations(answer: Answer, index: Index) -> None:
    """The contract every answer keeps, whatever the mode."""
    markers = [int(n) for n in re.findall(r"\[(\d+)\]", answer.text)]
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    first_seen = list(dict.fromkeys(markers))
    assert first_seen == [c.n for c in answer.citations], "numbered by first appearance"
    for c in answer.citations:
        original = index.document(c.source)
        assert squeeze(original[c.start : c.end]) == squeeze(c.quote)
        assert c.passage_id in {p.id for p in answer.passages}


def test_chinese_question_gets_a_cited_extractive_answer(assistant: Assistant) -> None:
    answer = assistant.ask(ZH_QUESTION)
    assert answer.mode == "extractive" and answer.answered
    assert "311亿" in answer.text
    assert answer.citations and any("311亿" in c.quote for c in answer.citations)
    check_citations(answer, assistant.index)
    assert [p.score for p in answer.passages] == sorted(
        (p.score for p in answer.passages), reverse=True
    )
    assert len(answer.passages) == 5


def test_english_question_is_answered_from_chinese_articles(assistant: Assistant) -> None:
    answer = assistant.ask(EN_QUESTION)
    # The fact first, in English, then the Chinese original it comes from.
    assert answer.answered and answer.text.startswith("31.1 billion yuan")
    assert answer.short == "31.1 billion yuan"
    assert "311亿" in answer.text and "311亿" in answer.citations[0].quote
    check_citations(answer, assistant.index)


@pytest.mark.parametrize(
    ("question", "phrase"),
    [(OUT_OF_CORPUS_ZH, "语料中没有找到"), (OUT_OF_CORPUS_EN, "do not contain an answer")],
)
def test_out_of_corpus_question_is_refused_in_its_language(
    assistant: Assistant, question: str, phrase: str
) -> None:
    answer = assistant.ask(question)
    assert not answer.answered
    assert phrase in answer.text
    assert answer.citations == []
    assert answer.passages, "closest passages are offered as related reading"
    assert answer.passages[0].title in answer.text


@pytest.mark.parametrize(
    "question",
    [
        "How tall is Mount Everest?",  # no article names 珠穆朗玛峰
        "Who wrote Romeo and Juliet?",  # not a byline question about these articles
        "What is photosynthesis?",  # no word of it is in the articles
        "Which city hosted the 2016 Summer Olympics?",
        "What is the capital of Australia?",  # the Australia passage speaks of no capital
        "What is the longest river in Africa?",  # nor the Africa one of a river
    ],
)
def test_an_english_question_about_what_no_article_names_is_refused(
    assistant: Assistant, question: str
) -> None:
    answer = assistant.ask(question)
    assert not answer.answered and answer.citations == [] and answer.short is None


def test_an_english_question_naming_what_the_article_names_is_still_answered(
    assistant: Assistant,
) -> None:
    # Australia is named (澳大利亚) by the article the answer comes from.
    answer = assistant.ask("How many tonnes of fuel did the bulk carrier from Australia take on?")
    assert answer.answered and "1500吨" in answer.citations[0].quote


def test_an_english_question_about_a_place_the_sentence_is_not_about_is_refused(
    assistant: Assistant,
) -> None:
    # The articles count 8,097 graduates who came to Quzhou, nothing about a school in
    # Deqing: the place the English question names must be the passage's.
    answer = assistant.ask("How many students attend Deqing No. 4 Middle School?")
    assert not answer.answered and "8,097" not in answer.text
    answered = assistant.ask("How many people did Quzhou attract to start businesses in 2023?")
    assert answered.answered and "8097人" in answered.citations[0].quote


def test_each_part_of_an_english_two_part_question_reads_its_own_sentence(
    assistant: Assistant,
) -> None:
    # Each part is read with its own Chinese keywords: the date of the festival, and the
    # date the regulation took effect, from their two sentences.
    answer = assistant.ask(
        'Which day has Wenzhou designated as "Private Enterprise Day", and from what date has'
        " the Wenzhou Regulation on Promoting Scientific and Technological Innovation of"
        " Private Enterprises been in force?"
    )
    quotes = [c.quote for c in answer.citations]
    assert answer.answered and len(quotes) == 2
    assert "11月1日" in quotes[0] and "5月1日" in quotes[1]


def test_which_reporter_wrote_an_article_is_answered_from_its_byline(
    assistant: Assistant,
) -> None:
    answer = assistant.ask("宁波民宿到杭州运河游船上做推介的那条消息是哪位记者写的?")
    assert answer.answered and answer.short == "陈晔"
    assert "记者 陈晔" in answer.citations[0].quote
    check_citations(answer, assistant.index)
    # The reporter, not the network correspondent or the label between them.
    huzhou = assistant.ask("报道湖州颁发“生态鼎”这件事的本报记者是谁?")
    assert huzhou.answered and huzhou.short == "叶诗蕾"
    assert "记者 叶诗蕾 共享联盟·湖州 陆晓芬" in huzhou.citations[0].quote
    english = assistant.ask(
        "Which reporter covered Zhejiang's action plan for green petrochemicals?"
    )
    assert english.answered and english.short == "Zheng Yali"


def test_editors_and_photo_credits_are_answered_from_their_lines(assistant: Assistant) -> None:
    editors = assistant.ask("这期《今日浙江》的责任编辑有哪几位?")
    assert editors.answered and editors.short == "袁卫 杨晨 亓惠洁"
    assert editors.citations[0].quote.startswith("责任编辑")
    check_citations(editors, assistant.index)
    english = assistant.ask("Who are the responsible editors of this issue?")
    assert english.answered and english.short == "Yuan Wei, Yang Chen, Qi Huijie"
    photo = assistant.ask("王江泾镇安置房工地的那张配图是哪个单位供的图?")
    assert photo.answered and photo.short == "秀洲区王江泾镇人民政府"
    assert photo.citations[0].quote.endswith("供图")
    check_citations(photo, assistant.index)
    credit = assistant.ask(
        "Who provided the photo of the completed Mashan sluice drainage project?"
    )
    assert credit.answered and credit.short == "越城区农业农村和水利局"
    check_citations(credit, assistant.index)


def test_the_masthead_staff_asked_for_are_answered_from_their_lines(
    assistant: Assistant,
) -> None:
    for question, short, line in (
        ("这一期《今日浙江》的封面是谁设计的？", "赵磊", "封面设计: 赵磊"),
        ("《今日浙江》的社长是谁？", "郑文纲", "社长 郑文纲"),
        ("这期杂志的副社长是谁？", "杨周顺", "副社长 杨周顺"),
        ("Who is the editor-in-chief of Zhejiang Today?", "Ma Yueming", "总编 马跃明"),
    ):
        answer = assistant.ask(question)
        assert answer.answered and answer.short == short, question
        assert answer.citations[0].quote == line
        check_citations(answer, assistant.index)
    # A cooperative's 社长 is nobody of the magazine's masthead.
    assert assistant.ask("茂县合作社的社长是谁？").short != "郑文纲"


def test_public_types_have_the_documented_fields() -> None:
    assert [f.name for f in fields(Answer)] == [
        "text", "mode", "answered", "notice", "citations", "passages", "short"
    ]  # fmt: skip
    assert [f.name for f in fields(Citation)] == [
        "n", "source", "title", "quote", "start", "end", "passage_id", "supported", "meta"
    ]  # fmt: skip
    assert [f.name for f in fields(Passage)] == [
        "id", "source", "title", "text", "start", "end", "score", "meta"
    ]  # fmt: skip


def test_module_level_ask_resolves_settings_from_the_environment(
    demo_index: Path, model_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_CACHE_DIR", str(model_cache))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    answer = rag.ask(ZH_QUESTION, index=demo_index, k=3)
    assert answer.mode == "extractive" and len(answer.passages) == 3
    events = list(rag.ask_stream(ZH_QUESTION, index=demo_index, k=3))
    assert isinstance(events[-1], Answer) and events[-1].text == answer.text


@pytest.mark.parametrize("question", ["", "   \n\t ", "\u3000"])
def test_empty_question_is_a_clear_error(assistant: Assistant, question: str) -> None:
    with pytest.raises(InvalidQuestionError, match="empty"):
        assistant.ask(question)


def test_huge_question_is_truncated_with_a_notice(assistant: Assistant) -> None:
    question = ZH_QUESTION + "浙江" * 50_000  # 100 KB
    answer = assistant.ask(question)
    assert answer.notice and "only the first 1,000" in answer.notice
    assert answer.passages


def test_bad_options_are_rejected(assistant: Assistant) -> None:
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        assistant.ask(ZH_QUESTION, mode="llm")
    with pytest.raises(ConfigError, match="k must be"):
        assistant.ask(ZH_QUESTION, k=0)


def test_missing_index_says_how_to_build_one(tmp_path: Path, model_cache: Path) -> None:
    from rag.config import EmbedSettings, Settings

    lonely = Assistant(
        Settings(index=tmp_path / "none", embed=EmbedSettings(cache_dir=model_cache))
    )
    with pytest.raises(IndexNotFoundError, match="rag ingest"):
        lonely.ask(ZH_QUESTION)


def test_follow_up_question_borrows_the_previous_question(assistant: Assistant) -> None:
    history = [
        {"role": "user", "content": "湖州首次颁发的“生态鼎”中，哪个县捧获了生态文明冠军鼎？"},
        {"role": "assistant", "content": "长兴县。"},
    ]
    prep = assistant.prepare("那一共有多少个乡镇夺鼎？", k=5, history=history)
    assert "生态鼎" in prep.query
    assert prep.passages[0].source == "002_25df68110ca78dc9.txt"
    plain = assistant.prepare("那一共有多少个乡镇夺鼎？", k=5)
    assert plain.query == "那一共有多少个乡镇夺鼎？"


def test_history_in_parts_and_the_follow_up_borrows_only_the_topic(assistant: Assistant) -> None:
    history = [
        {"role": "user", "content": [{"type": "text", "text": "热电厂原计划什么时候停止供热？"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "2月3日至18日。"}]},
    ]
    prep = assistant.prepare("后来缩短到几天？", k=5, history=history)
    assert prep.query == "热电厂原计划停止供热 后来缩短到几天？"
    answer = assistant.ask("后来缩短到几天？", history=history)
    assert answer.answered and "6天" in answer.text


def test_a_description_quotes_the_sentence_after_the_one_naming_its_subject(
    assistant: Assistant,
) -> None:
    # 「今年5月23日,“义境”App在义乌上线。」 names the app; what it is follows.
    answer = assistant.ask("义乌上线的“义境”App是个什么样的平台?")
    assert answer.answered and len(answer.citations) == 1
    quote = answer.citations[0].quote
    assert "在义乌上线" in quote and "线上集成式平台" in quote
    check_citations(answer, assistant.index)
