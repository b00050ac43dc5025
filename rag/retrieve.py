"""Hybrid retrieval: FAISS (dense) and BM25 (keyword) candidates, fused per language.

English questions over Chinese articles get almost nothing from keyword search (only
Latin tokens such as 'GDP' or '415X' can match), so the dense weight may depend on the
question's language. The dense signal of a chunk mixes its own cosine with the best
cosine of its sentences (vectors stored at ingest), which matters most for English.
The weights were tuned on the dev half of the gold set (`python -m rag.evals.tune
fusion`); `rag eval` compares them with keyword-only and dense-only runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from rag.index import chunk_id
from rag.keyword import KeywordHits
from rag.text import Lang, detect_lang
from rag.types import Chunk, Passage

if TYPE_CHECKING:
    from rag.embed import Embedder
    from rag.store import Store

Method = Literal["hybrid", "dense", "keyword"]
Fusion = Literal["zscore", "convex", "rrf"]


@dataclass(frozen=True)
class RetrievalParams:
    method: Method = "hybrid"
    # Chinese: z-scores at 0.65, measured on dev over three corpus shapes (`rag eval --shape
    # all`) and with the keyword list weakened by dropping 70 % of the question's terms
    # (a stand-in for paraphrased questions). There min-max convex at 0.5 fell below dense
    # alone (zh hit@1 90.2 vs 92.5 on the demo shape); z-scores at 0.65 stayed at or above
    # it (92.5; paragraphs 86.5 vs 81.9) and matched convex 0.5 on the plain gold set, where
    # convex at 0.65 lost (paragraphs 86.5 vs 87.1). docs/quality.md#corpus-shapes.
    fusion: Fusion = "zscore"
    # English questions search keywords through dictionary translations (rag.keyword), and
    # their dense cosines are flat (cross-lingual, all close to 0.75). Convex fusion at 0.5
    # matched or beat z-scores on every shape (demo en hit@5 94.5 vs 94.0) and keeps the
    # README's English example, which z-scores push out of the top 5.
    fusion_en: Fusion | None = "convex"  # None: English questions use `fusion` too
    dense_weight_zh: float = 0.65  # share of the dense score in a Chinese question's fusion
    dense_weight_en: float = 0.5
    rrf_k: int = 60
    candidates: int = 50  # taken from each list before fusion
    # Share of the best *sentence* cosine in a chunk's dense score (the rest is the whole
    # chunk's cosine): a one-sentence fact drowns in a long chunk's embedding. On dev it
    # lifted English hit@5 from 68.1 to 85.1 (MRR 56.5 -> 74.0); 0.75 and 1.0 lose MRR.
    sentence_share_zh: float = 0.5
    sentence_share_en: float = 0.5
    # "auto": the store searches every sentence when it can afford to (rag.index:
    # SENTENCE_SCAN_LIMIT); "candidates": only the sentences of the dense and keyword
    # candidates are scored, as a large store does (compared in `rag eval`).
    sentence_search: Literal["auto", "candidates"] = "auto"

    def dense_weight(self, lang: Lang) -> float:
        if self.method == "dense":
            return 1.0
        if self.method == "keyword":
            return 0.0
        return self.dense_weight_zh if lang == "zh" else self.dense_weight_en

    def fusion_for(self, lang: Lang) -> Fusion:
        return self.fusion_en if lang == "en" and self.fusion_en is not None else self.fusion

    def sentence_share(self, lang: Lang) -> float:
        return self.sentence_share_zh if lang == "zh" else self.sentence_share_en


@dataclass(frozen=True)
class Hit:
    row: int  # position of the chunk in the store
    score: float  # fused score (only comparable within one query)
    dense: float  # dense signal: chunk cosine mixed with its best sentence's
    keyword: float  # BM25 score


@dataclass(frozen=True)
class Scores:
    """Both signals for one query, computed once and fused under any parameters."""

    dense: dict[int, float]  # row -> cosine of query and chunk, for the dense candidates
    keyword: KeywordHits  # BM25 scores of the rows matching a query term
    lang: Lang
    # row -> best cosine of the query and one of the chunk's sentences, for the same rows
    sentence: dict[int, float] = field(default_factory=dict)

    def dense_score(self, row: int, share: float) -> float:
        """The chunk's dense signal: its own cosine mixed with its best sentence's."""
        chunk = self.dense.get(row, 0.0)
        if share <= 0 or row not in self.sentence:
            return chunk
        return (1.0 - share) * chunk + share * self.sentence[row]


# (query, store, fused hits best first) -> hits in the new order, e.g. a cross-encoder's
Rerank = Callable[[str, "Store", list[Hit]], list[Hit]]


class Retriever:
    """The one retrieval path: the assistant, `rag eval` and `tune` all call it, so a
    reranker or another store shows up in every figure.

    candidates (dense chunk search, sentence search, keyword postings) → `Scores` (once per
    query) → fusion under `params` → optional `rerank` → top k.
    """

    def __init__(
        self,
        embedder: Embedder,
        params: RetrievalParams | None = None,
        rerank: Rerank | None = None,
    ) -> None:
        self.embedder = embedder
        self.params = params or RetrievalParams()
        self.rerank = rerank

    def scores(self, store: Store, query: str) -> Scores:
        vector = self.embedder.embed([query], "query")[0]
        return score_vector(store, vector, query, self.params)

    def rank(
        self,
        store: Store,
        query: str,
        scores: Scores,
        k: int,
        params: RetrievalParams | None = None,
    ) -> list[Hit]:
        """The top k under `params` (default: this retriever's), reranked if configured."""
        p = params or self.params
        if self.rerank is None:
            return fuse(scores, p, k)
        return self.rerank(query, store, fuse(scores, p, max(k, p.candidates)))[:k]

    def retrieve(self, store: Store, query: str, k: int) -> list[Hit]:
        return self.rank(store, query, self.scores(store, query), k)


def score_vector(store: Store, vector: np.ndarray, query: str, params: RetrievalParams) -> Scores:
    """Dense candidates are the top chunks by chunk cosine plus the chunks holding the
    top sentences, so a chunk found only through one sentence still gets a dense score.
    A store too large to search sentences exhaustively (rag.store) returns none; then the
    sentences of the keyword candidates are scored instead."""
    top = max(params.candidates, 1)
    keyword = store.keyword_search(query)
    rows = [r for r, _ in store.search(vector, top)]
    found = [] if params.sentence_search == "candidates" else store.search_sentences(vector, top)
    extra = [r for r, _ in found] if found else keyword.top(top)
    known = set(rows)
    rows += [r for r in dict.fromkeys(extra) if r not in known]
    chunk, best = store.similarities(vector, rows)
    dense = {r: float(c) for r, c in zip(rows, chunk, strict=True)}
    sentence = {r: float(b) for r, b in zip(rows, best, strict=True)}
    return Scores(dense, keyword, detect_lang(query), sentence)


def fuse(scores: Scores, params: RetrievalParams, k: int) -> list[Hit]:
    """Rank candidates from both lists by a weighted combination; top k."""
    w = params.dense_weight(scores.lang)
    dense = _dense_signal(scores, params.sentence_share(scores.lang), params.candidates)
    kw = scores.keyword
    kw_top = kw.top(params.candidates)
    pool: set[int] = set()
    if w > 0:
        pool |= set(dense)
    if w < 1:
        pool |= set(kw_top)
    fusion = params.fusion_for(scores.lang)
    if fusion == "rrf":
        fused = _rrf(dense, kw_top, w, params.rrf_k)
    elif fusion == "zscore":
        fused = _zscore(dense, kw, kw_top, pool, w)
    else:
        fused = _convex(dense, kw, pool, w)
    ranked = sorted(pool, key=lambda r: (-fused.get(r, 0.0), r))[:k]
    return [
        Hit(row=r, score=fused.get(r, 0.0), dense=dense.get(r, 0.0), keyword=kw.get(r))
        for r in ranked
    ]


def _dense_signal(scores: Scores, share: float, candidates: int) -> dict[int, float]:
    """The top `candidates` rows by the (sentence-mixed) dense score, with that score.

    With share 0 these are exactly the chunk-cosine candidates of the vector search.
    """
    mixed = {r: scores.dense_score(r, share) for r in scores.dense}
    top = sorted(mixed, key=lambda r: (-mixed[r], r))[:candidates]
    return {r: mixed[r] for r in top}


def _convex(
    dense: dict[int, float], keyword: KeywordHits, pool: set[int], w: float
) -> dict[int, float]:
    """w * min-max-normalised cosine + (1 - w) * BM25 / max BM25."""
    dense_vals = list(dense.values())
    lo, hi = (min(dense_vals), max(dense_vals)) if dense_vals else (0.0, 1.0)
    span = hi - lo or 1.0
    kw_max = keyword.max()
    out = {}
    for r in pool:
        d = (dense[r] - lo) / span if r in dense else 0.0
        k = keyword.get(r) / kw_max if kw_max > 0 else 0.0
        out[r] = w * d + (1.0 - w) * k
    return out


def _zscore(
    dense: dict[int, float], keyword: KeywordHits, kw_top: list[int], pool: set[int], w: float
) -> dict[int, float]:
    """w * z(dense) + (1 - w) * z(BM25), each standardised over its own candidate list.

    Min-max scaling gives every list's top the same 1.0, however weakly it stands out, so a
    flat keyword list (a paraphrased question: no term singles out a passage) drags a clear
    dense winner down. Standardising keeps how far a candidate stands out of its own list;
    a row missing from a list counts as that list's weakest candidate.
    """
    d_z, d_floor = _standardise([dense[r] for r in dense])
    k_z, k_floor = _standardise([keyword.get(r) for r in kw_top])
    d_of = dict(zip(dense, d_z, strict=True))
    k_of = dict(zip(kw_top, k_z, strict=True))
    return {r: w * d_of.get(r, d_floor) + (1.0 - w) * k_of.get(r, k_floor) for r in pool}


def _standardise(values: Sequence[float]) -> tuple[list[float], float]:
    """z-scores of the values, and the lowest of them (0 for an empty or flat list)."""
    if not values:
        return [], 0.0
    arr = np.asarray(values, dtype=np.float64)
    sd = float(arr.std())
    if sd <= 1e-12:
        return [0.0] * len(values), 0.0
    z = ((arr - arr.mean()) / sd).tolist()
    return z, min(z)


def _rrf(dense: dict[int, float], kw_top: list[int], w: float, rrf_k: int) -> dict[int, float]:
    out: dict[int, float] = {}
    dense_rank = sorted(dense, key=lambda r: (-dense[r], r))
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
        meta=chunk.meta,
    )


def retrieve(
    store: Store, embedder: Embedder, query: str, k: int, params: RetrievalParams | None = None
) -> list[Hit]:
    """One query through a `Retriever` (convenience for scripts and tests)."""
    return Retriever(embedder, params).retrieve(store, query, k)
