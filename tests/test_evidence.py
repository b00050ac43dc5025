"""Evidence scoring and score-based refusal, on hand-computed figures (no model, no index)."""

from __future__ import annotations

import numpy as np
import pytest

from rag.evidence import EvidenceParams, QueryTerms, Scored, Sentence, score
from rag.refusal import Calibration, answerable


def _sentence(text: str, rank: int, vector: list[float]) -> Sentence:
    return Sentence("a.txt", "标题", 0, len(text), text, "a.txt:0-9", rank,
                    vector=np.asarray(vector, np.float32))  # fmt: skip


def _terms(weights: dict[str, float], unit: str | None = None) -> QueryTerms:
    terms = QueryTerms(weights)
    terms.quantity, terms.unit = unit is not None, unit
    return terms


def test_evidence_score_by_hand() -> None:
    query = np.asarray([1.0, 0.0], np.float32)
    terms = _terms({"长兴县": 3.0, "冠军鼎": 1.0})
    first = _sentence("长兴县捧获冠军鼎。", 0, [0.8, 0.6])
    second = _sentence("长兴县位于湖州。", 2, [0.9, 0.436])
    scored = score(query, terms, [second, first], EvidenceParams())
    # first: 0.8 + 0.3 * (3 + 1) / 4 - 0.01 * 0 = 1.10
    # second: 0.9 + 0.3 * 3 / 4 - 0.01 * 2 = 1.105
    assert [s.sentence.text for s in scored] == ["长兴县位于湖州。", "长兴县捧获冠军鼎。"]
    assert scored[0].score == pytest.approx(1.105, abs=1e-6)
    assert scored[1].score == pytest.approx(1.10, abs=1e-6)
    assert (scored[1].dense, scored[1].lexical) == (pytest.approx(0.8), pytest.approx(1.0))


def test_a_quantity_question_penalises_sentences_without_the_asked_unit() -> None:
    query = np.asarray([1.0, 0.0], np.float32)
    terms = _terms({"投资": 1.0}, unit="亿元")
    stated = _sentence("项目投资15亿元。", 0, [0.8, 0.6])
    missing = _sentence("项目投资规模很大。", 0, [0.85, 0.527])
    scored = score(query, terms, [missing, stated], EvidenceParams())
    # stated: 0.8 + 0.3 = 1.10; missing: 0.85 + 0.3 - 0.15 = 1.00
    assert scored[0].sentence is stated
    assert scored[1].score == pytest.approx(1.00, abs=1e-6)


def test_a_sentence_without_a_stored_vector_scores_zero_on_the_dense_side() -> None:
    plain = Sentence("a.txt", "", 0, 4, "无向量句", "a.txt:0-4", 0)
    (only,) = score(np.asarray([1.0, 0.0], np.float32), _terms({"向量": 1.0}), [plain])
    assert only.dense == 0.0 and only.score == pytest.approx(0.3)


def test_refusal_threshold_per_language() -> None:
    cal = Calibration()
    best = [Scored(_sentence("x", 0, [1, 0]), cal.threshold_zh, 0.9, 0.2)]
    assert answerable(best, "zh", cal)  # at the threshold: answered
    below = [Scored(best[0].sentence, cal.threshold_zh - 1e-3, 0.9, 0.2)]
    assert not answerable(below, "zh", cal)
    assert answerable(below, "en", cal)  # English questions have a lower threshold
    # between the LLM floor and the threshold the LLM is asked; below the floor, not even that
    assert answerable(below, "zh", cal, llm=True)
    assert not answerable([], "zh", cal, llm=True)
