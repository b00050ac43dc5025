"""Classify the lines of an extracted text and rejoin paragraphs broken mid-sentence.

The input is the decoded original, typically text extracted from a newspaper or magazine
PDF: one line per paragraph fragment, a blank line between fragments, a page or column
break in the middle of a sentence, picture captions and photo credits dropped between
the two halves of a sentence, tables of contents, mastheads, sponsor lists and
one-character-per-line debris from vertical type.

Every non-blank line gets a `Kind`:

* FURNITURE: page numbers, jump lines ("(上接第一版)"), issue lines, QR-code prompts, and
  lines of one or two characters that are not a name (vertical type, column labels).
* TOC: lines shaped like "11 标题/作者", ">>栏目", "P38 …" with another such line nearby,
  their "——副题" / "/作者" continuations, and whatever lies between two of them.
* LIST: masthead keywords ("社长", "责任编辑", "特别鸣谢" …) and runs of six or more short
  unpunctuated lines not broken by a picture gap (cover lines, committees, sponsors).
* CAPTION: photo credits ("拍友 蒋友青 摄", "…供图", "(…提供)"). Captions without a
  credit are the lines jumped over inside a paragraph (below) and, in the segmenter, a
  lone heading right under a picture gap (two blank lines more than the usual spacing).
* BYLINE: see `rag.ingest.bylines`. Explicit ones ("■ 沈华军", role words, "职务 姓名")
  always; two or more names with common surnames; a single bare name only under a title,
  over a job title, or when the table of contents lists it as an author.
* HEADING: at most 60 characters, no sentence punctuation outside quotes, quotes and
  brackets balanced; titles and subheadings alike, the segmenter tells them apart.
* BODY: everything else.

Paragraphs are then rebuilt. A body line that does not end a sentence (no 。！？；… or
closing quote after one, no trailing colon or dash) continues into the next body line,
across blank lines and across up to four captions, headings or furniture lines in
between ("广泛开 / 税务干部在…开展“三服务” / 展“投资浙里”…"); headings are only jumped
when the broken line ends inside a word or clause. A dateline, a bullet, an enumerator or
a Markdown heading always starts a new paragraph. A short unfinished one-line
"paragraph" followed by a byline or a dateline is a title with a comma in it and becomes
a HEADING. After a finished paragraph, a heading-like line followed by an obvious
continuation is body text: the next line starts with punctuation, 的 or a lower-case
word, or with a one- or two-character clause, or a dictionary word runs across the break
("…企业互联共" + "享平台…").

Layout first: the rules above are for text extracted from a page layout. A plain-text,
HTML, DOCX or Markdown article written as prose has none of that debris, and the same rules
would misfire on it (a one-line report "…排名第16 | 韩联社" looks like a heading, a credit
line like a caption). `detect_layout` decides per document from evidence: PDF extraction,
lines broken mid-sentence, page numbers or jump lines, form feeds. Prose keeps every line
except separators and explicit bylines; each line (or block of adjacent broken lines) is a
paragraph, and a document made only of heading-like lines keeps them as its text. A page
layout document whose rules leave no text at all is read as prose instead, so no document
is dropped for its shape; `Cleaned.dropped` says which rules removed what.

Trade-off: kept text must be made of contiguous spans of the original, so a caption
dropped from the middle of a sentence splits that sentence into two fragments, one
ending before the caption and one starting after it. The fragments stay in order in the
same paragraph; the chunker may put them in consecutive chunks.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from itertools import pairwise
from statistics import median_low
from typing import Any

from rag.ingest.bylines import BULLETS, BylineParse, name_like, parse_byline, words
from rag.text import is_cjk, join_lines, squeeze


class Kind(StrEnum):
    BODY = "body"
    HEADING = "heading"
    BYLINE = "byline"
    CAPTION = "caption"
    FURNITURE = "furniture"
    TOC = "toc"
    LIST = "list"


# Kinds whose text never reaches a chunk.
DROPPED = frozenset({Kind.CAPTION, Kind.FURNITURE, Kind.TOC, Kind.LIST})


class Layout(StrEnum):
    PAGE = "page"  # extracted from a page layout: broken lines, furniture, captions
    PROSE = "prose"  # an article as written: paragraphs on their own lines


@dataclass(frozen=True)
class LayoutEvidence:
    layout: Layout
    reason: str  # shown by `rag info` and in the ingest log, e.g. "PDF extraction"


@dataclass(frozen=True)
class Line:
    start: int  # first non-whitespace character
    end: int  # after the last non-whitespace character
    gap: int  # blank lines between this line and the previous non-blank one


@dataclass(frozen=True)
class Block:
    """A paragraph (BODY: one or more contiguous spans) or a single non-body line."""

    kind: Kind
    spans: tuple[tuple[int, int], ...]
    first: int  # index of its first line
    after_picture: bool = False  # preceded by an unusually large gap (where a picture was)
    inline: bool = False  # a line jumped over inside a paragraph (caption, stray title)

    @property
    def start(self) -> int:
        return self.spans[0][0]

    @property
    def end(self) -> int:
        return self.spans[-1][1]


@dataclass(frozen=True)
class Cleaned:
    text: str
    lines: tuple[Line, ...]
    kinds: tuple[Kind, ...]
    blocks: tuple[Block, ...]  # reading order; inline blocks follow their paragraph
    layout: LayoutEvidence = LayoutEvidence(Layout.PAGE, "assumed")

    def dropped(self) -> dict[Kind, int]:
        """Lines whose text reaches no chunk, counted by the rule that dropped them."""
        out: dict[Kind, int] = {}
        for kind in self.kinds:
            if kind in DROPPED:
                out[kind] = out.get(kind, 0) + 1
        return out

    def has_text(self) -> bool:
        return any(b.kind is Kind.BODY for b in self.blocks)

    def line_text(self, index: int) -> str:
        line = self.lines[index]
        return self.text[line.start : line.end]

    def block_text(self, block: Block) -> str:
        return "".join(join_lines(self.text[a:b]) for a, b in block.spans)


# --- character classes -------------------------------------------------------------


_FINAL = frozenset("。！？!?…；;.")
_CLOSERS = frozenset("”’」』》）)]】\"'")
_SENT_PUNCT = frozenset("，,、；;。！？!?…")
_NON_STARTERS = frozenset("，,、。；;：:！？!?）)》」』”’…%的")
_WANTS_MORE_TAIL = frozenset("，,、“‘《（(「『—-/·")
# Paragraph openers with a short first clause ("近日,", "目前,"): no evidence of a break.
_OPENERS = words(
    "近日 目前 同时 此外 今年 去年 明年 当前 如今 日前 随后 最终 最后 "
    "首先 其次 再次 另外 然而 但是 因此 为此 对此 其中 据悉 据了解 "
    "近年来 此前 之后 然后 当天 当晚 今天 昨天 会上 对此 由此 总之 "
    "比如 例如 一是 二是 三是 四是 五是 不过 而且 并且 原来 后来 现在 "
    "眼下 未来 过去 以前 其实 可见 显然 当然 所以 因而 于是"
)
_BREAK = re.compile(r"\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_QUOTED = re.compile(r"“[^“”]*”|《[^《》]*》|「[^「」]*」|『[^『』]*』|\"[^\"]*\"")

# --- line patterns -----------------------------------------------------------------

_PAGE = re.compile(
    r"^(?:[-—–]\s*)?\d{1,4}(?:\s*[-—–])?$|^第\s*[0-9一二三四五六七八九十百]+\s*[版页]$|^P\d{1,3}$",
    re.IGNORECASE,
)
_JUMP = re.compile(r"^[(（](?:上接|下转|紧接|接|转)第?[0-9一二三四五六七八九十]+[版页][)）]")
_ISSUE = re.compile(r"\d{4}\s*年\s*第\s*\d+\s*期")
_PROMO = re.compile(r"^(?:扫描?二维码|扫码|长按识别|阅读原文|点击阅读|更多精彩)")
_CREDIT = re.compile(r"(?:摄|摄影|供图|提供[)）]|图片来源[:：].*)$|^(?:图|摄影|图片|图文)[:：/]")
_MASTHEAD = re.compile(
    r"^(?:编辑指导委员会|编委会|特别鸣谢|社长|副社长|总编辑?|副总编辑?|主编|副主编|执行主编|"
    r"责任编辑|美术编辑|版面设计|封面设计|主管|主办|承办|协办|出版|发行|印刷|"
    r"国内统一连续出版物号|国际标准连续出版物号|邮发代号|定价|地址|电话|传真|邮编|网址|投稿邮箱)"
    r"(?:\s|[:：]|$)|(?:主管主办|主管|主办单位)$"
)
_TOC_ENTRY = re.compile(r"^(?:[-–—•·]\s*)?\d{1,3}\s+\S|^>>\S|^P\d{1,3}\s+\S")
_TOC_CONTINUATION = re.compile(r"^(?:——|/)\S")
_DATELINE = re.compile(
    r"^[(（]?(?:本报|本刊|新华社|中新社|人民网|央视网)[^()（）\s，,。]{0,12}?(?:讯|电)"
)
_ENUMERATOR = re.compile(
    r"^(?:[(（]?[一二三四五六七八九十]{1,3}[、)）]|[(（]\d{1,2}[)）]|\d{1,2}[.、．]\s*\D)"
)
_MD_HEADING = re.compile(r"^#{1,6}\s+\S")
_FIRST_CLAUSE = re.compile(r"^([^，,、；;。！？!?…：:\s]{1,2})[，,、]")

# --- predicates on one line ---------------------------------------------------------


def ends_sentence(line: str) -> bool:
    """Does the line end a sentence (full stop, possibly inside closing quotes)?"""
    end = len(line)
    while end and _is_ornament(line[end - 1]):
        end -= 1
    i = end
    while i and line[i - 1] in _CLOSERS:
        i -= 1
    if i and line[i - 1] in _FINAL:
        return True
    # A whole line in brackets is a note such as "(摘自…讲话)".
    return end > 1 and line[0] in "(（" and line[end - 1] in ")）"


def is_closed(line: str) -> bool:
    """A line that may end a paragraph: a full stop, or a colon or dash leading on."""
    return ends_sentence(line) or line.rstrip().endswith(("：", ":", "—", "－"))


def wants_more(line: str) -> bool:
    """The line stops inside a word or clause, so a stray line after it is an intruder."""
    tail = line.rstrip()[-1:]
    return bool(tail) and (is_cjk(tail) or tail.isalnum() or tail in _WANTS_MORE_TAIL)


def heading_like(line: str) -> bool:
    if not 2 <= len(squeeze(line)) <= 60 or ends_sentence(line):
        return False
    # Commas inside quotes ("紧扣“先进性、世界级”") do not make a heading a sentence.
    core = _QUOTED.sub(lambda m: m.group() if _has_final(m.group()) else "", line)
    return not any(c in _SENT_PUNCT for c in core) and _balanced(line)


def _balanced(line: str) -> bool:
    """A line that opens a quote or bracket without closing it stops mid-sentence."""
    pairs = (("“", "”"), ("《", "》"), ("(", ")"), ("（", "）"), ("「", "」"))
    return all(line.count(a) <= line.count(b) for a, b in pairs)


def starts_paragraph(line: str) -> bool:
    """Lines that never continue a previous paragraph."""
    return bool(
        line[:1] in BULLETS
        or _DATELINE.match(line)
        or _JUMP.match(line)
        or _ENUMERATOR.match(line)
        or _MD_HEADING.match(line)
    )


def is_dateline_start(line: str) -> bool:
    return bool(_DATELINE.match(line) or _JUMP.match(line))


def _has_final(text: str) -> bool:
    return any(c in _FINAL for c in text)


def _is_ornament(ch: str) -> bool:
    return unicodedata.category(ch) in ("So", "Sk", "Co", "Cn") or ch in "\ufe0f\u200d"


# --- lines -------------------------------------------------------------------------


def split_lines(text: str) -> list[Line]:
    """Non-blank lines with their stripped extent and the blank lines before them."""
    lines: list[Line] = []
    blank = 0
    for start, end in _raw_lines(text):
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start == end:
            blank += 1
            continue
        lines.append(Line(start, end, blank))
        blank = 0
    return lines


def _raw_lines(text: str) -> Iterator[tuple[int, int]]:
    pos = 0
    for m in _BREAK.finditer(text):
        yield pos, m.start()
        pos = m.end()
    yield pos, len(text)


# --- classification ----------------------------------------------------------------


def picture_gap(lines: Sequence[Line]) -> int:
    """Blank lines that mark a removed picture: two more than the usual spacing."""
    gaps = [line.gap for line in lines[1:]]
    return max(2, (median_low(gaps) if gaps else 0) + 2)


def classify(texts: Sequence[str], lines: Sequence[Line]) -> list[Kind]:
    kinds = [_intrinsic(t) for t in texts]
    toc = _toc_candidates(texts, kinds)
    _mark_lists(texts, lines, kinds, toc)
    _mark_toc(texts, kinds, toc)
    _mark_bylines(texts, kinds, _toc_authors(texts, kinds))
    _mark_continuations(texts, kinds)
    return kinds


def _intrinsic(line: str) -> Kind:
    size = len(squeeze(line))
    if _MD_HEADING.match(line):
        return Kind.HEADING
    if (
        _PAGE.match(line)
        or (_JUMP.match(line) and size <= 12)
        or _PROMO.match(line)
        or (size <= 2 and not ends_sentence(line) and not name_like(squeeze(line)))
        or (_ISSUE.search(line) and size <= 30)
    ):
        return Kind.FURNITURE
    if size <= 40 and not _has_final(line) and _CREDIT.search(line):
        return Kind.CAPTION
    if size <= 30 and _MASTHEAD.search(line) and not any(c in _SENT_PUNCT for c in line):
        return Kind.LIST
    return Kind.HEADING if heading_like(line) else Kind.BODY


def _toc_candidates(texts: Sequence[str], kinds: Sequence[Kind]) -> set[int]:
    return {
        i
        for i, t in enumerate(texts)
        if kinds[i] in (Kind.HEADING, Kind.BODY)
        and _TOC_ENTRY.match(t)
        and len(squeeze(t)) <= 80
        and not ends_sentence(t)
    }


def _mark_lists(
    texts: Sequence[str], lines: Sequence[Line], kinds: list[Kind], toc: set[int]
) -> None:
    """Six or more short unpunctuated lines in a row are a list (cover, committee, sponsors)."""
    picture = picture_gap(lines)
    run: list[int] = []
    for i, text in enumerate(texts):
        if kinds[i] is Kind.FURNITURE:
            continue  # vertical debris and page numbers neither extend nor break a run
        listish = i not in toc and (
            kinds[i] is Kind.LIST or (kinds[i] is Kind.HEADING and len(squeeze(text)) <= 30)
        )
        if listish and run and lines[i].gap < picture:
            run.append(i)
            continue
        _close_list(run, kinds)
        run = [i] if listish else []
    _close_list(run, kinds)


def _close_list(run: list[int], kinds: list[Kind]) -> None:
    if len(run) >= 6:
        for i in run:
            kinds[i] = Kind.LIST


def _significant(kinds: Sequence[Kind]) -> list[int]:
    return [i for i, k in enumerate(kinds) if k not in (Kind.LIST, Kind.FURNITURE)]


def _mark_toc(texts: Sequence[str], kinds: list[Kind], candidates: set[int]) -> None:
    order = _significant(kinds)
    rank = {line: r for r, line in enumerate(order)}
    ranked = sorted(rank[i] for i in candidates if i in rank)
    confirmed = [r for n, r in enumerate(ranked) if _has_neighbour(ranked, n, 4)]
    for a, b in pairwise(confirmed):
        if b - a <= 4:  # a blurb or a section label between two entries is TOC too
            for r in range(a + 1, b):
                kinds[order[r]] = Kind.TOC
    for r in confirmed:
        kinds[order[r]] = Kind.TOC
        nxt = r + 1
        if nxt < len(order) and _TOC_CONTINUATION.match(texts[order[nxt]]):
            kinds[order[nxt]] = Kind.TOC


def _has_neighbour(ranked: list[int], n: int, reach: int) -> bool:
    before = n > 0 and ranked[n] - ranked[n - 1] <= reach
    after = n + 1 < len(ranked) and ranked[n + 1] - ranked[n] <= reach
    return before or after


def _toc_authors(texts: Sequence[str], kinds: Sequence[Kind]) -> set[str]:
    names: set[str] = set()
    for i, text in enumerate(texts):
        if kinds[i] is Kind.TOC and "/" in text:
            author = text.rsplit("/", 1)[1]
            parsed = parse_byline(author)
            if parsed:
                names.update(parsed.names)
    return names


def _mark_bylines(texts: Sequence[str], kinds: list[Kind], toc_authors: set[str]) -> None:
    order = _significant(kinds)
    parses = {i: parse_byline(texts[i]) for i in order if kinds[i] in (Kind.HEADING, Kind.BODY)}
    for r, i in enumerate(order):
        parsed = parses.get(i)
        if parsed and _is_byline(parsed, r, order, kinds, parses, toc_authors):
            kinds[i] = Kind.BYLINE
    for r, i in enumerate(order):  # job titles next to a byline: "浙江省经信厅党组书记、厅长"
        parsed = parses.get(i)
        if parsed and not parsed.names and kinds[i] in (Kind.HEADING, Kind.BODY):
            near = [order[x] for x in (r - 1, r + 1) if 0 <= x < len(order)]
            if any(kinds[j] is Kind.BYLINE for j in near):
                kinds[i] = Kind.BYLINE


def _is_byline(
    parsed: BylineParse,
    r: int,
    order: Sequence[int],
    kinds: Sequence[Kind],
    parses: dict[int, BylineParse | None],
    toc_authors: set[str],
) -> bool:
    if parsed.explicit:
        return True
    if not parsed.names or not all(name_like(n) for n in parsed.names):
        return False
    if all(len(n) == 4 for n in parsed.names):  # "闻讯而动 高效指挥" is a heading
        return False
    if len(parsed.names) >= 2 or toc_authors.intersection(parsed.names):
        return True
    # A single bare name: only next to a title above or a job title below.
    prev = kinds[order[r - 1]] if r > 0 else None
    nxt = parses.get(order[r + 1]) if r + 1 < len(order) else None
    return prev is Kind.HEADING or bool(nxt and nxt.roles and not nxt.names)


def _mark_continuations(texts: Sequence[str], kinds: list[Kind]) -> None:
    """A heading-like line followed by an obvious continuation is a broken body line.

    Only after a finished paragraph: after an unfinished one the heading-like line is
    more likely an intruder (a sponsor box, a caption) inside that paragraph.
    """
    previous_closed = True
    for i in range(len(texts) - 1):
        candidate = kinds[i] is Kind.HEADING and kinds[i + 1] is Kind.BODY
        if previous_closed and candidate and _continues(texts[i], texts[i + 1]):
            kinds[i] = Kind.BODY
        if kinds[i] is Kind.BODY:
            previous_closed = is_closed(texts[i])
        elif kinds[i] is Kind.BYLINE:
            previous_closed = True


def _continues(head: str, nxt: str) -> bool:
    first = nxt[:1]
    if first in _NON_STARTERS or (first.isascii() and first.islower()):
        return True
    if head.rstrip().endswith(("的", "、", "，", ",")):
        return True
    clause = _FIRST_CLAUSE.match(nxt)
    if clause and clause.group(1) not in _OPENERS:
        return True
    return _word_across(head.rstrip(), nxt)


def _word_across(head: str, nxt: str) -> bool:
    """Does a dictionary word run across the break ("…企业互联共" + "享平台…")?"""
    if not (head and is_cjk(head[-1]) and is_cjk(nxt[0])):
        return False
    left, right = head[-3:], nxt[:3]
    offset = 0
    for word in _jieba().lcut(left + right, HMM=False):
        if offset < len(left) < offset + len(word):
            return True
        offset += len(word)
    return False


@cache
def _jieba() -> Any:
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)  # it announces its dictionary load on stderr
    return jieba


# --- paragraphs --------------------------------------------------------------------

_JUMPABLE = frozenset({Kind.CAPTION, Kind.FURNITURE, Kind.HEADING})
_MAX_JUMP = 4
_TITLE_MAX = 40  # an unfinished one-line paragraph this short before a byline is a title


class _Assembler:
    """Walks the classified lines once, rebuilding paragraphs (see the module docstring)."""

    def __init__(
        self, texts: Sequence[str], lines: Sequence[Line], kinds: list[Kind], prose: bool = False
    ):
        self.prose = prose  # prose: no lines jumped, only adjacent lines rejoined
        self.texts = texts
        self.lines = lines
        self.kinds = kinds
        self.picture = picture_gap(lines)
        self.blocks: list[Block] = []
        self.para: list[int] = []  # line indices of the open paragraph
        self.spans: list[tuple[int, int]] = []
        self.jumped: list[int] = []  # lines jumped over inside the open paragraph
        self.pending: list[int] = []  # lines that may still be jumped over

    def run(self) -> list[Block]:
        for i in range(len(self.lines)):
            if self.kinds[i] is Kind.BODY:
                self._body(i)
            elif self._can_jump(i):
                self.pending.append(i)
            else:
                self._flush(closer=i)
                self.blocks.append(self._single(i))
        self._flush(closer=None)
        return self.blocks

    def _dangling(self) -> bool:
        return bool(self.para) and not is_closed(self.texts[self.para[-1]])

    def _can_jump(self, i: int) -> bool:
        if self.prose or not self._dangling() or len(self.pending) >= _MAX_JUMP:
            return False
        if self.kinds[i] not in _JUMPABLE:
            return False
        return self.kinds[i] is not Kind.HEADING or wants_more(self.texts[self.para[-1]])

    def _body(self, i: int) -> None:
        line = self.lines[i]
        joins = not self.prose or line.gap == 0
        if joins and self._dangling() and not starts_paragraph(self.texts[i]):
            if self.pending:  # dropped lines in between: the paragraph gets a new span
                self.spans.append((line.start, line.end))
                self.jumped.extend(self.pending)
                self.pending = []
            else:
                self.spans[-1] = (self.spans[-1][0], line.end)
            self.para.append(i)
            return
        self._flush(closer=i)
        self.para = [i]
        self.spans = [(line.start, line.end)]

    def _flush(self, closer: int | None) -> None:
        if self.para:
            kind = Kind.HEADING if self._is_title(closer) else Kind.BODY
            first = self.para[0]
            self.kinds[first] = kind
            picture = self.lines[first].gap >= self.picture
            self.blocks.append(Block(kind, tuple(self.spans), first, picture))
        for j in self.jumped:
            self.blocks.append(self._single(j, inline=True))
        for j in self.pending:
            self.blocks.append(self._single(j))
        self.para, self.spans, self.jumped, self.pending = [], [], [], []

    def _is_title(self, closer: int | None) -> bool:
        """A title with a comma ("…提交一次申请,坐等公证服务") right before "本报讯(…)"."""
        if len(self.para) != 1 or not self._dangling() or closer is None:
            return False
        text = self.texts[self.para[0]]
        if len(squeeze(text)) > _TITLE_MAX:
            return False
        if self.kinds[closer] is Kind.BYLINE:
            return True
        return self.kinds[closer] is Kind.BODY and is_dateline_start(self.texts[closer])

    def _single(self, i: int, inline: bool = False) -> Block:
        line = self.lines[i]
        picture = line.gap >= self.picture
        return Block(self.kinds[i], ((line.start, line.end),), i, picture, inline)


# --- layout ------------------------------------------------------------------------

_BROKEN_MIN_CHARS = 15  # shorter unfinished lines are as likely headings or list items
_BROKEN_SHARE = 0.1  # of the long non-heading lines
_BROKEN_MIN = 2


def detect_layout(text: str, container: str | None = None) -> LayoutEvidence:
    """Page layout or prose, from what the text shows (see the module docstring)."""
    return _layout(text, [text[line.start : line.end] for line in split_lines(text)], container)


def _layout(text: str, texts: Sequence[str], container: str | None) -> LayoutEvidence:
    if container == "pdf":
        return LayoutEvidence(Layout.PAGE, "PDF extraction")
    if "\f" in text:
        return LayoutEvidence(Layout.PAGE, "form feeds (page breaks)")
    marks = sum(1 for t in texts if _PAGE.match(t) or (_JUMP.match(t) and len(squeeze(t)) <= 12))
    if marks >= 2:
        return LayoutEvidence(Layout.PAGE, f"{marks} page-number or jump lines")
    prose = [
        i
        for i, t in enumerate(texts[:-1])  # the last line has nothing to continue into
        if len(squeeze(t)) >= _BROKEN_MIN_CHARS and not heading_like(t)
    ]
    broken = sum(
        1
        for i in prose
        if not is_closed(texts[i])
        and not _MD_HEADING.match(texts[i])
        and not starts_paragraph(texts[i + 1])  # "■…" or "一、…" after a summary line
    )
    if broken >= _BROKEN_MIN and broken >= _BROKEN_SHARE * len(prose):
        return LayoutEvidence(Layout.PAGE, f"{broken} of {len(prose)} lines broken mid-sentence")
    return LayoutEvidence(Layout.PROSE, "paragraphs end their sentences")


def _classify_prose(texts: Sequence[str]) -> list[Kind]:
    """Prose: headings, explicit bylines and separators; everything else is text."""
    kinds = []
    for t in texts:
        if _MD_HEADING.match(t):
            kinds.append(Kind.HEADING)
        elif not any(c.isalnum() for c in t) or _PAGE.match(t):  # "* * *", "——", "- 12 -"
            kinds.append(Kind.FURNITURE)
        elif len(squeeze(t)) <= 30 and (parsed := parse_byline(t)) and parsed.explicit:
            kinds.append(Kind.BYLINE)
        else:
            kinds.append(Kind.HEADING if heading_like(t) else Kind.BODY)
    return kinds


def clean(text: str, container: str | None = None) -> Cleaned:
    """Classify and rejoin, by the rules of the layout `detect_layout` finds; `container`
    is the reader's format ("pdf" means a page layout whatever the lines show)."""
    lines = split_lines(text)
    texts = [text[line.start : line.end] for line in lines]
    layout = _layout(text, texts, container)
    if layout.layout is Layout.PAGE:
        kinds = classify(texts, lines)
        blocks = _Assembler(texts, lines, kinds).run()
        cleaned = Cleaned(text, tuple(lines), tuple(kinds), tuple(blocks), layout)
        if cleaned.has_text() or not lines:
            return cleaned
        layout = LayoutEvidence(Layout.PROSE, f"{layout.reason}, but page rules left no text")
    kinds = _classify_prose(texts)
    if not any(k is Kind.BODY for k in kinds):  # only titles: they are the text
        kinds = [Kind.BODY if k in (Kind.HEADING, Kind.BYLINE) else k for k in kinds]
    blocks = _Assembler(texts, lines, kinds, prose=True).run()
    return Cleaned(text, tuple(lines), tuple(kinds), tuple(blocks), layout)
