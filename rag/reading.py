"""The reading stage: which retrieved sentence answers the question, and with what span.

Retrieval and evidence scoring rank sentences by how *similar* they are to the question;
reading asks whether a sentence *answers* it. For a question with an expected answer
type (rag.question) a sentence answers when it states a span of that type that the
question does not already contain ('长兴县' for 哪个县…?), and when it satisfies the
question's constraints: the year asked for (not another year), the place asked about,
the role whose holder is asked for (not its deputy), the unit of the amount, and what a
figure measures (rag.attribute: 总投资 asked, 产值 stated is no answer; a running total
累计… is not one year's figure). The answer is the best such
span, stated first; when no sentence among the best-scored ones qualifies, the question
is refused — the articles mention the subject but not the detail asked for.

Questions with no recognisable type (lists, descriptions, reasons) are answered with
the best sentence when its evidence score clears the calibrated threshold.

The same checks verify LLM claims (`claim_supported`): a figure, year or place the
claim states must be stated by the quote that cites it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from rag import attribute, english, translate
from rag.evidence import Scored, Sentence
from rag.ingest import bylines
from rag.question import (
    ASKS_POSITION_EN,
    ASKS_POSITION_ZH,
    Question,
    editions,
    grades,
    names_people,
)
from rag.spans import UNITS, Span, typed_spans
from rag.text import ADMIN_LEVEL, cut_words, detect_lang, fold, match_key, person_names, tokenize
from rag.types import ArticleMeta

# Places every article of this corpus is in: naming them constrains nothing.
_SCOPE_PLACES = frozenset({"浙江", "浙江省", "中国", "全国", "我国", "全省", "国内", "国家"})
_PLACE_SUFFIX = re.compile(f"(?:社区|{ADMIN_LEVEL})$")
# A kind of zone, not a name ('经开区协调后…' of an article that says 金华开发区): no
# constraint on where the answer is.
_GENERIC_ZONE = re.compile(
    r"(?:经济技术|经济|高新技术|高新|经开|开发|新|自贸|保税|工业|产业|园|景|市|城|郊|辖)区"
    r"|(?:工业|产业|科技)?园区?|开发区|县城|城市|乡镇|农村|山区|街道|社区"
    r"|[省市县区镇乡村]里"  # '和镇里的强村公司': the town's, no place of its own
)
_RELATIVE_YEAR = re.compile(r"今年|去年|上年|前年|明年|当年|同期|近年|本年|年内|年底|年初")
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
# The year a relative word speaks of, from the year of publication.
# ('年底' of an issue out in January may be the year before: no year of its own.)
_YEAR_OFFSET = {"今年": 0, "本年": 0, "去年": -1, "上年": -1, "前年": -2, "明年": 1}


@dataclass(frozen=True)
class ReadingParams:
    """Chosen on the dev split of the gold set (docs/quality.md has the sweep)."""

    pool: int = 12  # best evidence sentences a typed answer may come from
    # A typed answer's sentence must score at least this (evidence score, rag.evidence);
    # below it the question is refused even when some sentence states a span of the type.
    # Dev, typed questions: zh 0.90 -> refusal recall 63%, false refusals 13%, key facts
    # 81.7% (0.80: 46% / 10% / 82.8%); en 0.77 -> 79% / 21% / 54.9% (0.70: 32% / 10%).
    typed_floor_zh: float = 0.90
    typed_floor_en: float = 0.77
    # Preference for the better-scored sentence over the span nearer the question's words.
    distance_weight: float = 0.02  # subtracted per 10 characters from the nearest term
    rank_weight: float = 0.01  # subtracted per position in the pool
    focus_weight: float = 0.05  # added per focus word (rag.question) the sentence states
    # A figure bound by name to the attribute asked for (rag.attribute.stated_exactly):
    # preferred by this much, and answering from a sentence up to this far below the floor.
    bound_weight: float = 0.05
    bound_relief: float = 0.08
    local_weight: float = 0.03  # per keyword of an English question the span's clause states
    kind_weight: float = 0.10  # a title named with the kind asked for (游船“拱宸邀月”)
    # Untyped questions (reason, how, description, list): among the best sentences within
    # `untyped_window` of the best score, a sentence that gives a reason or a means
    # (为了, 通过…) or defines (是指, 即…) the way the question asks, or that states the
    # term the question quotes, is preferred by these weights.
    untyped_window: float = 0.10
    cue_weight: float = 0.04
    quote_weight: float = 0.04

    def floor(self, lang: str) -> float:
        return self.typed_floor_zh if lang == "zh" else self.typed_floor_en


@dataclass(frozen=True)
class Pick:
    """One answered part: the sentence, and the typed span when there is one."""

    scored: Scored
    span: Span | None = None
    english: str | None = None  # the span rendered in English, for English questions

    @property
    def sentence(self) -> Sentence:
        return self.scored.sentence

    @property
    def short(self) -> str | None:
        if self.span is None:
            return None
        return self.english or self.span.text


@dataclass(frozen=True)
class Reading:
    answered: bool
    picks: tuple[Pick, ...] = ()


def read(
    question: Question,
    scored: Sequence[Scored],
    params: ReadingParams,
    untyped_ok: Callable[[Sequence[Scored]], bool],
) -> Reading:
    """Answer `question` from its scored sentences (best first), or refuse."""
    if not scored or question.unmatched:
        return Reading(False)
    parts = question.parts or (question,)
    picks: list[Pick] = []
    for part in parts:
        pick = _read_one(part, question, scored, params, untyped_ok)
        if pick is None:
            continue  # a part the articles do not answer: answer the others
        if all(p.sentence != pick.sentence or p.span != pick.span for p in picks):
            picks.append(pick)
    if len(picks) < len(parts) and not picks:
        return Reading(False)
    return Reading(bool(picks), tuple(picks))


def _read_one(
    part: Question,
    whole: Question,
    scored: Sequence[Scored],
    params: ReadingParams,
    untyped_ok: Callable[[Sequence[Scored]], bool],
) -> Pick | None:
    if not part.typed:
        # No fact of a type to find: the best sentence that is about what the question
        # constrains (its year, place, names), if it is close enough.
        fitting = fitting_sentences(part, scored)
        return Pick(fitting[0]) if fitting and untyped_ok(fitting) else None
    best: tuple[float, Pick] | None = None
    floor = params.floor(whole.lang)
    pool = _for_part(part, whole, scored)[: params.pool]
    quoted = _quoted_names(part)
    for rank, s in enumerate(pool):
        if s.score < floor - params.bound_relief:
            break
        if not satisfies(part, s.sentence):
            continue
        sentence = s.sentence
        if quoted and not _states_quoted(quoted, sentence, scored):
            continue  # '获评“全国档案系统先进集体”是在哪一年': not a year of another deed
        spans = [
            sp
            for sp in candidate_spans(part, sentence)
            if not _given(sp, part) and _counts_thing(part, sp)
        ]
        if part.attribute:
            around = neighbours(sentence, scored)
            spans = [
                sp
                for sp in spans
                if attribute.measures(
                    part.attribute, sentence.text, sentence.tags, sp.start, sp.end, around
                )
            ]  # fmt: skip
        if part.measure_words and not _states_measures(part, sentence.text):
            continue  # 'What was Sanmen's GDP?': a sentence of its investment does not say
        if part.years:
            spans = [sp for sp in spans if not _running_total(part, sentence.text, sp)]
        spans = _changed_to(spans, sentence.text, part)
        # A figure bound to the asked attribute by name ('未来工厂72家', '48.5万名常住人口')
        # answers even from a less similar sentence, and even from a rhetorical question.
        bound = [
            sp
            for sp in spans
            if attribute.stated_exactly(
                part.attribute, sentence.text, sentence.tags, sp.start, sp.end
            )
            or _specific_unit(part, sp)
            or (whole.lang == "en" and _placed_keyword(part, sentence, sp))
        ]  # fmt: skip
        if s.score < floor:
            spans = bound
        if is_question(sentence.text):
            spans = [
                sp for sp in bound if attribute.counted_after(sentence.text, sentence.tags, sp.end)
            ]
        if not spans:
            continue  # '拿地即开工,衢州是怎么做到的?' asks, it does not answer
        kind = [sp for sp in spans if _of_kind(part, sentence.text, sp)]
        span, distance = _nearest(kind or spans, part, sentence.text)
        span = _respective(spans, part, sentence.text) or span
        value = s.score - params.rank_weight * rank - params.distance_weight * distance / 10
        text = fold(sentence.text)
        value += params.focus_weight * sum(_states_word(text, w) for w in part.focus)
        if span in bound:
            value += params.bound_weight
        elif whole.lang == "en":
            value += params.local_weight * _local_keywords(part, sentence, span)
        if span in kind:
            value += params.kind_weight
        if best is None or value > best[0]:
            best = (
                value,
                Pick(s, span, _english(span, whole) if whole.lang == "en" else None),
            )
    return best[1] if best else None


_QUOTE_IN_QUESTION = re.compile(r"“([^”]{2,30})”|《([^》]{2,30})》|\"([^\"]{2,30})\"")


def _quoted_names(q: Question) -> list[str]:
    """The names a Chinese question quotes (“全国档案系统先进集体”): what its figure, date
    or place is about, so the answer's sentence or the one next to it must state them. A
    title question asks for such a name, so it is not held to it."""
    if q.lang != "zh" or q.type == "title":
        return []
    return [next(g for g in m.groups() if g) for m in _QUOTE_IN_QUESTION.finditer(q.text)]


def _states_quoted(names: Sequence[str], sentence: Sentence, scored: Sequence[Scored]) -> bool:
    near = _WORDS_ONLY.sub("", match_key(neighbours(sentence, scored)))
    return all(_WORDS_ONLY.sub("", match_key(name)) in near for name in names)


_WORDS_ONLY = re.compile(r"\W+")  # “一套班子、两块牌子” is quoted as “一套班子,两块牌子”


def _english(span: Span, q: Question) -> str | None:
    """The English short answer of a span: a rank without the scope the question states."""
    rendering = english.render(span.text, span.type)
    if rendering and span.type == "rank":
        return english.without_scope(rendering, q.text)
    return rendering


def _states_measures(q: Question, text: str) -> bool:
    """Each measure an English question names ('GDP', 'above designated size') is stated."""
    text = fold(text)
    return all(any(w in text for w in group.split("|")) for group in q.measure_words)


def fitting_sentences(q: Question, scored: Sequence[Scored]) -> list[Scored]:
    """The scored sentences that satisfy the question's constraints, best first."""
    return [s for s in scored if satisfies(q, s.sentence)]


