"""Sentence-level evidence: which sentences of the retrieved passages answer a question
or support a claim.

Two signals, both cheap because sentence vectors are computed at ingest time:
- dense: cosine of the question (or claim) embedding and the sentence embedding;
- lexical: the IDF-weighted share of the question's terms found in the sentence, after
  width folding, so '２０２３' finds '2023'. Substring matching makes it robust to jieba
  segmenting a name differently in the question and in the article.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.index import Index, chunk_id
from rag.retrieve import Hit
from rag.text import fold, join_lines, tokenize

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


@dataclass(frozen=True)
class Sentence:
    """A candidate evidence sentence inside one retrieved passage."""

    source: str
    title: str
    start: int
    end: int
    text: str
    passage_id: str
    passage_rank: int  # 0 = the best passage


@dataclass(frozen=True)
class Scored:
    sentence: Sentence
    score: float
    dense: float
    lexical: float


def candidates(index: Index, hits: Sequence[Hit]) -> list[Sentence]:
    """Every sentence of the hit passages, once, in passage rank then reading order."""
    seen: set[tuple[str, int, int]] = set()
    out: list[Sentence] = []
    for rank, hit in enumerate(hits):
        chunk = index.chunks[hit.row]
        text = index.documents[chunk.source].text
        for start, end in chunk.sentences:
            key = (chunk.source, start, end)
            if key in seen:
                continue
            seen.add(key)
            out.append(
                Sentence(
                    source=chunk.source,
                    title=chunk.title,
                    start=start,
                    end=end,
                    text=join_lines(text[start:end]),
                    passage_id=chunk_id(chunk),
                    passage_rank=rank,
                )
            )
    return out


def query_terms(index: Index, query: str) -> dict[str, float]:
    """Content terms of the query with their IDF weights."""
    return {
        t: index.keyword.idf(t) for t in dict.fromkeys(tokenize(query)) if len(t) > 1 or t.isdigit()
    }


def lexical_overlap(terms: dict[str, float], text: str) -> float:
    """IDF-weighted share of the terms that occur in the text (0..1)."""
    total = sum(terms.values())
    if total == 0:
        return 0.0
    folded = fold(text)
    return sum(w for t, w in terms.items() if t in folded) / total


def numbers(text: str) -> set[str]:
    return {m.group().replace(",", "") for m in _NUMBER.finditer(fold(text))}


def score(
    index: Index,
    query_vector: np.ndarray,
    terms: dict[str, float],
    sentences: Sequence[Sentence],
    lexical_weight: float = 0.3,
) -> list[Scored]:
    """Score sentences against a question/claim; best first."""
    out = []
    for s in sentences:
        vec = index.sentence_vector(s.source, s.start, s.end)
        dense = float(vec @ query_vector) if vec is not None else 0.0
        lexical = lexical_overlap(terms, s.text)
        out.append(Scored(s, dense + lexical_weight * lexical, dense, lexical))
    out.sort(key=lambda x: -x.score)
    return out
