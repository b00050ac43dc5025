"""Sentence-aware chunking of one article's text, with exact offsets.

The article arrives as `Piece`s: contiguous spans of the original text, each tagged with
the paragraph (or subheading) it belongs to. Units are the sentences of each piece
(`rag.text.sentence_spans`); a sentence longer than `max_chars` is cut at the last comma,
enumeration comma, semicolon, colon or space between Latin words that keeps the part
within the limit (and not shorter than a quarter of it), else hard at the limit.

A chunk is one contiguous span of the original whose text is all kept: where dropped
material (a caption, a page number, a stray title) lies between two units, a chunk has
to end there. Units are therefore split into runs at such breaks and each run is packed
separately; this is the price of exact offsets (a run may end in a short chunk).

Within a run, whole units are packed greedily up to `max_chars` non-whitespace characters.
`overlap` counts sentences: that many trailing units of a chunk are repeated at the start
of the next one (fewer when they would leave no room for a new unit). Sentences rather
than a character budget keep every repeated piece citable as a whole sentence, and the
knob stays cheap to sweep. The last two chunks of a run are re-split to balance their
sizes, so a run never ends in a tiny leftover chunk that could have been evened out.

Chunk text is each paragraph's share of the span rejoined with `rag.text.join_lines`
(PDF line breaks dropped between CJK characters), paragraphs separated by "\\n"; it equals
the original span once whitespace is removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate, groupby

from rag.errors import ConfigError
from rag.text import is_cjk, join_lines, sentence_spans, squeeze

_SOFT_BREAKS = frozenset("，,、；;：:")


@dataclass(frozen=True)
class ChunkParams:
    """Chunk size and overlap, chosen on the gold set's dev split with
    `python -m rag.evals.tune chunking --build data/corpus --root /tmp`: with the
    sentence-mixed dense signal, 400/1 had the best hit@5 and MRR@10 (93.5 / 88.7); 150/0
    led hit within 1500 characters by two English items (95.2 vs 93.5) but costs 23% more
    embeddings and gives an LLM a third of the context at k=5."""

    max_chars: int = 400  # non-whitespace characters per chunk
    overlap: int = 1  # trailing sentences repeated at the start of the next chunk

    def __post_init__(self) -> None:
        if self.max_chars < 1:
            raise ConfigError(f"chunk max_chars must be at least 1, got {self.max_chars}")
        if self.overlap < 0:
            raise ConfigError(f"chunk overlap must be 0 or more sentences, got {self.overlap}")


@dataclass(frozen=True)
class Piece:
    start: int
    end: int
    group: int  # paragraph number within the article; a line break separates groups
    heading: bool = False  # a subheading: it opens a chunk rather than ends one


@dataclass(frozen=True)
class ChunkSpan:
    start: int
    end: int
    text: str
    sentences: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    size: int  # non-whitespace characters
    group: int
    heading: bool


def chunk_pieces(text: str, pieces: Sequence[Piece], params: ChunkParams) -> list[ChunkSpan]:
    chunks: list[ChunkSpan] = []
    for run in _runs(text, _units(text, pieces, params.max_chars)):
        for i, j in pack([u.size for u in run], params, [u.heading for u in run]):
            chunks.append(_make(text, run[i:j]))
    return chunks


def split_long(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """Cut text[start:end] into parts of at most `limit` non-whitespace characters."""
    parts: list[tuple[int, int]] = []
    a = start
    while len(squeeze(text[a:end])) > limit:
        hard = _after_nth_visible(text, a, limit)
        b = _soft_cut(text, a, hard, limit) or hard
        parts.append(_trim(text, a, b))
        a = b
    parts.append(_trim(text, a, end))
    return [(s, e) for s, e in parts if s < e]


def pack(
    sizes: Sequence[int], params: ChunkParams, headings: Sequence[bool] = ()
) -> list[tuple[int, int]]:
    """Index ranges [i, j) of consecutive units, each within the limit (see module doc).

    A chunk does not end with a heading unit when it can end before it instead.
    """
    if not sizes:
        return []
    sticky = list(headings) or [False] * len(sizes)
    ranges: list[tuple[int, int]] = []
    i = 0
    while True:
        j = i + 1
        total = sizes[i]
        while j < len(sizes) and total + sizes[j] <= params.max_chars:
            total += sizes[j]
            j += 1
        while j < len(sizes) and j - 1 > i and sticky[j - 1]:
            j -= 1
        ranges.append((i, j))
        if j == len(sizes):
            break
        i = _next_start(sizes, i, j, params)
    if len(ranges) >= 2:
        ranges[-2:] = _balance(sizes, ranges[-2], ranges[-1], params, sticky)
    return ranges


def _units(text: str, pieces: Sequence[Piece], limit: int) -> list[_Unit]:
    units: list[_Unit] = []
    for piece in pieces:
        for s, e in sentence_spans(text, piece.start, piece.end):
            for a, b in split_long(text, s, e, limit):
                size = len(squeeze(text[a:b]))
                units.append(_Unit(a, b, size, piece.group, piece.heading))
    return units


def _runs(text: str, units: Sequence[_Unit]) -> list[list[_Unit]]:
    """Maximal sequences of units with nothing but whitespace between them."""
    runs: list[list[_Unit]] = []
    for unit in units:
        last = runs[-1][-1] if runs else None
        if last is not None and last.end <= unit.start and not squeeze(text[last.end : unit.start]):
            runs[-1].append(unit)
        else:
            runs.append([unit])
    return runs


def _next_start(sizes: Sequence[int], i: int, j: int, params: ChunkParams) -> int:
    """Start of the chunk after [i, j): up to `overlap` repeated units that leave room."""
    k = max(j - params.overlap, i + 1)
    while k < j and sum(sizes[k : j + 1]) > params.max_chars:
        k += 1
    return k


def _balance(
    sizes: Sequence[int],
    left: tuple[int, int],
    right: tuple[int, int],
    params: ChunkParams,
    sticky: Sequence[bool],
) -> list[tuple[int, int]]:
    """Re-split the units of the last two chunks into two of the most even sizes that fit."""
    a, n = left[0], right[1]
    prefix = [0, *accumulate(sizes)]
    best: tuple[tuple[int, int], int, int] | None = None  # ((larger size, -m), m, k)
    for m in range(a + 1, n):
        first = prefix[m] - prefix[a]
        if first > params.max_chars:
            break
        if sticky[m - 1] and m - 1 > a:
            continue
        k = max(m - params.overlap, a + 1)
        while k < m and prefix[n] - prefix[k] > params.max_chars:
            k += 1
        second = prefix[n] - prefix[k]
        if second > params.max_chars:
            continue  # the rest would not fit in one chunk
        cost = (max(first, second), -m)
        if best is None or cost < best[0]:
            best = (cost, m, k)
    if best is None:  # the greedy split is always a candidate; kept for safety
        return [left, right]
    _, m, k = best
    return [(a, m), (k, n)]


def _make(text: str, units: Sequence[_Unit]) -> ChunkSpan:
    parts = []
    for _, members in groupby(units, key=lambda u: u.group):
        group = list(members)
        parts.append(join_lines(text[group[0].start : group[-1].end]))
    sentences = tuple((u.start, u.end) for u in units)
    return ChunkSpan(units[0].start, units[-1].end, "\n".join(parts), sentences)


def _after_nth_visible(text: str, start: int, n: int) -> int:
    seen = 0
    for i in range(start, len(text)):
        if not text[i].isspace():
            seen += 1
            if seen == n:
                return i + 1
    return len(text)


def _soft_cut(text: str, start: int, hard: int, limit: int) -> int | None:
    """The last comma-like break (or space between Latin words) before `hard`."""
    shortest = max(1, limit // 4)
    for i in range(hard - 1, start, -1):
        ch = text[i]
        if ch in _SOFT_BREAKS:
            cut = i + 1
        elif ch.isspace() and not (is_cjk(text[i - 1]) or is_cjk(text[i + 1 : i + 2] or "x")):
            cut = i
        else:
            continue
        if len(squeeze(text[start:cut])) >= shortest:
            return cut
        return None
    return None


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
