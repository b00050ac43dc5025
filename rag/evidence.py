"""Sentence-level evidence: which sentences of the retrieved passages answer a question
or support a claim.

Two signals, both cheap because sentence vectors are computed at ingest time:
- dense: cosine of the question (or claim) embedding and the sentence embedding;
- lexical: the IDF-weighted share of the question's terms found in the sentence, after
  width folding, so '２０２３' finds '2023'. Substring matching makes it robust to jieba
  segmenting a name differently in the question and in the article.
Two embedding-free priors (weights in `EvidenceParams`, tuned with
`python -m rag.evals.tune evidence`): a sentence of a better-ranked passage is preferred,
and a question asking for a quantity ("多少亿元", "哪一年", "how much") prefers sentences
that state a number in that unit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from rag.index import chunk_id
from rag.keyword import translations
from rag.retrieve import Hit
from rag.store import Store
from rag.tagger import Token
from rag.text import detect_lang, fold, join_lines, match_key, tokenize
from rag.types import ArticleMeta, Chunk

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# What a quantity question asks for: the measure word after 多少/几 (or a year), or, in
# English, a few unambiguous cues. A sentence answering it states a number in that unit.
_ZH_UNIT = re.compile(
    r"(?:多少|几)(钱|亿元|万元|元|亿|万|个|位|家|人次|人|名|项|卷|件|亩|吨|次|平方米|公里|"
    r"天|年|倍|户|所|座|条|台|期|块|辆|艘|本|种|批|级)|(哪一?年|何年)"
)
_EN_UNIT = (
    (re.compile(r"\b(?:yuan|rmb|cost|price|paid|pay|invest\w*|fund\w*)\b", re.I), "元"),
    (re.compile(r"\b(?:what|which) year\b|\bwhen\b", re.I), "年"),
    (re.compile(r"\btonn?es?\b", re.I), "吨"),
    (re.compile(r"\bmu\b", re.I), "亩"),
    (re.compile(r"\bpercent|percentage\b", re.I), "%"),
)
_ASKS_NUMBER = re.compile(r"多少|几|how (?:many|much)|what (?:percentage|share|number)", re.I)
_UNIT_ALIASES = {"钱": "元", "人": "人|名", "何年": "年", "哪年": "年", "哪一年": "年"}


class QueryTerms(dict[str, float]):
    """A question's content terms with IDF weights, and the answer type it asks for."""

    quantity: bool = False  # the answer is a number
    unit: str | None = None  # regex of the unit the number comes in, when known


def asked_unit(query: str) -> tuple[bool, str | None]:
    """(asks for a number, the unit as a regex) of a question."""
    m = _ZH_UNIT.search(query)
    if m:
        word = m.group(1) or m.group(2)
        return True, _UNIT_ALIASES.get(word, word)
    for pattern, unit in _EN_UNIT:
        if pattern.search(query):
            return True, unit
    return _ASKS_NUMBER.search(query) is not None, None


def states(text: str, unit: str | None) -> bool:
    """The text states a number (in the unit, when one is given)."""
    folded = fold(text)
    if unit is None:
        return _NUMBER.search(folded) is not None
    return re.search(r"\d[\d.,]*\s*[千百万亿]*\s*(?:" + unit + ")", folded) is not None


@dataclass(frozen=True)
class EvidenceParams:
    """Measured on dev (`python -m rag.evals.tune evidence --index <400/1 index>`): the
    mismatch penalty took the top sentence from 71.8% to 82.3% evidence and key-fact
    recall from 72.6% to 81.0%; the rank penalty adds ~1 point of recall and 1.6 of
    citation precision; lexical weight 0.3 was already best of 0.2/0.3/0.5."""

    lexical_weight: float = 0.3  # weight of the lexical overlap next to the cosine
    rank_penalty: float = 0.01  # subtracted per rank of the sentence's passage
    # Subtracted from a sentence that does not state the number a quantity question asks
    # for: it ranks such sentences lower and, as the answerability score is the best
    # sentence's, makes "the articles mention the project but not its investment" a refusal.
    mismatch_penalty: float = 0.15


