"""Hybrid retrieval: FAISS (dense) and BM25 (keyword) candidates, fused per language.

English questions over Chinese articles get almost nothing from keyword search (only
Latin tokens such as 'GDP' or '415X' can match), so the dense weight depends on the
question's language. The weights were tuned on the dev half of the gold set
(docs/quality.md); `rag eval` compares them with keyword-only and dense-only runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from rag.embed import Embedder
from rag.index import Index, chunk_id
from rag.text import Lang, detect_lang
from rag.types import Chunk, Passage

Method = Literal["hybrid", "dense", "keyword"]
Fusion = Literal["convex", "rrf"]


@dataclass(frozen=True)
class RetrievalParams:
    method: Method = "hybrid"
    fusion: Fusion = "convex"
    dense_weight_zh: float = 0.5  # share of the dense score in a Chinese question's fusion
    dense_weight_en: float = 0.9
    rrf_k: int = 60
    candidates: int = 50  # taken from each list before fusion

    def dense_weight(self, lang: Lang) -> float:
        if self.method == "dense":
            return 1.0
        if self.method == "keyword":
            return 0.0
        return self.dense_weight_zh if lang == "zh" else self.dense_weight_en


@dataclass(frozen=True)
class Hit:
    row: int  # position of the chunk in the index
    score: float  # fused score (only comparable within one query)
    dense: float  # cosine similarity of query and chunk
    keyword: float  # BM25 score


@dataclass(frozen=True)
class Scores:
    """Both signals for one query, computed once and fused under any parameters."""

    dense: dict[int, float]  # row -> cosine, for the dense candidates
    keyword: np.ndarray  # BM25 score of every row
    lang: Lang


def score_query(index: Index, embedder: Embedder, query: str, candidates: int = 50) -> Scores:
    n = len(index.chunks)
    qvec = embedder.embed([query], "query")
    sims, rows = index.vectors.search(qvec, min(max(candidates, 1), n))
    dense = {int(r): float(s) for r, s in zip(rows[0], sims[0], strict=True) if r >= 0}
    return Scores(dense=dense, keyword=index.keyword.scores(query), lang=detect_lang(query))


def fuse(scores: Scores, params: RetrievalParams, k: int) -> list[Hit]:
    """Rank candidates from both lists by a weighted combination; top k."""
    w = params.dense_weight(scores.lang)
    kw = scores.keyword
    kw_top = [int(r) for r in np.argsort(-kw)[: params.candidates] if kw[r] > 0]
    pool: set[int] = set()
    if w > 0:
        pool |= set(scores.dense)
    if w < 1:
        pool |= set(kw_top)
    if params.fusion == "rrf":
        fused = _rrf(scores, kw_top, w, params.rrf_k)
    else:
        fused = _convex(scores, pool, w)
    ranked = sorted(pool, key=lambda r: (-fused.get(r, 0.0), r))[:k]
    return [
        Hit(row=r, score=fused.get(r, 0.0), dense=scores.dense.get(r, 0.0), keyword=float(kw[r]))
        for r in ranked
    ]


def _convex(scores: Scores, pool: set[int], w: float) -> dict[int, float]:
    """w * min-max-normalised cosine + (1 - w) * BM25 / max BM25."""
    dense_vals = list(scores.dense.values())
    lo, hi = (min(dense_vals), max(dense_vals)) if dense_vals else (0.0, 1.0)
    span = hi - lo or 1.0
    kw_max = float(scores.keyword.max()) if scores.keyword.size else 0.0
    out = {}
    for r in pool:
        d = (scores.dense[r] - lo) / span if r in scores.dense else 0.0
        k = float(scores.keyword[r]) / kw_max if kw_max > 0 else 0.0
        out[r] = w * d + (1.0 - w) * k
    return out


def _rrf(scores: Scores, kw_top: list[int], w: float, rrf_k: int) -> dict[int, float]:
    out: dict[int, float] = {}
    dense_rank = sorted(scores.dense, key=lambda r: -scores.dense[r])
    for rank, r in enumerate(dense_rank):
        out[r] = out.get(r, 0.0) + w / (rrf_k + rank + 1)
    for rank, r in enumerate(kw_top):
        out[r] = out.get(r, 0.0) + (1.0 - w) / (rrf_k + rank + 1)
    return out


def to_passage(chunk: Chunk, score: float) -> Passage:
    return Passage(
        id=chunk_id(chunk),
        source=chunk.source,
        title=chunk.title,
        text=chunk.text,
        start=chunk.start,
        end=chunk.end,
        score=round(score, 4),
    )


def retrieve(
    index: Index, embedder: Embedder, query: str, k: int, params: RetrievalParams | None = None
) -> list[Hit]:
    params = params or RetrievalParams()
    return fuse(score_query(index, embedder, query, params.candidates), params, k)