def _of_kind(q: Question, text: str, span: Span) -> bool:
    """A name of the kind the question asks for: '哪条船' is answered by the name of a
    ship (最美游船“拱宸邀月”), the kind named in or right before the span."""
    if q.lang == "en":
        # 'Which travel agency signed…': 浙江光大明悦国际旅行社, not the association it
        # signed with.
        if q.type not in ("org", "title"):
            return False
        _, forms = translate.asked_kind(q.text)
        return any(len(f) >= 2 and f in span.text for f in forms)
    kind = _asked_kind(q.text) if q.type == "title" else ""
    return bool(kind) and any(ch in text[max(0, span.start - 6) : span.end] for ch in kind)


@lru_cache(maxsize=256)
def _asked_kind(question: str) -> str:
    """The noun right after the question word (哪条船上 -> 船, 哪项省级荣誉 -> 荣誉)."""
    from rag import tagger

    tokens = tagger.tag(question)
    at = next((i for i, (a, b, _) in enumerate(tokens) if question[a:b] in _WHICH), None)
    if at is None:
        return ""
    kind = ""
    for a, b, tag in tokens[at + 1 :]:
        if tag == "q":
            continue
        if tag in ("n", "nz", "s", "a", "vn"):
            kind = question[a:b]
            if tag != "a":
                break
            continue
        break
    return kind.rstrip("上里中内") if len(kind) > 1 else kind


_WHICH = frozenset({"哪", "哪个", "哪项", "哪一", "哪一项", "什么", "何种", "哪条", "哪部", "哪款"})


# Units of measurement few figures of an article come in, unlike 个, 家, 人, 元 or 年.
_SPECIFIC_UNITS = frozenset(
    ("公里", "千米", "米", "平方公里", "平方米", "立方米", "千瓦时", "千瓦", "兆瓦", "瓦", "度",
     "吨", "亩", "公顷", "标箱", "辆", "台", "艘", "条", "支")
)  # fmt: skip


def _specific_unit(q: Question, span: Span) -> bool:
    """The question asks for a figure in a unit few figures come in (公里, 千瓦时, 吨),
    which the span states (candidate_spans keeps only such spans): as telling as the
    attribute named."""
    return (
        q.type == "number"
        and q.unit is not None
        and all(u in _SPECIFIC_UNITS for u in q.unit.split("|"))
    )


# -- untyped questions: the sentence that explains, not the one that restates ------------

_WHY = re.compile(r"为什么|为何|什么原因|原因|初衷|目的|\bwhy\b", re.I)
_CAUSE = re.compile(
    r"为了|因为|由于|初衷|原因|目的|旨在|是为|因此|所以|为此|离不开|否则|如果没有|势必|得益于|源于|缘于|考虑到|鉴于"
)
_MEANS = re.compile(r"通过|采取|采用|依托|借助|利用|模式|措施|办法|方式|做法|手段|路径")
_DEFINES = re.compile(
    r"是指|指的是|就是|这是|即|是一[个种款家项座套]|代表|包括|分别是|分别为|由.{1,12}组成|[(（][^)）]{4,}[)）]"
)
_DESCRIBED_AS = re.compile(
    r"什么样的([\u4e00-\u9fff]{1,4}?)[?？]?$|是(?:一)?个?什么(?!样)([\u4e00-\u9fff]{1,4}?)[?？]?$"
)
_QUOTED = re.compile(
    r"“([^”]{1,20})”|‘([^’]{1,20})’|「([^」]{1,20})」|\"([^\"]{1,20})\"|'([^']{1,20})'"
)


