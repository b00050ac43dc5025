"""Evaluation metrics on hand-made items: each can fail if the metric is wrong."""

from __future__ import annotations

from rag.evals.metrics import (
    GoldItem,
    all_evidence_within,
    citation_precision,
    citation_recall,
    evidence_rank,
    evidence_within_budget,
    key_fact_recall,
    refusal_stats,
)
from rag.types import Answer, Citation

ITEM = GoldItem(
    id="t1",
    lang="zh",
    question="长兴县获得了什么？",
    answerable=True,
    answer="生态文明冠军鼎",
    key_facts=("冠军鼎|Champion Tripod", "长兴县|Changxing"),
    source="a.txt",
    evidence=("长兴县捧获“生态文明冠军鼎”。", "湖州首次颁发生态鼎"),
    kind="multi",
    split="test",
)


def cite(quote: str) -> Citation:
    return Citation(1, "a.txt", "t", quote, 0, len(quote), "a.txt:0-9", True)


def test_evidence_rank_is_whitespace_and_width_insensitive() -> None:
    passages = ["无关内容。", "其中,长兴县捧获“生态文明\n冠军鼎”。", "湖州首次颁发 生态鼎"]
    assert evidence_rank(ITEM, passages) == 2
    assert evidence_rank(ITEM, ["无关。"]) is None
    assert all_evidence_within(ITEM, passages, 3) and not all_evidence_within(ITEM, passages, 2)


def test_budget_counts_characters_of_ranked_context() -> None:
    passages = ["填" * 50, "长兴县捧获“生态文明冠军鼎”。"]
    assert evidence_within_budget(ITEM, passages, 70)
    assert not evidence_within_budget(ITEM, passages, 60)


def test_key_fact_recall_accepts_alternatives() -> None:
    assert key_fact_recall(ITEM, "Changxing won the Champion Tripod.") == 1.0
    assert key_fact_recall(ITEM, "长兴县获奖。") == 0.5
    assert key_fact_recall(ITEM, "不知道") == 0.0


def test_citation_precision_and_recall() -> None:
    good, bad = cite("其中,长兴县捧获“生态文明冠军鼎”。"), cite("嘉兴举办龙舟赛。")
    assert citation_precision(ITEM, [good, bad]) == 0.5
    assert citation_precision(ITEM, []) is None
    assert citation_recall(ITEM, [good]) == 0.5
    assert citation_recall(ITEM, [good, cite("湖州首次颁发生态鼎。")]) == 1.0


def test_refusal_stats() -> None:
    unans = GoldItem("u", "zh", "?", False, "", (), None, (), "unanswerable", "test")

    def ans(answered: bool) -> Answer:
        return Answer("x", "extractive", answered, None, [], [])

    stats = refusal_stats([ITEM, unans, unans], [ans(False), ans(False), ans(True)])
    assert stats.precision == 0.5 and stats.recall == 0.5 and stats.false_refusal_rate == 1.0
