"""The quality gate: the gold set through the real pipeline; regressions cannot land silently.

Thresholds sit a few points under the figures measured when they were set (docs/quality.md)
so that noise-free regressions trip them; hybrid must never fall below the best single
method. Retrieval is deterministic given the model and the index, so this is not flaky.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag import Assistant
from rag.evals import report
from rag.evals.metrics import GoldItem, load_gold
from rag.evals.run import (
    DEFAULT_CONFIGS,
    ItemResult,
    answer_summary,
    default_gold_path,
    evaluate,
    retrieval_summary,
)

pytestmark = pytest.mark.slow

# Measured on the demo index (the 601 items of the held-out test split of evals/gold/, 400/1
# chunks; 269 of them from blind sets nobody tuned on) with `rag eval --split test` (the same
# evaluate / retrieval_summary / answer_summary calls as this gate), 2026-12-04: hybrid hit@5
# 94.1, MRR 88.4, zh hit@5 95.2, en 92.7; extractive key facts 79.4, citation precision 83.1,
# refusal recall 68.7, false refusals 8.6, short answers exact 62.0. Only the test split is
# evaluated (on all items the gate ran past its timeout on a busy machine), so the floors
# are set from the test split's figures, about 1.5-2.5 points under them (en hit@5: 0.7).
MIN_HYBRID = {"hit@5": 0.93, "mrr@10": 0.87}
MIN_HYBRID_BY_LANG = {"zh": 0.93, "en": 0.92}  # hit@5
MIN_KEY_FACT_RECALL = 0.775
MIN_CITATION_PRECISION = 0.81
MIN_REFUSAL_RECALL = 0.665
MAX_FALSE_REFUSALS = 0.105
MIN_SHORT_EXACT = 0.60
SINGLE_METHODS = ("keyword", "dense-chunk", "dense")


@pytest.fixture(scope="module")
def gold() -> list[GoldItem]:
    """The held-out test split: what the thresholds were measured on, never tuned on."""
    items = [i for i in load_gold(default_gold_path()) if i.split == "test"]
    assert len(items) > 300 and {i.lang for i in items} == {"zh", "en"}
    assert any(not i.answerable for i in items)
    return items


@pytest.fixture(scope="module")
def results(assistant: Assistant, gold: list[GoldItem]) -> list[ItemResult]:
    return evaluate(gold, assistant, DEFAULT_CONFIGS, modes=("extractive",))


def test_hybrid_retrieval_meets_its_thresholds(results: list[ItemResult]) -> None:
    hybrid = retrieval_summary(results, "hybrid")
    for metric, floor in MIN_HYBRID.items():
        assert hybrid[metric] >= floor, f"hybrid {metric} {hybrid[metric]:.3f} < {floor}"
    for lang, floor in MIN_HYBRID_BY_LANG.items():
        rows = [r for r in results if r.lang == lang]
        got = retrieval_summary(rows, "hybrid")["hit@5"]
        assert got >= floor, f"hybrid hit@5 for {lang} questions {got:.3f} < {floor}"


def test_hybrid_is_never_worse_than_either_single_method(results: list[ItemResult]) -> None:
    for lang in ("zh", "en", None):
        rows = [r for r in results if lang is None or r.lang == lang]
        hybrid = retrieval_summary(rows, "hybrid")
        for single in SINGLE_METHODS:
            other = retrieval_summary(rows, single)
            assert hybrid["hit@5"] >= other["hit@5"], (lang, single, hybrid, other)
            assert hybrid["mrr@10"] >= other["mrr@10"] - 0.01, (lang, single, hybrid, other)


def test_extractive_answers_cite_and_refuse_well(
    results: list[ItemResult], gold: list[GoldItem]
) -> None:
    s = answer_summary(results, gold, "extractive")
    assert s["key_fact_recall"] >= MIN_KEY_FACT_RECALL, s
    assert s["citation_precision"] >= MIN_CITATION_PRECISION, s
    assert s["refusal_recall"] >= MIN_REFUSAL_RECALL, s
    assert s["false_refusal_rate"] <= MAX_FALSE_REFUSALS, s
    assert s["short_exact"] >= MIN_SHORT_EXACT, s


def test_report_is_written_with_charts(
    results: list[ItemResult], gold: list[GoldItem], tmp_path: Path
) -> None:
    configs = list(DEFAULT_CONFIGS)
    meta = {"gold": "gold.jsonl", "n_items": len(gold), "index": "demo", "n_chunks": 0,
            "model": "bundled", "seconds": 1.0, "command": "rag eval"}  # fmt: skip
    report.write(tmp_path, results, gold, configs, ["extractive"], meta)
    payload = json.loads((tmp_path / "results.json").read_text("utf-8"))
    assert len(payload["items"]) == len(gold)
    assert set(payload["summary"]) == {"all", "dev", "test"}
    md = (tmp_path / "report.md").read_text("utf-8")
    assert "| hybrid |" in md and "key_fact_recall" in md
    # A run over the test split alone is titled so, once (no empty or mislabelled block).
    assert md.count("## Retrieval — held-out test split") == 1 and "dev + test" not in md
    for chart in ("hit_at_k.png", "by_language.png", "latency.png"):
        assert (tmp_path / chart).read_bytes()[:4] == b"\x89PNG"