def untyped_order(q: Question, scored: Sequence[Scored], params: ReadingParams) -> list[Scored]:
    """The scored sentences for a question of no typed answer, the ones that answer it
    the way it asks moved first: a reason for 为什么, a means for 怎么/如何, a definition
    for 是什么, and a sentence stating the term the question quotes (“1833”). Only
    sentences within `untyped_window` of the best compete; the rest keep their order."""
    if q.typed or not scored:
        return list(scored)
    cue = {"reason": _CAUSE if _WHY.search(q.text) else _MEANS, "description": _DEFINES}.get(
        q.type or ""
    )
    kind = _DESCRIBED_AS.search(q.text) if q.type == "description" else None
    if kind is not None:
        # '是一个什么样的平台': the sentence saying what it is ('…是…助创平台').
        noun = re.escape(next(g for g in kind.groups() if g))
        cue = re.compile(rf"{_DEFINES.pattern}|是[^,，。;；]{{0,80}}{noun}")
    quoted = [fold(next(g for g in m.groups() if g)) for m in _QUOTED.finditer(q.text)]
    quoted = [t for t in quoted if detect_lang(t) == "zh"]
    top = scored[0].score
    head = [s for s in scored if s.score >= top - params.untyped_window]
    # 'X为何邀请龙港参加?答案就是:城市标准化建设': an article asking the why or how itself
    # answers it in the next sentence, which competes with the question's score.
    answers_asked = {
        id(x): s.score
        for s in head
        if cue is not None and is_question(s.sentence.text)
        for x in scored
        if x.sentence.source == s.sentence.source
        and 0 <= x.sentence.start - s.sentence.end <= _GAP
        and not is_question(x.sentence.text)
    }
    in_head = {id(x) for x in head}
    head += [x for x in scored if id(x) in answers_asked and id(x) not in in_head]
    in_head |= answers_asked.keys()
    rest = [x for x in scored if id(x) not in in_head]

    def value(s: Scored) -> float:
        text = fold(s.sentence.text)
        v = max(s.score, answers_asked.get(id(s), s.score))
        if id(s) in answers_asked or (
            cue is not None and cue.search(text) and not is_question(s.sentence.text)
        ):
            v += params.cue_weight  # a question asks for a reason, it gives none
        if quoted and all(t in text for t in quoted):
            v += params.quote_weight
        return v

    return sorted(head, key=lambda s: -value(s)) + rest


_TOTAL_ASKED = re.compile(r"累计|总共|一共|至今|迄今|共计|in total|so far|cumulative", re.I)


# '从856亿元增加至7062.5亿元', '从29个工作日缩减为10个工作日': a figure and what it became.
_CHANGE = re.compile(
    r"[\u4e00-\u9fff]{0,3}?\s*(?:增加|增长|提高|提升|跃升|上升|扩大|攀升|缩减|缩短|缩小|下降|减少|降低|压缩|减)?"
    r"\s*(?:到了|到|至|为|成)\s*(?:(?:19|20)\d{2}年(?:底|末)?的?)?"
)
# '从2021年的4.94%增长到2023年的9.17%': the year each figure is of may come between.
_FROM = re.compile(r"从(?:(?:19|20)\d{2}年(?:底|末)?的?)?\s*$")


_ASKS_CHANGE = re.compile(r"从(?:多少|几|多久|多长)|\bfrom\b.{0,30}\bto\b", re.I)
_ASKS_BEFORE = re.compile(
    r"原来|原先|原本|此前|以前|起初|最初|改革前|\b(?:originally|previously|before|used to)\b", re.I
)


def _changed_to(spans: Sequence[Span], text: str, q: Question) -> list[Span]:
    """Of a figure 'from A to B', B answers: what it is now, or in the later year the
    sentence gives ('2003年到2023年…从856亿元增加至7062.5亿元' for 2023). A answers
    only a question of the earlier year."""
    if _ASKS_CHANGE.search(q.text):
        return list(spans)  # '从多久缩短到多久': both asked
    years = sorted(set(_YEAR.findall(text)))
    earlier = _ASKS_BEFORE.search(q.text) is not None or (
        len(years) > 1 and years[0] in q.years and years[-1] not in q.years
    )
    drop: set[Span] = set()
    for a, b in itertools.pairwise(spans):
        if _FROM.search(text[max(0, a.start - 10) : a.start]) and _CHANGE.fullmatch(
            text[a.end : b.start]
        ):
            drop.add(b if earlier else a)
    return [sp for sp in spans if sp not in drop]


def _running_total(q: Question, text: str, span: Span) -> bool:
    """A running total ('累计油气贸易额超3万亿元') is not the figure of the year asked for,
    unless the sentence ties it to that year or the question asks for a total."""
    if _TOTAL_ASKED.search(q.text) or any(y in text for y in q.years):
        return False
    left, _ = attribute.clause_of(text, span.start, span.end)
    return bool(re.search(r"累计|总计|至今|迄今", text[left : span.start]))


def neighbours(sentence: Sentence, scored: Sequence[Scored]) -> str:
    """The sentence with the ones right before and after it in its article, as far as
    the retrieved passages hold them."""
    same = {x.sentence.start: x.sentence for x in scored if x.sentence.source == sentence.source}
    before = [x for x in same.values() if 0 <= sentence.start - x.end <= _GAP]
    after = [x for x in same.values() if 0 <= x.start - sentence.end <= _GAP]
    return "".join(x.text for x in (*before[:1], sentence, *after[:1]))


_GAP = 3  # characters between adjacent sentences (line breaks, spaces)


def _for_part(part: Question, whole: Question, scored: Sequence[Scored]) -> list[Scored]:
    """For one part of a two-part question, prefer sentences sharing that part's words."""
    if part is whole or not whole.parts:
        return list(scored)
    words = _content_tokens(part.text) if part.lang == "zh" else _part_keywords(part, whole)
    if not words:
        return list(scored)

    def overlap(s: Scored) -> float:
        text = fold(s.sentence.text)
        return sum(len(w) for w in words if fold(w) in text) / sum(len(w) for w in words)

    return sorted(scored, key=lambda s: -(s.score + 0.3 * overlap(s)))


def _part_keywords(part: Question, whole: Question) -> list[str]:
    """An English part's Chinese keywords that the other parts do not share."""
    others = {k for p in whole.parts if p is not part for k in p.keywords}
    return [k for k in part.keywords if len(k) >= 2 and k not in others]


