"""Metrics over gold items. Pure functions on plain values; no model, no index.

Matching is whitespace-insensitive and width-folded (`rag.text.match_key`), so an
evidence string copied from a PDF-broken line still matches the rejoined passage text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from rag.text import match_key
from rag.types import Answer, Citation

Kind = Literal["fact", "numeric", "multi", "unanswerable"]


@dataclass(frozen=True)
class GoldItem:
    id: str
    lang: str
    question: str
    answerable: bool
    answer: str
    key_facts: tuple[str, ...]
    source: str | None
    evidence: tuple[str, ...]
    kind: str
    split: str
    type: str | None = None  # expected answer type (rag.question.AnswerType)
    short: tuple[str, ...] = ()  # acceptable short answers, the verbatim span first

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> GoldItem:
        return cls(
            id=str(d["id"]),
            lang=str(d["lang"]),
            question=str(d["question"]),
            answerable=bool(d["answerable"]),
            answer=str(d.get("answer", "")),
            key_facts=tuple(d.get("key_facts") or ()),  # type: ignore[arg-type]
            source=d.get("source"),  # type: ignore[arg-type]
            evidence=tuple(d.get("evidence") or ()),  # type: ignore[arg-type]
            kind=str(d["kind"]),
            split=str(d.get("split", "test")),
            type=str(d["type"]) if d.get("type") else None,
            short=tuple(str(d["short"]).split("|")) if d.get("short") else (),
        )


def load_gold(path: Path) -> list[GoldItem]:
    """Items of one .jsonl file, or of every .jsonl file of a directory (sorted)."""
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    items = []
    for file in files:
        with file.open(encoding="utf-8") as fh:
            items += [GoldItem.from_dict(json.loads(line)) for line in fh if line.strip()]
    return items


def evidence_rank(item: GoldItem, passage_texts: Sequence[str]) -> int | None:
    """1-based rank of the first passage holding any of the item's evidence strings."""
    keys = [match_key(e) for e in item.evidence]
    for rank, text in enumerate(passage_texts, start=1):
        key = match_key(text)
        if any(e in key for e in keys):
            return rank
    return None


def all_evidence_within(item: GoldItem, passage_texts: Sequence[str], k: int) -> bool:
    """Every evidence string (both facts of a multi item) inside the top k passages."""
    keys = [match_key(t) for t in passage_texts[:k]]
    return all(any(match_key(e) in key for key in keys) for e in item.evidence)


def evidence_within_budget(item: GoldItem, passage_texts: Sequence[str], budget: int) -> bool:
    """Evidence ends within the first `budget` non-space characters of ranked context.

    Fair across chunk sizes: a big chunk 'contains' more evidence but also spends more
    of the reader's (or the LLM's) context.
    """
    used = 0
    keys = [match_key(e) for e in item.evidence]
    for text in passage_texts:
        key = match_key(text)
        for e in keys:
            pos = key.find(e)
            if pos >= 0 and used + pos + len(e) <= budget:
                return True
        used += len(key)
        if used >= budget:
            return False
    return False


def key_fact_recall(item: GoldItem, text: str) -> float:
    if not item.key_facts:
        return 1.0
    answer = match_key(text)
    found = sum(any(match_key(alt) in answer for alt in f.split("|")) for f in item.key_facts)
    return found / len(item.key_facts)


def _cites_evidence(c: Citation, item: GoldItem) -> bool:
    quote = match_key(c.quote)
    return any(
        (e := match_key(ev)) in quote or quote in e or _overlap(quote, e) for ev in item.evidence
    )


def _overlap(a: str, b: str, min_chars: int = 8) -> bool:
    """The two strings share a run of at least min_chars characters."""
    if len(a) < min_chars or len(b) < min_chars:
        return False
    grams = {a[i : i + min_chars] for i in range(len(a) - min_chars + 1)}
    return any(b[i : i + min_chars] in grams for i in range(len(b) - min_chars + 1))


def citation_precision(item: GoldItem, citations: Sequence[Citation]) -> float | None:
    """Share of citations whose quote contains or overlaps the evidence (None: no citations)."""
    if not citations:
        return None
    return sum(_cites_evidence(c, item) for c in citations) / len(citations)


def citation_recall(item: GoldItem, citations: Sequence[Citation]) -> float:
    """Share of evidence strings covered by at least one citation."""
    if not item.evidence:
        return 1.0
    covered = 0
    for ev in item.evidence:
        e = match_key(ev)
        covered += any(
            e in (q := match_key(c.quote)) or q in e or _overlap(q, e) for c in citations
        )
    return covered / len(item.evidence)


@dataclass(frozen=True)
class RefusalStats:
    precision: float  # of the refusals, how many were right (the item is unanswerable)
    recall: float  # of the unanswerable items, how many were refused
    false_refusal_rate: float  # of the answerable items, how many were refused
    n_unanswerable: int
    n_answerable: int


def refusal_stats(items: Sequence[GoldItem], answers: Sequence[Answer]) -> RefusalStats:
    refused = [not a.answered for a in answers]
    unans = [not i.answerable for i in items]
    tp = sum(r and u for r, u in zip(refused, unans, strict=True))
    n_refused = sum(refused)
    n_unans = sum(unans)
    n_ans = len(items) - n_unans
    false_refusals = sum(r and not u for r, u in zip(refused, unans, strict=True))
    return RefusalStats(
        precision=tp / n_refused if n_refused else 1.0,
        recall=tp / n_unans if n_unans else 1.0,
        false_refusal_rate=false_refusals / n_ans if n_ans else 0.0,
        n_unanswerable=n_unans,
        n_answerable=n_ans,
    )


def percentiles(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p95": 0.0, "mean": 0.0}
    arr = np.asarray(values, dtype=np.float64)
    return {
        "p50": float(np.percentile(arr, 50)),
        "p95": float(np.percentile(arr, 95)),
        "mean": float(arr.mean()),
    }


_QUALIFIERS = re.compile(
    r"^(?:约|近|超过|超|逾|达到|达|共|about|nearly|over|around)\s*"
    r"|(?:以上|左右|余|多|or more|-odd)$"
)


def _short_key(text: str) -> str:
    key = match_key(text).strip("。.,，;；:：“”\"'《》()（）")
    return _QUALIFIERS.sub("", key)


def short_exact(item: GoldItem, short: str | None) -> bool | None:
    """The short answer is one of the item's accepted short answers, up to whitespace,
    width, surrounding punctuation and qualifiers ('约4000家' = '4000家', '3万人以上' =
    '3万人'). For a two-part answer the first part counts. None: the item has no short
    answer to compare with."""
    if not item.short:
        return None
    if not short:
        return False
    first = re.split(r"[；;]", short)[0]
    # An English answer is "rendering (原文)": either side may match.
    sides = [first, *re.findall(r"\(([^)]*)\)", first), re.sub(r"\s*\([^)]*\)", "", first)]
    keys = {_short_key(s) for s in sides if s.strip()}
    return any(_short_key(alt) in keys for alt in item.short)