class ArticleText:
    """The whole article a sentence sits in (title, byline and text), read once and only
    when asked for: most questions never need more than the passage."""

    __slots__ = ("_key", "_read")

    def __init__(self, read: Callable[[], str]) -> None:
        self._read = read
        self._key: str | None = None

    @property
    def key(self) -> str:
        """The article as rag.text.match_key folds it."""
        if self._key is None:
            self._key = match_key(self._read())
        return self._key


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
    meta: ArticleMeta = field(default_factory=ArticleMeta)
    tags: tuple[Token, ...] = ()  # LAC words and tags of `text` (rag.tagger)
    context: str = ""  # the passage the sentence sits in (title + text), for constraints
    # The whole article around it, for constraints the passage alone cannot settle (who or
    # what the question names); read from the store only when a check asks for it.
    article: ArticleText | None = field(default=None, compare=False, repr=False)
    # its stored embedding (None: none stored; it then scores 0 on the dense side)
    vector: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Scored:
    sentence: Sentence
    score: float
    dense: float
    lexical: float


def candidates(index: Store, hits: Sequence[Hit]) -> list[Sentence]:
    """Every sentence of the hit passages, once, in passage rank then reading order."""
    seen: set[tuple[str, int, int]] = set()
    out: list[Sentence] = []
    articles: dict[tuple[str, int], ArticleText] = {}
    for rank, hit in enumerate(hits):
        chunk = index.chunk(hit.row)
        text = index.document(chunk.source)
        article = articles.setdefault(
            (chunk.source, chunk.article), ArticleText(partial(_article_text, index, chunk))
        )
        for stored in index.sentences_of(hit.row):
            start, end = stored.start, stored.end
            key = (chunk.source, start, end)
            if key in seen or not _has_words(text[start:end]):
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
                    meta=chunk.meta,
                    tags=stored.tags,
                    context=f"{chunk.title}\n{chunk.text}",
                    article=article,
                    vector=stored.vector,
                )
            )
    return out


def _article_text(index: Store, chunk: Chunk) -> str:
    before, quote, after = index.context(chunk.source, chunk.start, chunk.end)
    return f"{chunk.title}\n{chunk.meta.byline or ''}\n{before}{quote}{after}"


def _has_words(text: str) -> bool:
    """A decoration line ('🌟', '——') states nothing, yet its vector sits close to any
    English question's: without this, 'Who won the 2018 World Cup?' was answered '🌟'."""
    return any(ch.isalnum() for ch in text)


def query_terms(index: Store, query: str) -> QueryTerms:
    """Content terms of the query with their IDF weights, and the answer type asked for."""
    words = [t for t in dict.fromkeys(tokenize(query)) if len(t) > 1 or t.isdigit()]
    if detect_lang(query) == "en":
        # English words never occur in Chinese text: look for their dictionary translations.
        words = [w for w in words if not w.isalpha() or not w.isascii()]
        words += translations(query, index.vocabulary)
    terms = QueryTerms((t, index.idf(t)) for t in dict.fromkeys(words))
    terms.quantity, terms.unit = asked_unit(query)
    return terms


def lexical_overlap(terms: dict[str, float], text: str) -> float:
    """IDF-weighted share of the terms that occur in the text (0..1)."""
    total = sum(terms.values())
    if total == 0:
        return 0.0
    folded = fold(text)
    return sum(w for t, w in terms.items() if t in folded) / total


def score(
    query_vector: np.ndarray,
    terms: QueryTerms,
    sentences: Sequence[Sentence],
    params: EvidenceParams | None = None,
) -> list[Scored]:
    """Score sentences against a question/claim; best first."""
    p = params or EvidenceParams()
    out = []
    for s in sentences:
        dense = float(s.vector @ query_vector) if s.vector is not None else 0.0
        lexical = lexical_overlap(terms, s.text)
        total = dense + p.lexical_weight * lexical - p.rank_penalty * s.passage_rank
        if terms.quantity and p.mismatch_penalty and not states(s.text, terms.unit):
            total -= p.mismatch_penalty
        out.append(Scored(s, total, dense, lexical))
    out.sort(key=lambda x: -x.score)
    return out