def candidate_spans(q: Question, sentence: Sentence) -> list[Span]:
    assert q.type is not None
    spans = typed_spans(sentence.text, sentence.tags, q.type)
    if q.type == "number":
        # 'N大' (5大民生主题移动联络站) counts kinds of a thing: an answer to a Chinese count
        # in 个 or of no unit; never a rank's 第3大, nor an English count ('九大行业').
        kinds = q.lang == "zh" and (not q.unit or "个" in q.unit)
        text = sentence.text
        spans = [
            sp
            for sp in spans
            if not sp.text.endswith("大") or (kinds and text[sp.start - 1 : sp.start] != "第")
        ]
    if q.type == "number" and q.unit:
        unit = re.compile(rf"(?:{q.unit})")
        spans = [sp for sp in spans if sp.text.endswith("大") or unit.search(fold(sp.text))]
    if q.type == "number" and not q.unit and q.attribute:
        # '研发投入强度是多少': a figure bound by name to what is asked may be a share
        # (投入强度达到5.16%), whatever the question word.
        shares = [
            sp
            for sp in typed_spans(sentence.text, sentence.tags, "percent")
            if attribute.stated_exactly(q.attribute, sentence.text, sentence.tags, sp.start, sp.end)
        ]
        spans = sorted([*spans, *shares], key=lambda sp: sp.start)
    if q.type == "date" and _ASKS_RANGE.search(q.text):
        spans = _ranges(spans, sentence.text)  # '从几月几日到几月几日': 4月15日至10月15日
    if q.type == "date" and _ASKS_YEAR.search(q.text):
        # '哪一年' is answered by a year (2022年, 去年), not by how often (每4年).
        spans = [sp for sp in spans if _A_YEAR.search(sp.text)]
    if q.type == "rank" and q.scope:
        # '全国排第几' is not answered by '全省第四'.
        spans = [sp for sp in spans if not _other_scope(sp.text, q.scope)]
    if q.type == "place" and not re.search(r"国家|哪国|省|country|province|nation", q.text, re.I):
        # Every article is in 浙江, 中国: naming them answers no 'where'.
        spans = [sp for sp in spans if sp.text not in _SCOPE_PLACES]
    if q.type in ("place", "org") and q.unit and not (q.type == "org" and q.unit in _ANY_FIRM):
        # '哪个村' asks for a village: a county in the same sentence is not the answer. The
        # article may drop the suffix ('柯桥' for 柯桥区): then the word after it counts.
        level = re.compile(rf"(?:{q.unit})$" if q.type == "place" else rf"(?:{q.unit})")
        text = sentence.text
        spans = [
            sp
            for sp in spans
            if level.search(sp.text)
            or level.search(text[sp.start : sp.end + 1])
            or (q.type == "place" and _bare_place_of_level(sp.text, level))
        ]
    if q.type == "place":
        # '在四川成都举行': the place right before another is the larger one it lies in.
        starts = {sp.start for sp in spans}
        spans = [sp for sp in spans if sp.end not in starts]
    if q.type == "title" and _ASKS_POSITION.search(q.text):
        spans = _posts(q, sentence)  # '艾勇丰担任什么职务': 丽水市市场监管局行政审批处处长
    if q.type == "person" and not spans:
        spans = _appositive_names(q, sentence.text)
    if q.type == "person":
        # A byline names the writer: an answer only when the writer is asked for.
        spans = [sp for sp in spans if sp.byline == (q.meta == "byline")] or (
            [sp for sp in spans if sp.byline] if q.meta == "byline" else []
        )
        if q.roles:
            spans = [sp for sp in spans if _near_role(sentence.text, sp, q.roles)]
    return spans


_ASKS_RANGE = re.compile(
    r"从.{0,8}到|起止|至几月|到几月|到哪一?年|\bfrom\b.{0,40}\bto\b|\bbetween\b.{0,40}\band\b"
    r"|\bperiod\b|\bwhich months\b",
    re.I,
)
_RANGE_JOIN = re.compile(r"\s*(?:至|到|—|-|~)\s*")


def _ranges(spans: Sequence[Span], text: str) -> list[Span]:
    """Two dates joined by 至/到/— (4月15日至10月15日) as one span, the range asked for."""
    out: list[Span] = []
    for sp in spans:
        prev = out[-1] if out else None
        if prev is not None and _RANGE_JOIN.fullmatch(text[prev.end : sp.start]):
            out[-1] = Span(sp.type, prev.start, sp.end, text[prev.start : sp.end])
        else:
            out.append(sp)
    return out


_ASKS_YEAR = re.compile(r"哪一?年|什么年份|何年|\b(?:which|what) year\b", re.I)
# A year stated: in digits, in Chinese numerals, or counted from publication (今年, 去年…).
_A_YEAR = re.compile("|".join((r"(?:19|20)\d{2}", "[〇零一二三四五六七八九]{4}年", *_YEAR_OFFSET)))


_ASKS_POSITION = re.compile(f"{ASKS_POSITION_ZH}|{ASKS_POSITION_EN}", re.I)
# A post ends in a title word: 处长, 党组书记, 代检察长, 研究员, 总经理…
_POST_END = re.compile(
    r"(?:长|书记|主任|委员|经理|总监|主席|院士|教授|研究员|董事|理事|会长|负责人|总裁|秘书|"
    r"主编|总编|社长|记者|工程师|技师|专员|代表|法官|检察官)$"
)


def _posts(q: Question, sentence: Sentence) -> list[Span]:
    """The title right before the name of the person the question asks about
    (「丽水市市场监管局行政审批处处长艾勇丰介绍」: the run back to the clause start), or,
    when none is, the titles listed after the name up to the sentence's end."""
    text = sentence.text
    names = [e for e in q.entities if len(e) >= 2 and e in text]
    if q.lang == "en":
        asked = re.sub(r"[^a-z]", "", q.text.lower())
        names = [
            text[a:b]
            for a, b, tag in sentence.tags
            if tag == "PER" and len(english.romanised(text[a:b])) >= 4
            and english.romanised(text[a:b]) in asked
        ]  # fmt: skip
    out: list[Span] = []
    for name in dict.fromkeys(names):
        end = text.index(name)
        start = _run_start(text, end)
        # '党组书记、代检察长': titles joined by 、 are one post.
        while start > 1 and text[start - 1] == "、" and _POST_END.search(text[: start - 1]):
            start = _run_start(text, start - 1)
        post = text[start:end]
        if 2 <= len(post) <= 40 and _POST_END.search(post):
            out.append(Span("title", start, end, post))
            continue
        # 「辛鸣, 哲学博士, …, 中共中央党校马克思主义学院副院长、教授。」: after the name.
        at = end + len(name)
        for m in re.finditer(r"[^,，。；;]+", text[at:]):
            item = m.group().strip()
            if 2 <= len(item) <= 40 and _POST_END.search(item):
                a = at + m.start() + m.group().index(item)
                out.append(Span("title", a, a + len(item), item))
            if text[at + m.end() : at + m.end() + 1] in ("。", ";", "；"):
                break
    return out


def _run_start(text: str, end: int) -> int:
    """Where the run of text ending at `end` starts: after the last delimiter before it."""
    start = end
    while start > 0 and not re.match(r"[\s，,。；;：:（(“”\"、》]", text[start - 1]):
        start -= 1
    return start


def _bare_place_of_level(place: str, level: re.Pattern[str]) -> bool:
    """A place named without its suffix ('四川成都': 成都) is of the level asked for when
    the dictionary says so (成都 is a city)."""
    if _PLACE_SUFFIX.search(place):
        return False
    found = translate.place_level(place)
    return found is not None and level.search(found) is not None


