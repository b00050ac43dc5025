"""Fusion of the dense and keyword lists, on hand-computed figures (no model, no index)."""

from __future__ import annotations

import pytest

from rag.keyword import KeywordHits, KeywordIndex, search_words
from rag.retrieve import RetrievalParams, Scores, fuse


def _scores(dense: dict[int, float], keyword: list[float], lang: str = "zh") -> Scores:
    return Scores(dense, KeywordHits.dense(keyword), lang)  # type: ignore[arg-type]


def test_zscore_fusion_by_hand() -> None:
    # dense cosines 0.9, 0.8, 0.7 -> mean 0.8, sd 0.0816 -> z = 1.2247, 0, -1.2247
    # BM25 6, 0, 2 (row 1 no match) -> list [6, 2]: mean 4, sd 2 -> z = 1, -1; row 1 gets -1
    s = _scores({0: 0.9, 1: 0.8, 2: 0.7}, [6.0, 0.0, 2.0])
    hits = fuse(s, RetrievalParams(fusion="zscore", dense_weight_zh=0.5), k=3)
    assert [h.row for h in hits] == [0, 1, 2]
    z = 1.224744871391589
    assert hits[0].score == pytest.approx(0.5 * z + 0.5 * 1.0)
    assert hits[1].score == pytest.approx(0.5 * 0.0 + 0.5 * -1.0)
    assert hits[2].score == pytest.approx(0.5 * -z + 0.5 * -1.0)


def test_a_weak_keyword_list_does_not_override_a_clear_dense_winner() -> None:
    # Dense: row 0 stands far out. Keyword (a paraphrased question): row 0 matches no term,
    # the others form a near-flat list whose top, row 1, is barely ahead. Max-scaling gives
    # that top a full 1.0 and lets it win; its z-score is modest, row 0's dense one is not.
    dense = {0: 0.95, 1: 0.70, 2: 0.69, 3: 0.68, 4: 0.67}
    keyword = [0.0, 5.2, 5.0, 5.1, 5.0]
    old = RetrievalParams(fusion="convex", dense_weight_zh=0.5)  # the earlier default
    assert fuse(_scores(dense, keyword), old, k=1)[0].row == 1
    assert fuse(_scores(dense, keyword), RetrievalParams(), k=1)[0].row == 0


def test_no_keyword_match_leaves_the_dense_order() -> None:
    dense = {3: 0.5, 1: 0.9, 2: 0.7}
    hits = fuse(_scores(dense, [0.0] * 4), RetrievalParams(fusion="zscore"), k=3)
    assert [h.row for h in hits] == [1, 2, 3]


def test_a_row_only_keyword_search_found_is_still_ranked() -> None:
    hits = fuse(_scores({0: 0.9, 1: 0.5}, [0.0, 0.0, 9.0]), RetrievalParams(), k=3)
    assert 2 in [h.row for h in hits]
    assert hits[[h.row for h in hits].index(2)].keyword == pytest.approx(9.0)


def test_english_questions_search_chinese_keywords_through_the_dictionary() -> None:
    kw = KeywordIndex.from_texts(["其中，长兴县捧获生态文明冠军鼎。", "绍兴位列第15位。"])
    words = search_words("Which county won the ecological civilization tripod?", kw.vocab)
    assert "文明" in words  # civilization -> 文明, CC-CEDICT read backwards
    scores = kw.scores("Which county won the ecological civilization tripod?")
    assert scores[0] > scores[1]
