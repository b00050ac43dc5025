"""Citation markers of LLM answers: parsing, ownership, verification, renumbering.

The scorer here is a character-bigram overlap so the marker logic is tested on its own;
the real embedding scorer is exercised in test_llm_mode.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.cite import cite, claims, parse_markers
from rag.evidence import Scored, Sentence


def _sentence(text: str, passage: int, start: int) -> Sentence:
    return Sentence(
        source=f"doc{passage}.txt",
        title=f"title {passage}",
        start=start,
        end=start + len(text),
        text=text,
        passage_id=f"doc{passage}.txt:0-100",
        passage_rank=passage - 1,
    )


def _bigrams(s: str) -> set[str]:
    return {s[i : i + 2] for i in range(len(s) - 1)}


def bigram_scorer(claim: str, sentences: Sequence[Sentence]) -> list[Scored]:
    out = []
    for s in sentences:
        a, b = _bigrams(claim), _bigrams(s.text)
        overlap = len(a & b) / max(len(a), 1)
        out.append(Scored(s, overlap, overlap, overlap))
    return sorted(out, key=lambda x: -x.score)


PASSAGES = [
    [_sentence("湖州首次颁发生态鼎。", 1, 0), _sentence("长兴县捧获生态文明冠军鼎。", 1, 10)],
    [_sentence("2023年全省工业增加值达到2.94万亿元。", 2, 0)],
    [_sentence("绍兴网上轻纺城撮合业务量达311亿元。", 3, 0)],
]


def test_parse_markers_variants() -> None:
    text = "甲[1]乙【2】丙[1,3]丁[1][2]戊［３］己[2-3]庚[Passage 2]"
    assert [g.numbers for g in parse_markers(text)] == [
        (1,),
        (2,),
        (1, 3),
        (1,),
        (2,),
        (3,),
        (2, 3),
        (2,),
    ]


def test_marker_after_sentence_end_belongs_to_that_sentence() -> None:
    cs = claims("长兴县捧获冠军鼎。[1]工业增加值2.94万亿元[2]。")
    assert [c.text for c in cs] == ["长兴县捧获冠军鼎。", "工业增加值2.94万亿元。"]
    assert [[g.numbers for g in c.groups] for c in cs] == [[(1,)], [(2,)]]


def test_cite_renumbers_in_order_of_appearance_and_drops_bad_markers() -> None:
    answer = "全省工业增加值达到2.94万亿元[2]。长兴县捧获生态文明冠军鼎[1][9]。"
    result = cite(answer, PASSAGES, bigram_scorer)
    assert result.text == "全省工业增加值达到2.94万亿元[1]。长兴县捧获生态文明冠军鼎[2]。"
    assert [c.n for c in result.citations] == [1, 2]
    assert result.citations[0].quote == "2023年全省工业增加值达到2.94万亿元。"
    assert result.citations[1].quote == "长兴县捧获生态文明冠军鼎。"
    assert all(c.supported for c in result.citations)
    assert result.unsupported_claims == 0


def test_wrong_number_is_flagged_not_hidden() -> None:
    answer = "全省工业增加值达到3.5万亿元[2]。"
    result = cite(answer, PASSAGES, bigram_scorer)
    assert result.text == "全省工业增加值达到3.5万亿元[1]。"
    assert result.citations[0].supported is False
    assert result.unsupported_claims == 1


def test_claim_citing_the_wrong_passage_is_unsupported() -> None:
    result = cite("绍兴网上轻纺城撮合业务量达311亿元[1]。", PASSAGES, bigram_scorer)
    assert [c.supported for c in result.citations] == [False]


def test_same_quote_cited_twice_keeps_one_number() -> None:
    answer = "长兴县捧获生态文明冠军鼎[1]。据报道，长兴县获得冠军鼎【1】。"
    result = cite(answer, PASSAGES, bigram_scorer)
    assert len(result.citations) == 1
    assert result.text.count("[1]") == 2


def test_uncited_but_supported_claim_gets_a_citation() -> None:
    result = cite("绍兴网上轻纺城撮合业务量达311亿元。", PASSAGES, bigram_scorer)
    assert result.text == "绍兴网上轻纺城撮合业务量达311亿元。[1]"
    assert result.citations[0].source == "doc3.txt"


def test_uncited_unsupported_claim_is_counted() -> None:
    result = cite("杭州亚运会共有一万名运动员参加比赛。", PASSAGES, bigram_scorer)
    assert result.citations == []
    assert result.unsupported_claims == 1