def _appositive_names(q: Question, text: str) -> list[Span]:
    """Names LAC did not tag, found where the question says they stand: right after the
    description it asks about ('一线焊工卫松' for 哪位一线焊工…) or the role it asks for
    ('总监杜丹丹' for a director). jieba's person tag (nr) gives the name's extent."""
    out: list[Span] = []
    for start, at in person_names(text):
        word = text[start:at]
        if not 2 <= len(word) <= 3 or start < 2:
            continue
        before = text[start - 2 : start]
        described = q.lang == "zh" and bool(re.fullmatch(r"[\u4e00-\u9fff]{2}", before))
        if (described and before in q.text and word not in q.text) or any(
            text[:start].endswith(r) for r in q.roles
        ):
            out.append(Span("person", start, at, word))
    return out


# 哪家企业/公司 is answered by a firm's short name (华友钴业, 舜宇光学): no kind word in it.
_ANY_FIRM = frozenset({"公司", "企业", "集团"})

_SCOPES = ("全国", "全省", "全市", "全球", "世界", "全区", "全县", "省内", "国内")


def _other_scope(span: str, scope: str) -> bool:
    stated = next((s for s in _SCOPES if s in span), None)
    same = {frozenset(("全国", "国内")), frozenset(("全省", "省内")), frozenset(("全球", "世界"))}
    return stated is not None and stated != scope and frozenset((stated, scope)) not in same


# The same sentences and passages are checked again and again while one question is read
# (every candidate, every part, the untyped order): their folded forms are kept.
_folded = lru_cache(maxsize=4096)(fold)


def satisfies(q: Question, sentence: Sentence) -> bool:
    """The sentence (within its passage) is about what the question constrains."""
    text = _folded(sentence.text)
    context = _folded(sentence.context or sentence.text)
    if q.years and not _year_ok(q.years, text, context, _published(sentence.meta)):
        return False
    if _of_province(q) and _LOCAL_SCOPE.search(text) and not _PROVINCE_SCOPE.search(text):
        return False  # '浙江规上工业增加值': not the 全县 figure of a county's article
    places = [p for p in q.places if p not in _SCOPE_PLACES and not _GENERIC_ZONE.fullmatch(p)]
    where = _where(q, sentence, context) if places else ""
    stated = [_place_stated(p, where) for p in places]
    # '杭州西湖区': the district named is enough, the city it lies in goes without saying.
    if not all(stated) and not (len(places) > 1 and stated[-1]):
        return False
    if places and _names_other_place(places, sentence, text):
        return False  # '杭州全市的民宿有多少家': not 宁波全市's, in an article of both cities
    if q.roles and not any(states_role(text, r) for r in q.roles):
        return False
    if not _names_entities(q, sentence):
        return False
    stated_grades = set(grades(text))
    if q.grades and stated_grades and not set(q.grades) & stated_grades:
        return False  # '哪一年被评为国家4A级景区': not the year its 5A bid began
    if q.editions and not _edition_ok(q.editions, text, context):
        return False  # '第四届中国质量大会' is not answered by 第五届's sentence
    if q.thing and not any(w in context for w in q.thing.split("|")):
        return False  # 'What is the capital of Australia?': a passage of no capital
    # Who did what: the sentence must say the 'what' ('主持' of 由谁主持), or the name it
    # gives belongs to somebody else.
    # A noun of people before the question word ('那位选手叫什么') says who is asked
    # for, not what they did: the sentence may call them 技能人才.
    deeds = [w for w in q.focus if not names_people(w)] if q.type == "person" else []
    return not (deeds and not any(_states_word(text, w) for w in deeds))


def _names_other_place(places: Sequence[str], sentence: Sentence, text: str) -> bool:
    """The sentence names none of the places asked about but another place of the same
    level (宁波 for a question of 杭州, both cities): its figure is that place's."""
    if any(_place_stated(p, match_key(text)) for p in places):
        return False
    levels = {lv for lv in map(_level, places) if lv}
    named = {sentence.text[a:b] for a, b, tag in sentence.tags if tag == "LOC"}
    return any(
        _level(n) in levels
        and not any(_proper_part(n) in p or _proper_part(p) in n for p in places)
        for n in named
    )


def _level(place: str) -> str | None:
    """市 of 杭州市 or of 杭州 (the dictionary's level for a name without its suffix)."""
    m = re.search(r"(省|市|县|区|镇|乡|村)$", place)
    return m.group(1) if m else translate.place_level(place)


def _edition_ok(asked: Sequence[str], text: str, context: str) -> bool:
    """The sentence states one of the editions asked; or it states none, and neither
    does its passage ('在这场重磅会议中…' of a passage about the 第五届 conference)."""
    stated = editions(text, "zh") or editions(context, "zh")
    return not stated or bool(set(stated) & set(asked))


_LOCAL_SCOPE = re.compile(r"全县|全市|全区|全镇|县域|该县|该市|该区")
_PROVINCE_SCOPE = re.compile(r"全省|浙江|省内")


def _of_province(q: Question) -> bool:
    """A figure question about the province as a whole ('浙江的…是多少', 'Zhejiang's …')."""
    if q.type not in ("number", "percent", "rank"):
        return False
    named = {"浙江", "浙江省", "全省"} & set(q.places)
    if q.lang == "en":
        named = {"浙江"} if re.search(r"\bZhejiang(?:'s)?\b(?! University)", q.text) else set()
    return bool(named) and not (set(q.places) - {"浙江", "浙江省", "全省"})


def _names_entities(q: Question, sentence: Sentence) -> bool:
    """The sentence's article names every person, organisation and work the question
    names: a figure of another firm's project is no answer about 桐昆集团's."""
    if not q.entities:
        return True
    article = sentence.article.key if sentence.article else match_key(sentence.context)
    whole = q.lang == "en"  # dictionary forms of an English name: stated whole
    return all(_entity_stated(e, article, whole) for e in q.entities if len(e) >= 2)


def _entity_stated(entity: str, article: str, whole: bool = False) -> bool:
    """A person, organisation or work the question names is named by the article (its
    match_key): whole, or each of its words (新昌农业农村局 by 新昌县农业农村局)."""
    if whole:  # the Chinese forms of an English question's name: any of them, whole
        # (傲慢与偏见 is not 傲慢 on one page and 偏见 on another)
        return any(match_key(form) in article for form in entity.split("|"))
    key = match_key(entity)
    if key in article:
        return True
    words = [w for w in tokenize(entity) if len(w) >= 2]
    if words and all(w in article for w in words):
        return True
    return _abbreviates(key, article)


def _abbreviates(short: str, article: str) -> bool:
    """A Chinese short form of a name the article spells out, its characters in order
    within one run of Chinese text: 中国信通院 of 中国信息通信研究院, 省经信厅 of
    省经济和信息化厅."""
    if not (3 <= len(short) <= 8) or not all("\u4e00" <= ch <= "\u9fff" for ch in short):
        return False
    pattern = "[\u4e00-\u9fff]{0,3}".join(re.escape(ch) for ch in short)
    return any(m.end() - m.start() <= 3 * len(short) for m in re.finditer(pattern, article))


