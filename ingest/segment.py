"""Split a cleaned text into articles: boundaries, titles, bylines and `ArticleMeta`.

The cleaner's blocks are read in order. Runs of non-body blocks between paragraphs
("clusters": headings, bylines, captions, furniture) decide where articles start. A
cluster opens a new article when it holds a byline; when the paragraph after it opens
with a dateline or a jump line ("本报讯", "本报湖州9月4日电", "(紧接第一版)"); when it
holds a Markdown "# " heading; when it holds a heading that the table of contents lists
as another article's title; when a photo credit is followed by a heading; when two or
more headings follow a picture gap (a magazine article's opening); when three or more
table-of-contents or list lines lie in it (a change of page); or when it is a heading
over a single picture caption paragraph and its credit (a photo item). Otherwise its
headings are subheadings of the current article and stay in its text, except a lone
heading right under a picture gap, which is an unmarked caption and is dropped.

Titles, best first: a heading (or consecutive ones) of the opening cluster that the
table of contents lists; the table-of-contents entry whose authors are the byline's; the
headings next to the byline (a title split over two lines is joined, a "——" subtitle is
appended, Markdown "#" marks are stripped from the title only); a listed title printed
later, even inside a paragraph (magazines put titles after the first paragraphs); last,
the opening words of the article.

Meta: publication and issue come from the masthead ("今日浙江" above "2024年第10期 总第
745期") and apply to every article of the file; the dateline and its date from the start
of the first paragraph; the byline from byline lines, else from the dateline's brackets.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from rag.ingest.bylines import BylineParse, parse_byline, words
from rag.ingest.clean import (
    DROPPED,
    Block,
    Cleaned,
    Kind,
    is_dateline_start,
)
from rag.text import is_cjk, squeeze
from rag.types import Article, ArticleMeta

_ISSUE = re.compile(r"(\d{4})\s*年\s*第\s*(\d+)\s*期(?:\s*[(（]?\s*总第\s*(\d+)\s*期)?")
_PUBLICATIONS = words(
    "今日浙江 浙江日报 钱江晚报 浙江老年报 杭州日报 宁波日报 温州日报 "
    "湖州日报 嘉兴日报 绍兴日报 金华日报 衢州日报 舟山日报 台州日报 "
    "丽水日报 人民日报 光明日报 经济日报 新华每日电讯 求是 半月谈"
)
_DATELINE = re.compile(
    r"^[(（]?(?P<line>(?:本报|本刊|新华社|中新社|人民网|央视网)"
    r"[\u4e00-\u9fff]{0,8}?(?P<date>\d{1,2}月\d{1,2}日)?(?:电|讯))"
    r"(?:\s*[(（](?P<by>[^()（）]{2,60})[)）])?"
)
_TOC_NUMBER = re.compile(r"^(?:[-–—•·]\s*)?P?\d{1,3}\s+")
_CREDIT = re.compile(r"(?:摄|摄影|供图|提供[)）])$")
_MD_MARKS = re.compile(r"^#{1,6}\s*|\s*#+$")
_MD_TITLE = re.compile(r"^#\s+\S")
_CLAUSE_END = re.compile(r"[，,、；;。！？!?…：:]")
_JUMP_PREFIX = re.compile(r"^[(（][^()（）]{1,8}[)）]")
_SPACES = re.compile(r"\s+")
_FALLBACK_TITLE_CHARS = 30
_TITLE_LINES = 2


@dataclass(frozen=True)
class TocEntry:
    title: str
    authors: str  # author key: the names, sorted, or the role ("本刊评论员")
    key: str  # title_key(title)


@dataclass(frozen=True)
class Segment:
    """An article and the blocks that make up its text (paragraphs and subheadings)."""

    article: Article
    content: tuple[Block, ...]


def segment(cleaned: Cleaned) -> list[Article]:
    return [s.article for s in segment_blocks(cleaned)]


def segment_blocks(cleaned: Cleaned) -> list[Segment]:
    """Articles with text, in reading order, indexed from 0."""
    drafts = _Segmenter(cleaned).run()
    segments: list[Segment] = []
    for draft in drafts:
        if any(b.kind is Kind.BODY for b in draft.content):
            segments.append(draft.finish(len(segments)))
    return segments


def title_key(text: str) -> str:
    """Letters and digits only: how titles are compared across TOC, page and layout."""
    return "".join(c for c in text.lower() if c.isalnum() or is_cjk(c))


# --- masthead and table of contents ------------------------------------------------


def masthead(cleaned: Cleaned, reach: int = 80) -> tuple[str | None, str | None]:
    """(publication, issue) from the first lines, e.g. ("今日浙江", "2024年第10期 总第745期")."""
    count = min(reach, len(cleaned.lines))
    texts = [cleaned.line_text(i) for i in range(count)]
    for i, text in enumerate(texts):
        m = _ISSUE.search(text)
        if m and len(squeeze(text)) <= 40:
            issue = f"{m.group(1)}年第{m.group(2)}期"
            if m.group(3):
                issue += f" 总第{m.group(3)}期"
            return _publication_before(texts, i), issue
    known = [t for t in texts if t in _PUBLICATIONS]
    return (known[0] if known else None), None


def _publication_before(texts: Sequence[str], index: int) -> str | None:
    for text in reversed(texts[max(0, index - 3) : index]):
        if text in _PUBLICATIONS:
            return text
    previous = texts[index - 1] if index else ""
    plain = 2 <= len(previous) <= 12 and all(is_cjk(c) for c in previous)
    return previous if plain else None


def parse_toc(cleaned: Cleaned) -> list[TocEntry]:
    """Entries of the table of contents: "11 标题" (+ "——副题") + "/作者"."""
    entries: dict[str, TocEntry] = {}
    parts: list[str] = []
    for i, kind in enumerate(cleaned.kinds):
        text = cleaned.line_text(i)
        if kind is Kind.TOC and _TOC_NUMBER.match(text):
            _add_entry(entries, parts)
            parts = [_TOC_NUMBER.sub("", text)]
        elif kind is Kind.TOC and parts and text.startswith(("——", "/")):
            parts.append(text)
        else:
            _add_entry(entries, parts)
            parts = []
    _add_entry(entries, parts)
    return list(entries.values())


def _add_entry(entries: dict[str, TocEntry], parts: list[str]) -> None:
    if not parts:
        return
    raw = "".join(parts)
    title, _, author = raw.rpartition("/") if "/" in raw else (raw, "", "")
    title = _SPACES.sub(" ", title).strip()
    key = title_key(title)
    if len(key) < 2:
        return
    parsed = parse_byline(author) if author else None
    authors = _author_key(parsed.names, parsed.roles) if parsed else ""
    known = entries.get(key)
    if known is None or (authors and not known.authors):
        entries[key] = TocEntry(title, authors, key)


def _author_key(names: Sequence[str], roles: Sequence[str]) -> str:
    return "|".join(sorted(names)) if names else "|".join(roles)


# --- segmentation ------------------------------------------------------------------


@dataclass
class _Draft:
    """An article being collected (mutable while the blocks are read)."""

    cleaned: Cleaned
    head: list[Block]
    publication: str | None
    issue: str | None
    title: str | None = None
    toc: TocEntry | None = None
    title_blocks: list[Block] = field(default_factory=list)
    content: list[Block] = field(default_factory=list)

    def finish(self, index: int) -> Segment:
        text = self.cleaned.block_text
        first = next(b for b in self.content if b.kind is Kind.BODY)
        meta = _meta(self, text(first))
        title = self.title or _fallback_title(text(self.content[0]))
        starts = [b.start for b in self.title_blocks + self.content]
        end = max(b.end for b in self.content)
        article = Article(index, title, min(starts), end, meta)
        return Segment(article, tuple(self.content))


class _Segmenter:
    def __init__(self, cleaned: Cleaned):
        self.cleaned = cleaned
        self.toc = parse_toc(cleaned)
        self.publication, self.issue = masthead(cleaned)
        self.drafts: list[_Draft] = []
        self.cluster: list[Block] = []
        self.inline: list[Block] = []

    def run(self) -> list[_Draft]:
        blocks = self.cleaned.blocks
        for n, block in enumerate(blocks):
            if block.inline:
                self.inline.append(block)
                continue
            self._name_from_inline()
            if block.kind is Kind.BODY:
                following = blocks[n + 1] if n + 1 < len(blocks) else None
                self._paragraph(block, following)
            else:
                self.cluster.append(block)
        self._name_from_inline()
        return self.drafts

    @property
    def current(self) -> _Draft | None:
        return self.drafts[-1] if self.drafts else None

    def _paragraph(self, block: Block, following: Block | None) -> None:
        if self._opens_article(block, following):
            self.drafts.append(self._open())
        else:
            self._absorb_cluster()
        draft = self.current
        assert draft is not None  # _opens_article is True while there is none
        draft.content.append(block)
        self.cluster = []

    # - boundaries -

    def _opens_article(self, block: Block, following: Block | None) -> bool:
        draft = self.current
        cluster = self.cluster
        if draft is None or any(b.kind is Kind.BYLINE for b in cluster):
            return True
        if is_dateline_start(self.cleaned.block_text(block)):
            return True
        if sum(1 for b in cluster if b.kind in (Kind.TOC, Kind.LIST)) >= 3:
            return True
        if any(_MD_TITLE.match(self._text(b)) for b in _headings(cluster)):
            return True  # a Markdown "# " heading; "## " ones are subheadings
        found = self._listed_group(_heading_groups(cluster))
        if found is not None:
            listed = found[0]
            return listed is not draft.toc and not self._names_untitled(draft, listed)
        return (
            _credit_then_heading(cluster)
            or _title_after_picture(cluster)
            or self._photo_item(following)
        )

    def _names_untitled(self, draft: _Draft, entry: TocEntry) -> bool:
        """A listed title printed after the first paragraphs names the article."""
        if draft.toc is not None or len(draft.content) > 3 or not _has_byline(draft.head):
            return False
        draft.toc, draft.title = entry, entry.title
        return True

    def _photo_item(self, following: Block | None) -> bool:
        """A heading after a picture gap over one caption paragraph and its credit."""
        heads = _headings(self.cluster)
        if not heads or not heads[0].after_picture or following is None:
            return False
        return following.kind is Kind.CAPTION and bool(_CREDIT.search(self._text(following)))

    # - opening an article -

    def _open(self) -> _Draft:
        draft = _Draft(self.cleaned, list(self.cluster), self.publication, self.issue)
        groups = _heading_groups(self.cluster)
        bylines = [b for b in self.cluster if b.kind is Kind.BYLINE]
        chosen = self._listed_group(groups)
        if chosen is not None:
            draft.toc, group = chosen
            draft.title = draft.toc.title
        else:
            draft.toc = self._toc_by_author(bylines)
            group = _group_near_byline(groups, self.cluster)
            draft.title = draft.toc.title if draft.toc else self._join(group) or None
        draft.title_blocks = list(group)
        draft.content.extend(_subheadings(self.cluster, group))
        return draft

    def _listed_group(self, groups: list[list[Block]]) -> tuple[TocEntry, list[Block]] | None:
        for group in groups:
            for size in range(len(group), 0, -1):
                for start in range(len(group) - size + 1):
                    part = group[start : start + size]
                    entry = self._toc_for(part)
                    if entry is not None:
                        return entry, part
        return None

    def _toc_by_author(self, bylines: list[Block]) -> TocEntry | None:
        names: list[str] = []
        roles: list[str] = []
        for block in bylines:
            parsed = _parse(self.cleaned, block)
            if parsed:
                names.extend(parsed.names)
                roles.extend(parsed.roles)
        key = _author_key(names, roles)
        matches = [e for e in self.toc if key and e.authors == key]
        return matches[0] if len(matches) == 1 else None

    def _absorb_cluster(self) -> None:
        draft = self.current
        assert draft is not None
        for block in self.cluster:
            if block.kind is not Kind.HEADING or block.after_picture:
                continue  # captions (also unmarked ones under a picture) never reach the text
            entry = self._toc_for([block])
            if entry is None or entry is not draft.toc:
                draft.content.append(block)

    def _name_from_inline(self) -> None:
        """Titles printed inside a paragraph ("…推动产业 / 标题 / 工人由…") name the article."""
        draft = self.current
        inline, self.inline = self.inline, []
        if draft is None or draft.toc is not None:
            return
        heads = [b for b in inline if b.kind is Kind.HEADING]
        chosen = self._listed_group([heads]) if heads else None
        if chosen is not None:
            draft.toc, draft.title = chosen[0], chosen[0].title

    # - helpers -

    def _toc_for(self, heads: Sequence[Block]) -> TocEntry | None:
        if not heads or not self.toc:
            return None
        key = title_key("".join(self._text(b) for b in heads))
        if len(key) < 4:
            return None
        for entry in self.toc:
            if key == entry.key:
                return entry
        for entry in self.toc:
            if len(key) >= 8 and key in entry.key and 2 * len(key) >= len(entry.key):
                return entry
        return None

    def _text(self, block: Block) -> str:
        return self.cleaned.block_text(block)

    def _join(self, group: Sequence[Block]) -> str:
        """A title split over two lines is rejoined; longer groups start with captions."""
        title = ""
        for block in group[-_TITLE_LINES:]:
            text = _MD_MARKS.sub("", self._text(block)).strip()
            glue = "" if not title or text.startswith("——") else " "
            title += glue + text
        return _SPACES.sub(" ", title).strip()


def _headings(cluster: Sequence[Block]) -> list[Block]:
    return [b for b in cluster if b.kind is Kind.HEADING]


def _has_byline(blocks: Sequence[Block]) -> bool:
    return any(b.kind is Kind.BYLINE for b in blocks)


def _heading_groups(cluster: Sequence[Block]) -> list[list[Block]]:
    """Consecutive headings; a picture gap or any other block separates groups."""
    groups: list[list[Block]] = []
    previous: Block | None = None
    for block in cluster:
        if block.kind is Kind.HEADING:
            joined = previous is not None and previous.kind is Kind.HEADING
            joined = joined and not block.after_picture
            if joined and groups:
                groups[-1].append(block)
            else:
                groups.append([block])
        previous = block
    return groups


def _group_near_byline(groups: list[list[Block]], cluster: Sequence[Block]) -> list[Block]:
    """The title group: right above the byline, else right below it, else the last one."""
    byline = next((b for b in cluster if b.kind is Kind.BYLINE), None)
    if byline is None:
        return groups[-1] if groups else []
    above = [g for g in groups if g[-1].first < byline.first]
    below = [g for g in groups if g[0].first > byline.first]
    if above and _adjacent(above[-1][-1], byline, cluster):
        return above[-1]
    return below[0] if below else (above[-1] if above else [])


def _adjacent(block: Block, byline: Block, cluster: Sequence[Block]) -> bool:
    between = [b for b in cluster if block.first < b.first < byline.first]
    return not any(b.kind not in DROPPED for b in between)


def _subheadings(cluster: Sequence[Block], title: Sequence[Block]) -> list[Block]:
    """Headings of an opening cluster after its title and bylines stay as subheadings."""
    anchors = [b.first for b in title] + [b.first for b in cluster if b.kind is Kind.BYLINE]
    if not anchors:
        return []
    after = max(anchors)
    return [b for b in cluster if b.kind is Kind.HEADING and b.first > after]


def _title_after_picture(cluster: Sequence[Block]) -> bool:
    """Two or more headings right after a picture gap open a (magazine) article."""
    return any(len(g) >= 2 and g[0].after_picture for g in _heading_groups(cluster))


def _credit_then_heading(cluster: Sequence[Block]) -> bool:
    seen_credit = False
    for block in cluster:
        if block.kind is Kind.CAPTION:
            seen_credit = True
        elif block.kind is Kind.HEADING and seen_credit:
            return True
    return False


def _meta(draft: _Draft, first_paragraph: str) -> ArticleMeta:
    m = _DATELINE.match(first_paragraph)
    byline = _byline(draft)
    if byline is None and m and m.group("by"):
        byline = _SPACES.sub(" ", m.group("by")).strip()
    return ArticleMeta(
        publication=draft.publication,
        issue=draft.issue,
        date=m.group("date") if m else None,
        dateline=m.group("line") if m else None,
        byline=byline,
    )


def _byline(draft: _Draft) -> str | None:
    """Byline lines rejoined; a line of role words only ("本刊记者") goes first."""
    parses = [_parse(draft.cleaned, b) for b in draft.head if b.kind is Kind.BYLINE]
    found = [p for p in parses if p is not None]
    ordered = [p for p in found if not p.names] + [p for p in found if p.names]
    return " ".join(p.text for p in ordered) or None


def _parse(cleaned: Cleaned, block: Block) -> BylineParse | None:
    return parse_byline(cleaned.block_text(block))


def _fallback_title(text: str) -> str:
    """The opening words (up to the first clause break), when the text prints no title."""
    text = _JUMP_PREFIX.sub("", text.strip())
    m = _CLAUSE_END.search(text)
    opening = text[: m.start()] if m else text
    if len(opening) > _FALLBACK_TITLE_CHARS:
        opening = opening[:_FALLBACK_TITLE_CHARS] + "…"
    return opening or text[:_FALLBACK_TITLE_CHARS]
