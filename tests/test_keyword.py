"""BM25 over jieba tokens: Chinese matching, persistence, merging."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rag.keyword import KeywordIndex

DOCS = [
    "浙江省2023年工业增加值达到2.94万亿元，居全国第三。",
    "湖州召开生态文明典范城市建设推进大会，首次颁发生态鼎。",
    "长兴县捧获生态文明冠军鼎。",
    "绍兴网上轻纺城撮合业务量达311亿元。",
]


def test_chinese_query_finds_the_right_document() -> None:
    index = KeywordIndex.from_texts(DOCS)
    scores = index.scores("哪个县获得了冠军鼎？")
    assert int(np.argmax(scores)) == 2
    # A sub-word of the passage's word matches ('万亿' in '万亿元').
    assert int(np.argmax(index.scores("工业增加值多少万亿"))) == 0


def test_full_width_query_matches_half_width_text() -> None:
    index = KeywordIndex.from_texts(DOCS)
    assert int(np.argmax(index.scores("２０２３年工业"))) == 0


def test_unknown_terms_score_zero() -> None:
    index = KeywordIndex.from_texts(DOCS)
    assert not index.scores("quantum chromodynamics").any()


def test_save_load_roundtrip(tmp_path: Path) -> None:
    index = KeywordIndex.from_texts(DOCS)
    index.save(tmp_path)
    loaded = KeywordIndex.load(tmp_path)
    for q in ["生态鼎", "轻纺城", "2023"]:
        np.testing.assert_allclose(loaded.scores(q), index.scores(q), rtol=1e-6)


def test_merge_of_parts_equals_building_at_once() -> None:
    whole = KeywordIndex.from_texts(DOCS)
    a = KeywordIndex.from_texts(DOCS[:2])
    b = KeywordIndex.from_texts(DOCS[2:])
    merged = KeywordIndex.merge([(a.tf, a.vocab), (b.tf, b.vocab)])
    for q in ["生态鼎", "长兴县", "万亿元", "轻纺城 311亿"]:
        np.testing.assert_allclose(merged.scores(q), whole.scores(q), rtol=1e-6)


def test_rare_terms_weigh_more_than_common_ones() -> None:
    index = KeywordIndex.from_texts(DOCS)
    assert index.idf("冠军鼎") > index.idf("生态")
