"""Values passed between ingest, index, retrieval and answering. All frozen.

Offsets (`start`, `end`) are character offsets into the original decoded text of the
source file (for PDF/DOCX/HTML: into the text extracted from it), half-open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["llm", "extractive"]


@dataclass(frozen=True)
class ArticleMeta:
    """What the text itself states about where and when an article was published."""

    publication: str | None = None  # e.g. "今日浙江", "浙江日报"
    issue: str | None = None  # e.g. "2024年第10期 总第745期"
    date: str | None = None  # as stated, e.g. "9月4日" or "2024年5月27日"
    dateline: str | None = None  # e.g. "本报湖州9月4日电"
    byline: str | None = None  # e.g. "孙金良 陈艳"


@dataclass(frozen=True)
class Article:
    index: int  # position within its file, from 0
    title: str
    start: int
    end: int
    meta: ArticleMeta = field(default_factory=ArticleMeta)


@dataclass(frozen=True)
class Chunk:
    """A run of whole sentences of one article: the unit that is embedded and indexed.

    Invariant: squeeze(text) == squeeze(original[start:end]), and each entry of
    `sentences` is a (start, end) span inside [start, end) in reading order.
    """

    source: str  # path relative to the ingest root, POSIX separators
    article: int  # Article.index
    title: str
    text: str  # original[start:end] with PDF line breaks rejoined
    start: int
    end: int
    sentences: tuple[tuple[int, int], ...]
    meta: ArticleMeta = field(default_factory=ArticleMeta)


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk, as the public API shows it."""

    id: str
    source: str
    title: str
    text: str
    start: int
    end: int
    score: float
    meta: ArticleMeta = field(default_factory=ArticleMeta)  # publication, issue, date, byline


@dataclass(frozen=True)
class Citation:
    """One numbered citation: the exact sentence(s) of the article behind a claim."""

    n: int
    source: str
    title: str
    quote: str
    start: int
    end: int
    passage_id: str
    supported: bool
    meta: ArticleMeta = field(default_factory=ArticleMeta)  # publication, issue, date, byline


@dataclass(frozen=True)
class Answer:
    text: str
    mode: Mode
    answered: bool
    notice: str | None
    citations: list[Citation]
    passages: list[Passage]
    # The fact alone ('长兴县', '2.94万亿元'; for English questions '2.94 trillion yuan'),
    # when the question asks for a typed fact and the answer states one; else None. For a
    # Chinese question it is a verbatim span of the first citation's quote.
    short: str | None = None
