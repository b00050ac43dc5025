"""Run the gold set through retrieval configurations and answer modes, in one pass.

Each question is embedded and keyword-scored once; every retrieval configuration is a
different fusion of the same two score lists, so the comparison is like for like and
costs almost nothing extra. Answers go through the real `Assistant.ask`.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from rag.ask import Assistant
from rag.evals.metrics import (
    GoldItem,
    all_evidence_within,
    citation_precision,
    citation_recall,
    evidence_rank,
    evidence_within_budget,
    key_fact_recall,
    percentiles,
    refusal_stats,
    short_exact,
)
from rag.retrieve import RetrievalParams
from rag.types import Answer

KS = (1, 3, 5, 10)
BUDGET = 1500  # characters of ranked context (about five 300-character chunks)

_NO_SENTENCES = RetrievalParams(sentence_share_zh=0.0, sentence_share_en=0.0)
DEFAULT_CONFIGS: dict[str, RetrievalParams] = {
    "keyword": RetrievalParams(method="keyword"),
    "dense-chunk": replace(_NO_SENTENCES, method="dense"),  # plain FAISS over chunks
    "dense": RetrievalParams(method="dense"),  # chunk + best-sentence cosine
    "hybrid-no-sentences": _NO_SENTENCES,
    "hybrid-rrf": RetrievalParams(fusion="rrf", fusion_en=None),
    # the fusion shipped before z-scores: min-max convex, equal weights
    "hybrid-convex": RetrievalParams(fusion="convex", fusion_en=None, dense_weight_zh=0.5),
    # what a store too large for the exhaustive sentence scan does (rag.index)
    "hybrid-candidate-sentences": RetrievalParams(sentence_search="candidates"),
    "hybrid": RetrievalParams(),  # the shipped default
}

ProgressFn = Callable[[int, int], None]


def default_gold_path() -> Path:
    """The bundled gold set: every .jsonl file of evals/gold/."""
    return Path(__file__).parent / "gold"


@dataclass
class ItemResult:
    id: str
    lang: str
    kind: str
    split: str
    answerable: bool
    type: str | None = None  # expected answer type of the gold item
    ranks: dict[str, int | None] = field(default_factory=dict)  # config -> evidence rank
    budget_hit: dict[str, bool] = field(default_factory=dict)
    all_evidence_at_10: dict[str, bool] = field(default_factory=dict)
    retrieval_ms: float = 0.0
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)  # mode -> answer metrics


def _answer_record(item: GoldItem, answer: Answer, ms: float) -> dict[str, Any]:
    return {
        "answered": answer.answered,
        "mode": answer.mode,
        "key_fact_recall": key_fact_recall(item, answer.text) if answer.answered else 0.0,
        "citation_precision": citation_precision(item, answer.citations),
        "citation_recall": citation_recall(item, answer.citations) if item.answerable else None,
        "short": answer.short,
        "short_exact": short_exact(item, answer.short) if item.answerable else None,
        "n_citations": len(answer.citations),
        "unsupported": sum(not c.supported for c in answer.citations),
        "ms": ms,
        "text": answer.text,
        "notice": answer.notice,
    }


def evaluate_item(
    item: GoldItem,
    assistant: Assistant,
    configs: dict[str, RetrievalParams],
    modes: Sequence[str],
) -> ItemResult:
    result = ItemResult(item.id, item.lang, item.kind, item.split, item.answerable, item.type)
    # Answers first, so their latency includes embedding the question (it is cached after).
    for mode in modes:
        started = time.perf_counter()
        answer = assistant.ask(item.question, k=5, mode=mode)  # type: ignore[arg-type]
        ms = (time.perf_counter() - started) * 1000
        result.answers[mode] = _answer_record(item, answer, ms)
    # The assistant's own retrieval path: its store, its candidates, its rerank hook.
    store, retriever = assistant.index, assistant.retriever
    started = time.perf_counter()
    scores = retriever.scores(store, item.question)
    result.retrieval_ms = (time.perf_counter() - started) * 1000
    for name, params in configs.items():
        hits = retriever.rank(store, item.question, scores, max(KS), params)
        texts = [store.chunk(h.row).text for h in hits]
        if item.answerable:
            result.ranks[name] = evidence_rank(item, texts)
            result.budget_hit[name] = evidence_within_budget(item, texts, BUDGET)
            result.all_evidence_at_10[name] = all_evidence_within(item, texts, 10)
    return result


def evaluate(
    items: Sequence[GoldItem],
    assistant: Assistant,
    configs: dict[str, RetrievalParams] | None = None,
    modes: Sequence[str] = ("extractive",),
    progress: ProgressFn | None = None,
) -> list[ItemResult]:
    configs = configs or DEFAULT_CONFIGS
    out = []
    for i, item in enumerate(items, start=1):
        out.append(evaluate_item(item, assistant, configs, modes))
        if progress:
            progress(i, len(items))
    return out


# -- aggregation ------------------------------------------------------------------------


def retrieval_summary(results: Iterable[ItemResult], config: str) -> dict[str, float]:
    rows = [r for r in results if r.answerable and config in r.ranks]
    n = len(rows) or 1
    ranks = [r.ranks[config] or 10_000 for r in rows]  # None: evidence not retrieved
    out: dict[str, float] = {"n": float(len(rows))}
    for k in KS:
        out[f"hit@{k}"] = sum(1 for rank in ranks if rank <= k) / n
    out["mrr@10"] = sum(1 / rank for rank in ranks if rank <= 10) / n
    out[f"hit@{BUDGET}ch"] = sum(r.budget_hit[config] for r in rows) / n
    multi = [r for r in rows if r.kind == "multi"]
    if multi:
        out["all_evidence@10 (multi)"] = sum(r.all_evidence_at_10[config] for r in multi) / len(
            multi
        )
    return out


def hit_curve(results: Iterable[ItemResult], config: str, max_k: int = 10) -> list[float]:
    rows = [r for r in results if r.answerable and config in r.ranks]
    n = len(rows) or 1
    return [sum(1 for r in rows if (r.ranks[config] or 99) <= k) / n for k in range(1, max_k + 1)]


def answer_summary(
    results: Sequence[ItemResult], items: Sequence[GoldItem], mode: str
) -> dict[str, float | None]:
    """Answer metrics; None where a metric does not apply to the group (e.g. refusal
    recall of a group without unanswerable items)."""
    pairs = [(r, i) for r, i in zip(results, items, strict=True) if mode in r.answers]
    if not pairs:
        return {}
    answerable = [r.answers[mode] for r, i in pairs if i.answerable]
    precisions = [
        a["citation_precision"] for a in answerable if a["citation_precision"] is not None
    ]
    refusal = refusal_stats([i for _, i in pairs], [_as_answer(r.answers[mode]) for r, _ in pairs])
    latency = percentiles([r.answers[mode]["ms"] for r, _ in pairs])
    n = len(answerable)
    exact = [a["short_exact"] for a in answerable if a.get("short_exact") is not None]
    lengths = sorted(len(a["short"]) for a in answerable if a.get("short"))
    has_unanswerable = refusal.n_unanswerable > 0
    return {
        "n": float(len(pairs)),
        "key_fact_recall": sum(a["key_fact_recall"] for a in answerable) / n if n else None,
        "citation_precision": sum(precisions) / len(precisions) if precisions else None,
        "citation_recall": sum(a["citation_recall"] or 0.0 for a in answerable) / n if n else None,
        "refusal_precision": refusal.precision if has_unanswerable else None,
        "refusal_recall": refusal.recall if has_unanswerable else None,
        "false_refusal_rate": refusal.false_refusal_rate if n else None,
        "short_exact": sum(exact) / len(exact) if exact else None,
        "short_median_chars": float(lengths[len(lengths) // 2]) if lengths else None,
        "latency_p50_ms": latency["p50"],
        "latency_p95_ms": latency["p95"],
    }


def _as_answer(record: dict[str, Any]) -> Answer:
    return Answer(
        text=record["text"],
        mode=record["mode"],
        answered=record["answered"],
        notice=record["notice"],
        citations=[],
        passages=[],
    )


def group_by(
    results: Sequence[ItemResult], items: Sequence[GoldItem], key: Callable[[ItemResult], str]
) -> dict[str, tuple[list[ItemResult], list[GoldItem]]]:
    groups: dict[str, tuple[list[ItemResult], list[GoldItem]]] = defaultdict(lambda: ([], []))
    for r, i in zip(results, items, strict=True):
        groups[key(r)][0].append(r)
        groups[key(r)][1].append(i)
    return dict(sorted(groups.items()))


def to_json(results: Sequence[ItemResult]) -> list[dict[str, Any]]:
    return [asdict(r) for r in results]
