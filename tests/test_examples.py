"""Every example the README, the chat page and `make demo` show, answered right: the fact
as the short answer, the sentence that states it as the citation. Real model and index."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag import Assistant
from rag.text import squeeze
from rag.ui.app import EXAMPLES

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]

# question -> (short answer, a phrase the first citation's quote must hold)
EXPECTED = {
    "湖州首次颁发的“生态鼎”中，哪个县捧获了生态文明冠军鼎？": ("长兴县", "长兴县捧获"),
    "湖州首次颁发的生态鼎中，哪个县捧获了生态文明冠军鼎？": ("长兴县", "长兴县捧获"),
    "2023年浙江全省工业增加值是多少？": ("2.94万亿元", "工业增加值达到2.94万亿元"),
    "绍兴的网上轻纺城去年撮合业务量有多少？": ("311亿元", "撮合业务量达311亿元"),
    "Which county won the Ecological Civilization Champion Tripod in Huzhou?": (
        "Changxing County",
        "长兴县捧获",
    ),
    "Which county won the Champion Tripod?": ("Changxing County", "长兴县捧获"),
    "How many manufacturing companies from Zhejiang entered the Fortune Global 500 in 2023?": (
        "5",
        "5家制造业企业入选世界500强",
    ),
    "今日浙江2024年第10期是总第几期？": ("总第745期", "总第745期"),
    "湖州首次颁发生态鼎，有多少个区县成功夺鼎？": ("4个", "4个区县"),
}
REFUSED = ["Who won the 2022 FIFA World Cup final?", "2030年火星基地的建设进展如何？"]


def shown_examples() -> list[str]:
    """Questions the README and the Makefile show, plus the page's examples."""
    readme = (ROOT / "README.md").read_text("utf-8")
    makefile = (ROOT / "Makefile").read_text("utf-8")
    asked = re.findall(r'rag ask "([^"]+)"', readme + makefile)
    asked += re.findall(r'ask\("([^"]+)"', readme)
    return list(dict.fromkeys([*asked, *EXAMPLES]))


def test_every_shown_example_has_an_expected_answer() -> None:
    missing = [q for q in shown_examples() if q not in EXPECTED]
    assert not missing, f"add the right answer of these examples to EXPECTED: {missing}"


@pytest.mark.parametrize("question", sorted(EXPECTED))
def test_example_states_the_fact_and_cites_its_sentence(
    assistant: Assistant, question: str
) -> None:
    short, phrase = EXPECTED[question]
    answer = assistant.ask(question)
    assert answer.answered, answer.text
    assert answer.short is not None and answer.short.startswith(short), answer.short
    assert answer.text.startswith(short), answer.text
    first = answer.citations[0]
    assert squeeze(phrase) in squeeze(first.quote), first.quote
    original = assistant.index.document(first.source)
    assert squeeze(original[first.start : first.end]) == squeeze(first.quote)
    if re.search(r"[\u4e00-\u9fff]", question):
        # For a Chinese question the short answer is a verbatim span of the quote.
        assert squeeze(answer.short) in squeeze(first.quote)


@pytest.mark.parametrize("question", REFUSED)
def test_out_of_corpus_examples_are_refused(assistant: Assistant, question: str) -> None:
    answer = assistant.ask(question)
    assert not answer.answered and answer.short is None and not answer.citations


def test_near_miss_questions_are_refused(assistant: Assistant) -> None:
    """The articles name the subject but not the detail asked for."""
    for question in (
        "2021年浙江全省工业增加值是多少？",  # the article gives 2023's
        "湖州颁发生态鼎的大会由谁主持？",  # nobody presiding is named
    ):
        answer = assistant.ask(question)
        assert not answer.answered, (question, answer.text)
