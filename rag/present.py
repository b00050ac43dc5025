"""How a citation's article is named for a reader: publication, issue or date, byline.

Shared by the chat page and the terminal, so both name a source the same way:

    >>> meta_line(ArticleMeta("今日浙江", "2024年第10期 总第745期", byline="孙金良"))
    '今日浙江 2024年第10期 总第745期 · 孙金良'
    >>> short_meta(ArticleMeta("今日浙江", "2024年第10期 总第745期"))
    '今日浙江 2024年第10期'
"""

from __future__ import annotations

from rag.types import ArticleMeta, Citation


def short_meta(meta: ArticleMeta) -> str:
    """Publication and the first part of its issue (else the date): what a label needs."""
    when = meta.issue.split()[0] if meta.issue else meta.date
    return " ".join(p for p in (meta.publication, when) if p)


def meta_line(meta: ArticleMeta) -> str:
    """Publication, full issue or date (else the dateline), and the byline where known."""
    where = " ".join(p for p in (meta.publication, meta.issue or meta.date) if p)
    parts = [where or meta.dateline or "", meta.byline or ""]
    return " · ".join(p for p in parts if p)


def citation_label(c: Citation) -> str:
    """`[2] 标题 · 今日浙江 2024年第10期` (else the byline), flagged when the sentence does
    not support the claim."""
    parts = [f"[{c.n}] {c.title or c.source}", short_meta(c.meta) or c.meta.byline or ""]
    mark = "" if c.supported else " ⚠ unsupported"
    return " · ".join(p for p in parts if p) + mark
