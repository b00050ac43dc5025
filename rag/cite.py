"""Citations for LLM answers: parse markers, verify each cited claim, renumber.

An LLM writes "…增长8%[2]。" where 2 is a passage number. For every claim (a sentence of
the answer) and every passage it cites we look for the sentence of that passage that
supports the claim; the citation quotes that sentence with its exact offsets and says
whether it really supports the claim. Markers that point to no passage are dropped;
the rest are renumbered in order of first appearance. Claims without markers that a
passage clearly supports get a citation; the others are counted, not hidden.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from rag.evidence import Scored, Sentence
from rag.reading import claim_supported
from rag.text import fold, sentence_spans, squeeze
from rag.types import Citation

# [1]  [1,2]  [1, 2]  [1-3]  【1】  ［１］  [1][2] (two groups)  [Passage 1]  [段落1]
_MARKER = re.compile(
    r"[\[【［]\s*(?:passage|source|段落|资料|来源)?\s*"
    r"([0-9０-９]+(?:\s*[,，、;；\-–~]\s*[0-9０-９]+)*)\s*[\]】］]",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class CiteParams:
    """A claim counts as supported when its best sentence is this close (dense cosine) or
    shares this share of its terms, and every number in the claim appears in the quote."""

    support_dense: float = 0.86
    support_lexical: float = 0.5
    auto_cite_dense: float = 0.90  # stricter: attaching a citation the model did not write


@dataclass(frozen=True)
class MarkerGroup:
    start: int
    end: int
    numbers: tuple[int, ...]


@dataclass
class Claim:
    start: int
    end: int
    text: str  # without markers
    groups: list[MarkerGroup] = field(default_factory=list)


def parse_markers(text: str) -> list[MarkerGroup]:
    groups = []
    for m in _MARKER.finditer(text):
        nums: list[int] = []
        for part in re.split(r"\s*[,，、;；]\s*", m.group(1)):
            bounds = [int(fold(x)) for x in re.split(r"\s*[\-–~]\s*", part) if x]
            lo, hi = bounds[0], bounds[-1]
            nums.extend(range(lo, hi + 1) if 0 < hi - lo < 10 else bounds)
        groups.append(MarkerGroup(m.start(), m.end(), tuple(dict.fromkeys(nums))))
    return groups


def claims(text: str) -> list[Claim]:
    """Sentences of the answer, each owning the markers written inside or right after it."""
    groups = parse_markers(text)
    spans = list(sentence_spans(text))
    out = [Claim(a, b, "") for a, b in spans]
    for g in groups:
        owner = _owner(out, g)
        if owner is not None:
            owner.groups.append(g)
    for c in out:
        body = text[c.start : c.end]
        c.text = _MARKER.sub("", body).strip()
    return [c for c in out if c.text or c.groups]


def _owner(spans: list[Claim], g: MarkerGroup) -> Claim | None:
    for i, c in enumerate(spans):
        if c.start <= g.start < c.end:
            # A marker that opens a sentence ("…增长。[1]下一句") belongs to the previous one.
            if g.start == c.start and i > 0:
                return spans[i - 1]
            return c
    return spans[-1] if spans else None


def is_substantive(claim: str) -> bool:
    """Worth checking: states something (not 'Here is the answer:')."""
    return len(squeeze(claim)) >= 8 and not claim.rstrip().endswith((":", "："))


def supports(claim: str, best: Scored, params: CiteParams | None = None) -> bool:
    """The quote states every figure and year of the claim (scaled forms agree: '361,000'
    and '36.1万'), names the places a Chinese claim names, and is close to the claim."""
    p = params or CiteParams()
    if not claim_supported(claim, best.sentence.text):
        return False
    return best.dense >= p.support_dense or best.lexical >= p.support_lexical


ScoreFn = Callable[[str, Sequence[Sentence]], list[Scored]]


@dataclass(frozen=True)
class Cited:
    text: str
    citations: list[Citation]
    unsupported_claims: int  # substantive claims with no supporting citation


def cite(
    answer: str,
    passages: Sequence[Sequence[Sentence]],  # sentences of passage 1, 2, …
    score_fn: ScoreFn,
    params: CiteParams | None = None,
) -> Cited:
    """Verify, renumber and rewrite the markers of an LLM answer."""
    cp = params or CiteParams()
    numbering: dict[tuple[str, int, int], int] = {}
    citations: list[Citation] = []
    replacements: dict[int, str] = {}  # marker group start -> new markers
    unsupported = 0
    auto: dict[int, str] = {}  # claim end -> markers to append
    for claim in claims(answer):
        new = []
        for g in claim.groups:
            group_new = []
            for p in g.numbers:
                if not 1 <= p <= len(passages) or not passages[p - 1]:
                    continue  # the model cited a passage that does not exist
                ranked = score_fn(claim.text or answer, passages[p - 1])
                n = _number(ranked[0], supports(claim.text, ranked[0], cp), numbering, citations)
                group_new.append(n)
            replacements[g.start] = "".join(f"[{n}]" for n in dict.fromkeys(group_new))
            new += group_new
        if not new and is_substantive(claim.text):
            pool = [s for sents in passages for s in sents]
            ranked = score_fn(claim.text, pool) if pool else []
            best = ranked[0] if ranked else None
            if best and best.dense >= cp.auto_cite_dense and supports(claim.text, best, cp):
                auto[claim.end] = f"[{_number(best, True, numbering, citations)}]"
            else:
                unsupported += 1
        elif new and not any(citations[n - 1].supported for n in new):
            unsupported += 1
    return Cited(_rewrite(answer, replacements, auto), citations, unsupported)


def _number(
    best: Scored,
    supported: bool,
    numbering: dict[tuple[str, int, int], int],
    citations: list[Citation],
) -> int:
    s = best.sentence
    key = (s.source, s.start, s.end)
    if key in numbering:
        n = numbering[key]
        if supported and not citations[n - 1].supported:
            citations[n - 1] = replace(citations[n - 1], supported=True)
        return n
    n = len(citations) + 1
    numbering[key] = n
    citations.append(
        Citation(n, s.source, s.title, s.text, s.start, s.end, s.passage_id, supported, s.meta)
    )
    return n


def _rewrite(text: str, replacements: dict[int, str], auto: dict[int, str]) -> str:
    """Apply marker replacements (by group start) and insertions (at claim ends)."""
    edits = [(g.start, g.end, replacements.get(g.start, "")) for g in parse_markers(text)]
    edits += [(end, end, markers) for end, markers in auto.items()]
    out = []
    pos = 0
    for start, end, new in sorted(edits):
        out.append(text[pos:start])
        out.append(new)
        pos = end
    out.append(text[pos:])
    return "".join(out)