def _where(q: Question, sentence: Sentence, context: str) -> str:
    """Where a place the question names must be stated. A Chinese question's place (LAC
    finds it in the question's own words) is enough in the sentence's article: the
    dateline or the lead names the city once (本报湖州9月4日电), and the passage says 全市.
    An English question's places are dictionary renderings of its words, looser: they
    must be in the passage or the title (article-wide, dev refusal recall fell 50 -> 43)."""
    if sentence.article is None:
        return match_key(context + sentence.title)
    if q.lang == "zh":
        return sentence.article.key
    # The article's lead as well: its dateline and first lines name the place once.
    return match_key(context + sentence.title) + sentence.article.key[:_LEAD]


_LEAD = 200  # characters of an article (title, byline, dateline, first lines)


def _place_stated(place: str, text: str) -> bool:
    """The place is in the text, by its proper name (长兴 of 长兴县), or piece by piece:
    LAC reads 海盐新街社区 as one place, the article says 海盐县望海街道新街社区; each
    piece of 嘉善开发区鑫达科创园 (嘉善, 开发区, 鑫达科创园) is stated or a kind of zone."""
    place = match_key(place)
    if (_proper_part(place) or place) in text:
        return True
    pieces, i = 0, 0
    while i < len(place):
        for j in range(len(place), i + 1, -1):
            piece = place[i:j]
            proper = _proper_part(piece)
            if _GENERIC_ZONE.fullmatch(piece) or (len(proper) >= 2 and proper in text):
                break
        else:
            return False
        pieces, i = pieces + 1, j
    return pieces >= 2


# Generic area words LAC may tag as part of a place ('嘉善乡镇街道': 嘉善's townships).
_GENERIC_AREA = re.compile(r"(?:乡镇|街道|镇街|各地|地区|一带|全域|城区|农村|山区|沿海|境内)+$")


def _proper_part(place: str) -> str:
    """The place's proper name: without its level (长兴县 -> 长兴) or the generic area
    words after it (嘉善乡镇街道 -> 嘉善)."""
    stripped = _GENERIC_AREA.sub("", place)
    return _PLACE_SUFFIX.sub("", stripped if len(stripped) >= 2 else place)


def is_question(text: str) -> bool:
    return text.rstrip("”’」』\"' ").endswith(("？", "?"))


def _states_word(text: str, word: str) -> bool:
    """The word, or one of its two-character parts ('投资' of '总投资'), is in the text."""
    word = fold(word)
    if word in text:
        return True
    return len(word) >= 3 and any(word[i : i + 2] in text for i in range(len(word) - 1))


def _year_ok(
    years: Sequence[str], sentence: str, context: str, published: int | None = None
) -> bool:
    stated = set(_YEAR.findall(sentence))
    if stated:
        return bool(stated & set(years))
    relative = set(_RELATIVE_YEAR.findall(sentence))
    if relative:
        # '今年' of a 2023 issue is 2023, '去年' 2022; in an article of unknown year, or
        # with '当年'/'同期' (of which year?), it cannot tell: do not refuse.
        offsets = {_YEAR_OFFSET.get(word) for word in relative}
        if published is None or None in offsets:
            return True
        return any(str(published + off) in years for off in offsets if off is not None)
    around = set(_YEAR.findall(context))
    if around:
        return bool(around & set(years))
    # A passage that names no year speaks of the year it was published in, or the one
    # before (a 2024 issue's figures of 2023): not of 2016.
    return published is None or any(published - 1 <= int(y) <= published for y in years)


def _published(meta: ArticleMeta) -> int | None:
    """The year the article was published, where its issue line or date states one."""
    m = _YEAR.search(f"{meta.issue or ''} {meta.date or ''}")
    return int(m.group(1)) if m else None


# Measure words that count anything (个, 项目 154项, 问题 17件): they never tell what is counted.
_GENERIC_MEASURES = frozenset("个项种类件批次份")
_MEASURE = re.compile(rf"({UNITS})(?:以上|左右|余)?$")


def _counts_thing(q: Question, span: Span) -> bool:
    """'How many parcels does each vehicle deliver?': a figure counted with a measure word
    that the dictionary counts other things with (5辆: vehicles; 122家: businesses, not
    beds) does not answer. Unknown or generic measure words and people pass."""
    if q.lang != "en" or q.type != "number" or not q.thing:
        return True
    m = _MEASURE.search(fold(span.text))
    word = m.group(1) if m else ""
    if not word or word in _GENERIC_MEASURES or not translate.is_classifier(word):
        return True
    forms = q.thing.split("|")
    if word in forms or any(names_people(f) for f in forms):
        return True
    counted = {c for f in forms for c in translate.classifiers(f)}
    return not counted or word in counted


def _given(span: Span, q: Question) -> bool:
    """The question already contains the span: it is not what is asked for."""
    key = match_key(span.text)
    if q.lang == "zh":
        asked = match_key(q.text)
        return (
            key in asked
            or (span.type == "place" and _PLACE_SUFFIX.sub("", key) in asked)
            or (span.type == "title" and _mostly_in(key, asked))
        )
    if span.type in ("place", "person"):
        return english.romanised(_PLACE_SUFFIX.sub("", span.text) or span.text) in re.sub(
            r"[^a-z]", "", q.text.lower()
        )
    if span.type == "date":
        return any(y in span.text for y in q.years) and not re.search(r"月", span.text)
    if span.type in ("org", "title"):
        # 'the Zhejiang Craftsman College … with which institution?': 浙江工匠学院 is
        # 浙江 + 工匠 + 学院, the question's own words.
        return _spelt_with(
            key, {match_key(w) for w in q.keywords if len(w) >= 2}
        ) or _translates_question(span.text, q)
    return False


def _translates_question(name: str, q: Question) -> bool:
    """A Chinese name that is the English question's own name in translation: of its words
    (two characters or more) at most one is not glossed by, or spelt in pinyin by, a word
    of the question, and at least two are ('the Ningbo Homestay Economy Promotion
    Association': 宁波市 民宿 经济 促进会). The noun the question word opens ('which
    travel agency') does not count: that kind is what is asked for."""
    head, _ = translate.asked_kind(q.text)
    question = re.sub(rf"\b{re.escape(head)}\w*", " ", q.text, flags=re.I) if head else q.text
    parts = [w.rstrip("省市县区") or w for w in cut_words(name) if len(w) >= 2]
    known = sum(translate.glosses_question(w, question) for w in parts)
    return known >= 2 and len(parts) - known <= 1


