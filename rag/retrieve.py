"""Hybrid retrieval: FAISS (dense) and BM25 (keyword) candidates, fused per language.

English questions over Chinese articles get almost nothing from keyword search (only
Latin tokens such as 'GDP' or '415X' can match), so the dense weight may depend on the
question's language. The dense signal of a chunk mixes its own cosine with the best
cosine of its sentences (vectors stored at ingest), which matters most for English.
The weights were tuned on the dev half of the gold set (`python -m rag.evals.tune
fusion`); `rag eval` compares them with keyword-only and dense-only runs.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from rag.embed import Embedder
from rag.index import Index, chunk_id
from rag.text import Lang, detect_lang
from rag.types import Chunk, Passage

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
    row: int  # position of the chunk in the index
    score: float  # fused score (only comparable within one query)
    dense: float  # dense signal: chunk cosine mixed with its best sentence's
    keyword: float  # BM25 score


@dataclass(frozen=True)
class Scores:
    """Both signals for one query, computed once and fused under any parameters."""

    dense: dict[int, float]  # row -> cosine of query and chunk, for the dense candidates
    keyword: np.ndarray  # BM25 score of every row
    lang: Lang
    # row -> best cosine of the query and one of the chunk's sentences, for the same rows
    sentence: dict[int, float] = field(default_factory=dict)

    def dense_score(self, row: int, share: float) -> float:
        """The chunk's dense signal: its own cosine mixed with its best sentence's."""
        chunk = self.dense.get(row, 0.0)
        if share <= 0 or row not in self.sentence:
            return chunk
        return (1.0 - share) * chunk + share * self.sentence[row]


def score_query(index: Index, embedder: Embedder, query: str, candidates: int = 50) -> Scores:
    """Dense candidates are the top chunks by chunk cosine plus the chunks holding the
    top sentences, so a chunk found only through one sentence still gets a dense score."""
    n = len(index.chunks)
    qvec = embedder.embed([query], "query")
    top = min(max(candidates, 1), n)
    sims, rows = index.vectors.search(qvec, top)
    dense = {int(r): float(s) for r, s in zip(rows[0], sims[0], strict=True) if r >= 0}
    sentence: dict[int, float] = {}
    layout = _layout(index)
    if layout.chunk_vectors.size:
        best = layout.best_sentence(qvec[0])
        for r in np.argsort(-best)[:top]:
            dense.setdefault(int(r), float(layout.chunk_vectors[r] @ qvec[0]))
        sentence = {r: float(best[r]) for r in dense}
    return Scores(dense, index.keyword.scores(query), detect_lang(query), sentence)


@dataclass(frozen=True)
class _Layout:
    """Per-index arrays for the sentence signal, built once per loaded (read-only) index."""

    chunk_vectors: np.ndarray  # (n_chunks, dim)
    member_vectors: np.ndarray  # vectors of chunk 0's sentences, then chunk 1's, ...
    starts: np.ndarray  # offset of each chunk's first sentence in `member_vectors`

    def best_sentence(self, qvec: np.ndarray) -> np.ndarray:
        """Best sentence cosine of every chunk: (n_chunks,)."""
        # einsum, not `@`: a BLAS matrix-vector product wakes OpenBLAS's thread pool, whose
        # spinning threads then slow the next query's embedding ~6x on a 2-core machine.
        sims = np.einsum("ij,j->i", self.member_vectors, qvec)
        return np.maximum.reduceat(sims, self.starts)


_LAYOUTS: weakref.WeakKeyDictionary[Index, _Layout] = weakref.WeakKeyDictionary()


def _layout(index: Index) -> _Layout:
    if index in _LAYOUTS:
        return _LAYOUTS[index]
    chunk_vectors = index.all_vectors() if index.chunks else np.zeros((0, 1), np.float32)
    parts: list[np.ndarray] = []
    starts: list[int] = []
    size = 0
    for row, c in enumerate(index.chunks):
        found = [index.sentence_rows.get((c.source, a, b)) for a, b in c.sentences]
        rows = [r for r in found if r is not None]
        # A chunk without stored sentence vectors stands in for its own sentence.
        block = index.sentence_vectors[rows] if rows else chunk_vectors[row : row + 1]
        starts.append(size)
        parts.append(block)
        size += len(block)
    members = np.vstack(parts) if parts else chunk_vectors
    layout = _Layout(chunk_vectors, members, np.asarray(starts, dtype=np.intp))
    _LAYOUTS[index] = layout
    return layout


def fuse(scores: Scores, params: RetrievalParams, k: int) -> list[Hit]:
    """Rank candidates from both lists by a weighted combination; top k."""
    w = params.dense_weight(scores.lang)
    dense = _dense_signal(scores, params.sentence_share(scores.lang), params.candidates)
    kw = scores.keyword
    kw_top = [int(r) for r in np.argsort(-kw)[: params.candidates] if kw[r] > 0]
    pool: set[int] = set()
    if w > 0:
        pool |= set(dense)
    if w < 1:
        pool |= set(kw_top)
    fusion = params.fusion_for(scores.lang)
    if fusion == "rrf":
        fused = _rrf(dense, kw_top, w, params.rrf_k)
    elif fusion == "zscore":
        fused = _zscore(dense, scores.keyword, kw_top, pool, w)
    else:
        fused = _convex(dense, scores.keyword, pool, w)
    ranked = sorted(pool, key=lambda r: (-fused.get(r, 0.0), r))[:k]
    return [
        Hit(row=r, score=fused.get(r, 0.0), dense=dense.get(r, 0.0), keyword=float(kw[r]))
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
    dense: dict[int, float], keyword: np.ndarray, pool: set[int], w: float
) -> dict[int, float]:
    """w * min-max-normalised cosine + (1 - w) * BM25 / max BM25."""
    dense_vals = list(dense.values())
    lo, hi = (min(dense_vals), max(dense_vals)) if dense_vals else (0.0, 1.0)
    span = hi - lo or 1.0
    kw_max = float(keyword.max()) if keyword.size else 0.0
    out = {}
    for r in pool:
        d = (dense[r] - lo) / span if r in dense else 0.0
        k = float(keyword[r]) / kw_max if kw_max > 0 else 0.0
        out[r] = w * d + (1.0 - w) * k
    return out


def _zscore(
    dense: dict[int, float], keyword: np.ndarray, kw_top: list[int], pool: set[int], w: float
) -> dict[int, float]:
    """w * z(dense) + (1 - w) * z(BM25), each standardised over its own candidate list.

    Min-max scaling gives every list's top the same 1.0, however weakly it stands out, so a
    flat keyword list (a paraphrased question: no term singles out a passage) drags a clear
    dense winner down. Standardising keeps how far a candidate stands out of its own list;
    a row missing from a list counts as that list's weakest candidate.
    """
    d_z, d_floor = _standardise([dense[r] for r in dense])
    k_z, k_floor = _standardise([float(keyword[r]) for r in kw_top])
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
    index: Index, embedder: Embedder, query: str, k: int, params: RetrievalParams | None = None
) -> list[Hit]:
    params = params or RetrievalParams()
    return fuse(score_query(index, embedder, query, params.candidates), params, k)