def _mostly_in(key: str, asked: str) -> bool:
    """Two thirds of a title, in one run, is the question's own (《理可顿悟 事须渐修》 of
    “理可顿悟,事须渐修,应次第尽”)."""
    key, asked = _WORDS_ONLY.sub("", key), _WORDS_ONLY.sub("", asked)
    need = max(6, -(-2 * len(key) // 3))
    return len(key) >= need and any(key[i : i + need] in asked for i in range(len(key) - need + 1))


def _spelt_with(key: str, words: set[str]) -> bool:
    """`key` is a run of `words`, end to end."""
    reach = [True] + [False] * len(key)
    for i in range(len(key)):
        if reach[i]:
            for w in words:
                if key.startswith(w, i):
                    reach[i + len(w)] = True
    return bool(key) and reach[-1]


def _near_role(text: str, span: Span, roles: Sequence[str]) -> bool:
    window = text[max(0, span.start - 12) : span.end + 4]
    return any(states_role(window, r) for r in roles)


def states_role(text: str, role: str) -> bool:
    """The text names the role itself, not its deputy: a 副总经理 is no 总经理, and a
    常务副主任 no 主任 (the question asking for 副… names it so)."""
    return any(
        text[max(0, m.start() - 1) : m.start()] != "副" for m in re.finditer(re.escape(role), text)
    )


def _nearest(spans: Sequence[Span], q: Question, text: str) -> tuple[Span, int]:
    """The span closest to where the question's words occur in the sentence."""
    folded = fold(text)
    found = {fold(word): _positions(fold(word), folded) for word in _anchor_words(q)}
    anchors = [at for places in found.values() for at in places]
    if not anchors:
        return spans[0], 0

    def words_in_clause(sp: Span) -> int:
        # '宁波全市登记在册的民宿超过1700家,…,浙江省等级民宿122家': the figure whose own
        # clause holds more of the question's words, before the one a word merely touches.
        left, right = attribute.clause_of(text, sp.start, sp.end)
        return sum(any(left <= a < right for a in places) for places in found.values())

    scored = [
        (-words_in_clause(sp), min(abs(sp.start - a) for a in anchors), i, sp)
        for i, sp in enumerate(spans)
    ]
    _, distance, _, span = min(scored)
    return span, distance


def _positions(word: str, text: str) -> list[int]:
    """Where `word` occurs in `text` (a plain search: a regular expression per word
    overflowed re's cache and cost 1.5 ms a question in compiling)."""
    out: list[int] = []
    at = text.find(word) if word else -1
    while at >= 0:
        out.append(at)
        at = text.find(word, at + 1)
    return out


def _respective(spans: Sequence[Span], q: Question, text: str) -> Span | None:
    """'南湖旅游文化集聚区、南湖CBD分别斩获…第一名、第二名': the span in the position of
    the one subject the question names (南湖CBD -> 第二名), when the counts agree."""
    m = re.search(r"分别", text)
    if m is None:
        return None
    clause_start = max(text.rfind(p, 0, m.start()) for p in ",，;；:：。") + 1
    subjects = [x for x in re.split(r"[、和及与]", text[clause_start : m.start()]) if x.strip()]
    after = [sp for sp in spans if sp.start >= m.end()]
    asked = fold(q.text)
    letters = re.sub(r"[^a-z]", "", asked) if q.lang == "en" else ""

    def names(subject: str) -> bool:  # 南湖CBD, or 'Nanhu CBD' in an English question
        if q.lang != "en":
            return fold(subject) in asked
        spelt = english.romanised(subject)
        return len(spelt) >= 4 and spelt in letters

    named = [i for i, x in enumerate(subjects) if names(x.strip())]
    if len(subjects) < 2 or len(after) != len(subjects) or len(named) != 1:
        return None
    return after[named[0]]


def _local_keywords(q: Question, sentence: Sentence, span: Span) -> int:
    """How many of an English question's Chinese keywords (rag.translate), places aside,
    the span's own list item or clause states (at most 2): English questions name no
    attribute, this is the nearest thing to one ('output value' -> 产值 by '2000亿元')."""
    text = sentence.text
    a, b = attribute.item_of(text, span.start, span.end)
    if (a, b) == (span.start, span.end) or b - a <= len(span.text) + 1:
        a, b = attribute.clause_of(text, span.start, span.end)
    local = fold(text[a:b])
    places = {fold(p) for p in q.places}
    hits = {k for k in q.keywords if len(k) >= 2 and fold(k) not in places and fold(k) in local}
    return min(2, len(hits))


def _placed_keyword(q: Question, sentence: Sentence, span: Span) -> bool:
    """An English question names a place the passage states (satisfies checked it) and
    the span's own clause states one of its other keywords: bound as firmly as a Chinese
    question's attribute ('1477家' of 「2023年，金华市新增外资经营主体1477家」)."""
    return bool(q.places) and _local_keywords(q, sentence, span) >= 1


def _anchor_words(q: Question) -> list[str]:
    """The question's content words, where the answer should sit near."""
    if q.lang != "zh":
        return list(q.keywords)
    return _content_tokens(q.text)


def _content_tokens(text: str) -> list[str]:
    return [w for w in tokenize(text) if len(w) >= 2 and not _QWORD.fullmatch(w)]


_QWORD = re.compile(
    r"多少|哪些|哪个|哪家|哪位|什么|怎样|怎么|如何|为什么|为何|几个|哪里|是否|哪一|一共|总共|分别"
)


# -- checking claims (LLM mode) ---------------------------------------------------------

_CLAIM_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def quantities(text: str) -> set[float]:
    """Every number the text states, also scaled by its 万/亿/million/billion."""
    folded = fold(text)
    out: set[float] = set()
    scale_zh = {"万亿": 1e12, "亿": 1e8, "万": 1e4, "千": 1e3}
    scale_en = {"trillion": 1e12, "billion": 1e9, "million": 1e6, "thousand": 1e3}
    for m in _CLAIM_NUMBER.finditer(folded):
        value = (
            float(m.group().replace(",", ""))
            if m.group().replace(",", "").replace(".", "", 1).isdigit()
            else None
        )
        if value is None:
            continue
        out.add(round(value, 6))
        after = folded[m.end() : m.end() + 10].lstrip()
        for word, factor in (*scale_zh.items(), *scale_en.items()):
            if after.startswith(word):
                out.add(round(value * factor, 6))
                break
    return out


def claim_supported(claim: str, quote: str) -> bool:
    """Every figure and year the claim states is stated by the quote (scaled forms agree:
    '361,000 people' and '36.1万人'), and every place a Chinese claim names is in it."""
    stated = quantities(quote)
    if not all(v in stated for v in quantities(claim)):
        return False
    if detect_lang(claim) != "zh":
        return True
    from rag import tagger

    places = {claim[a:b] for a, b, t in tagger.tag(claim) if t == "LOC"} - _SCOPE_PLACES
    quote_key = fold(quote)
    return all((_PLACE_SUFFIX.sub("", p) or p) in quote_key for p in places)


# -- questions about the publication itself ----------------------------------------------


@dataclass(frozen=True)
class MetaFact:
    """A fact of the masthead, issue line or byline, located in the original text."""

    short: str
    source: str
    start: int  # of the line stating it, in the original text
    end: int
    english: str | None = None  # the fact in English, for an English question


def read_meta(
    q: Question, sentences: Sequence[Sentence], documents: Callable[[str], str]
) -> MetaFact | None:
    """Which issue / publication / writer: from the article metadata ingest extracted,
    cited to the line of the original text that states it."""
    if q.unmatched:
        return None
    if q.meta in ("editor", "photo"):
        return _read_credit(q, sentences, documents)
    if q.meta not in ("issue", "publication", "byline"):
        return None
    for s in sentences:
        value = getattr(s.meta, q.meta)
        if not value or not _names_entities(q, s):
            continue  # 'Who wrote Romeo and Juliet?': no article names 罗密欧
        if q.thing and not any(w in fold(s.context or s.text) for w in q.thing.split("|")):
            continue  # 'Who wrote the novel Pride and Prejudice?': a passage of no novel
        found = _locate(documents(s.source), value)
        if found is None:
            continue
        start, end = found
        short = _meta_short(q, value)
        english = _credit_english(q, short) if q.meta == "byline" else None
        return MetaFact(short, s.source, start, end, english)
    return None


# The masthead's credit lines ('社长 郑文纲', '封面设计: 赵磊'): the label the question asks
# for, by its words; the 责任编辑 line when it names no other.
_MASTHEAD_LABELS = (
    (re.compile(r"封面|\bcover\b", re.I), "封面设计"),
    (re.compile(r"版面|排版|\blayout\b", re.I), "版面设计"),
    (re.compile(r"副社长|deputy publisher|vice[- ]president", re.I), "副社长"),
    (re.compile(r"社长|\bpublisher\b|\bpresident\b", re.I), "社长"),
    (re.compile(r"副总编|deputy (?:editor[- ]in[- ]chief|chief editor)", re.I), "副总编辑?"),
    (re.compile(r"总编|主编|editor[- ]in[- ]chief|chief editor", re.I), "总编辑?|主编"),
    (re.compile(r"美术编辑|美编|art editor", re.I), "美术编辑|美编"),
)
_EDITOR_LABEL = "责任编辑|责编|编辑(?=[ \t\u3000:：])"


def _credit_line(label: str) -> re.Pattern[str]:
    return re.compile(rf"^[ \t\u3000]*(?:{label})[ \t\u3000:：]*(\S[^\n]{{0,40}})$", re.M)


# A caption's credit: 「…现场 秀洲区王江泾镇人民政府供图」, 「…(越城区农业农村和水利局提供)」,
# 「温州永嘉楠溪江 徐永义 摄」.
_CAPTION = re.compile(
    r"^[ \t\u3000]*(\S[^\n]{1,80}?)(?:[ \t\u3000]+(\S{2,30}?)供图"
    r"|[(（]([^()（）\n]{2,30}?)(?:提供|供图)[)）]"
    r"|[ \t\u3000]+((?:[\u4e00-\u9fff·]{2,4}[ \t\u3000]*){1,3})摄)[ \t\u3000]*$",
    re.M,
)


def _read_credit(
    q: Question, sentences: Sequence[Sentence], documents: Callable[[str], str]
) -> MetaFact | None:
    """The editors or other staff of the issue, or who provided the photo the question
    describes: from the masthead's credit line of the role asked (责任编辑, 社长, 封面设计),
    or the credit of the caption sharing most words with the question, in the files the
    retrieved sentences come from."""
    sources = list(dict.fromkeys(s.source for s in sentences))
    if q.meta == "editor":
        label = next((lb for cue, lb in _MASTHEAD_LABELS if cue.search(q.text)), _EDITOR_LABEL)
        line = _credit_line(label)
        for source in sources:
            m = line.search(documents(source))
            if m:
                editors = " ".join(m.group(1).split())
                line_start = m.start() + len(m.group()) - len(m.group().lstrip())
                return MetaFact(editors, source, line_start, m.end(), _credit_english(q, editors))
        return None
    words = _anchor_words(q) if q.lang == "zh" else list(q.keywords)
    words = [w for w in words if not re.search(r"图|照|摄|拍|提供", w)]
    # English: the question's capitalised names, against the caption in pinyin.
    names = [w.lower() for w in re.findall(r"\b[A-Z][a-z]{2,}\b", q.text)] if q.lang == "en" else []
    best: tuple[int, str, re.Match[str]] | None = None
    for source in sources:
        for m in _CAPTION.finditer(documents(source)):
            caption = fold(m.group(1))
            overlap = sum(len(w) for w in words if fold(w) in caption)
            if names:
                spelled = english.romanised(m.group(1))
                overlap += sum(len(n) // 3 for n in names if n in spelled)
            if overlap and (best is None or overlap > best[0]):
                best = (overlap, source, m)
    if best is None:
        return None
    _, source, m = best
    credit = " ".join(next(g for g in m.groups()[1:] if g).split())
    line_start = m.start() + len(m.group()) - len(m.group().lstrip())
    return MetaFact(credit, source, line_start, m.end(), _credit_english(q, credit))


def _credit_english(q: Question, credit: str) -> str | None:
    """Names of people in pinyin for an English question ('Yuan Wei, Yang Chen')."""
    if q.lang != "en" or not all(re.fullmatch(r"[\u4e00-\u9fff·]{2,4}", n) for n in credit.split()):
        return None
    spelled = [english.romanise_person(n) for n in credit.split()]
    return ", ".join(s for s in spelled if s) or None


def _meta_short(q: Question, value: str) -> str:
    if q.meta == "issue":
        total = re.search(r"总第\s*\d+\s*期", value)
        first = re.search(r"第\s*\d+\s*期", value)
        if total and (
            "总" in q.text or "cumulative" in q.text.lower() or "overall" in q.text.lower()
        ):
            return re.sub(r"\s", "", total.group())
        if first:
            return re.sub(r"\s", "", first.group())
    if q.meta == "byline":
        return _credited(q, value)
    return value


_REPORTERS = frozenset({"记者", "本报记者", "本刊记者", "特约记者"})
# English for the byline labels a question may ask for, most specific first.
_EN_LABELS = (
    (re.compile(r"\b(?:trainee|intern|junior) (?:reporter|journalist)s?\b", re.I), "见习记者"),
    (re.compile(r"\bcorrespondents?\b", re.I), "通讯员"),
    (re.compile(r"\b(?:reporter|journalist)s?\b", re.I), "记者"),
)


def _credited(q: Question, byline: str) -> str:
    """The writers a byline names, without role words, job titles or network labels;
    only those of the role the question asks for when it asks for one (见习记者 of
    「见习记者 高心同 记者 于山 通讯员 丁少华」 is 高心同)."""
    people = bylines.credits(byline)
    if not people:
        return byline
    if q.lang == "zh":
        labels = [r for r in (*bylines.ROLE_WORDS, bylines.ALLIANCE) if r in q.text]
        asked = max(labels, key=len, default="")
    else:
        asked = next((zh for pattern, zh in _EN_LABELS if pattern.search(q.text)), "")

    def of_asked(label: str) -> bool:
        return label == asked or (asked in _REPORTERS and label in _REPORTERS)

    chosen = [name for label, name in people if asked and of_asked(label)]
    return " ".join(chosen or [name for _, name in people])


def _locate(text: str, value: str) -> tuple[int, int] | None:
    """The line of `text` that states `value` (whitespace may differ)."""
    pattern = r"\s*".join(re.escape(ch) for ch in re.sub(r"\s", "", value))
    m = re.search(pattern, text)
    if not m:
        return None
    start = text.rfind("\n", 0, m.start()) + 1
    end = text.find("\n", m.end())
    end = len(text) if end < 0 else end
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
