"""Typed spans of a sentence: the amounts, dates, ranks, places, people, organisations
and titles it states, each a candidate answer of that type.

Two sources, merged: LAC's words and entity tags for the sentence (stored at ingest,
see `rag.tagger`) and patterns for what a tagger does not type by itself (a number
with its unit and magnitude '2.94万亿元', a percentage, a rank '居全省第三', a quoted
title “生态文明冠军鼎”). Offsets are into the sentence's display text, so a span is
always a verbatim substring of the quote that cites it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.question import AnswerType
from rag.tagger import Token
from rag.text import ADMIN_LEVEL, fold

_CN_DIGITS = "零〇一二两三四五六七八九十百千"
_NUM = rf"(?:\d+(?:[.,]\d+)*|[{_CN_DIGITS}]+(?:点[{_CN_DIGITS}]+)?)"
_MAG = r"(?:[十百千]?[万亿]|万亿|千万|百万|十万|千|百)?"
UNITS = (
    "万亿元|亿元|万元|千元|元|美元|人民币|人次|万人|人|名|位|个工作日|工作日|个月|个|家|项|件|卷|亩|公顷|吨|次|平方公里|平方米|"
    "公里|千米|米|天|年|倍|户|所|座|条|台|期|块|辆|艘|本|种|批|场|处|轮|届|株|棵|只|头|套|间|栋|张|部|篇|"
    "首|支|箱|千瓦时|千瓦|兆瓦|瓦|度|立方米|标箱|单|笔|元/人|小时|分钟|秒|岁|月|周|强|城|县|省|市|大"
)
# A rate's unit is one with its 'per' (200立方米/秒, 3000元/吨).
_PER = r"(?:/(?:秒|分钟|小时|天|日|月|年|人|户|吨|亩|公斤|千克|平方米|千瓦时|度|次|辆|台|件|个))?"
_ONE_AMOUNT = rf"(?:约|近|超|逾)?{_NUM}\s*{_MAG}\s*(?:余|多)?\s*(?:{UNITS}){_PER}(?:以上|左右|余)?"
# A range is one answer: '3个月至12个月', '3至5年' (the first unit may be left out).
_AMOUNT = re.compile(
    rf"{_ONE_AMOUNT}(?:\s*(?:至|到|—|-|~)\s*{_ONE_AMOUNT})?|{_NUM}\s*(?:至|到|—|~)\s*{_ONE_AMOUNT}"
)
# A ratio is an amount: 城乡居民收入比1.53:1 (one side is 1, so no clock time '9:30').
_RATIO = re.compile(r"\d+(?:\.\d+)?\s*[:∶]\s*1(?![\d.])|(?<![\d.])1\s*[:∶]\s*\d+(?:\.\d+)?")
_PERCENT = re.compile(rf"(?:百分之{_NUM}|\d+(?:\.\d+)?\s*(?:%|％|个百分点)|[{_CN_DIGITS}]+成)")
_YEAR_DATE = re.compile(
    r"(?:(?:19|20)\d{2}年(?:\d{1,2}月(?:\d{1,2}日)?)?|\d{1,2}月\d{1,2}日|(?:19|20)\d{2}[-/.]\d{1,2}(?:[-/.]\d{1,2})?"
    r"|\d{1,2}月(?:上旬|中旬|下旬|底|初|份)?|(?:19|20)\d{2}年(?:上半年|下半年|底|初|末))"
)
_RANK = re.compile(
    rf"(?:(?:全国|全省|全市|全球|世界|全区|全县|全国同类|省内|国内|全行业)[^\s，,。；]{{0,6}}?)?"
    rf"(?:第{_NUM}(?:位|名|个|家|强)?|前{_NUM}(?:位|名|强)?|首位|榜首|第一梯队|首个|首家|冠军|亚军|季军)"
)
_TITLE = re.compile(
    r"“([^”‘]{2,40})”|《([^》]{2,40})》|「([^」]{2,40})」|\"([^\"]{2,40})\"|‘([^’]{2,40})’"
)
_NAME = re.compile(r"[\u4e00-\u9fff]{2,4}|[\u4e00-\u9fff]{1,6}·[\u4e00-\u9fff]{1,8}")
_ORG = re.compile(r"[\u4e00-\u9fffA-Za-z]{2}")
_ORG_SUFFIX = re.compile(
    r"[\u4e00-\u9fffA-Za-z0-9（）()]{2,24}?(?:股份有限公司|有限公司|有限责任公司|公司|集团|银行|大学|学院|研究院|"
    r"研究所|研究中心|协会|商会|联合会|委员会|医院|学校|中学|小学|厅|局|办公室|基金会|合作社|实验室)"
)
# A person named in a byline ('记者 叶诗蕾') is the writer, not a person of the story.
_BYLINE_BEFORE = re.compile(r"(?:记者|通讯员|摄影|编辑|撰稿|作者|摄|文|图)[\s:：/]*$")
# Not amounts: a year, a day, a percentage, an ordinal ('第一版', '第15位': ranks).
# Nor are set phrases of 一 and a measure word: 一系列标准, 一场革新, 一张清单.
_NOT_AMOUNT = re.compile(
    r"^(?:19|20)\d{2}年$|^(?:19|20)\d{2}年?\s*(?:至|到|—|-|~)|\d\s*[月日号]$|%|％|百分|^[—\-~]|^第|^一(?:系列|[^\d万亿千百十])$"
)


@dataclass(frozen=True)
class Span:
    type: AnswerType
    start: int
    end: int
    text: str
    byline: bool = False  # a person of a byline or photo credit


def typed_spans(text: str, tokens: Sequence[Token], want: AnswerType) -> list[Span]:
    """Spans of type `want` in `text` (a sentence), in reading order, without overlaps."""
    folded = fold(text)
    found: list[tuple[int, int]] = []
    if want == "number":
        found += _matches(_AMOUNT, folded) + _matches(_RATIO, folded)
        found += [(a, b) for a, b, t in tokens if t == "m" and _is_amount(folded[a:b])]
        # Dates and percentages are types of their own: '1—4月' or '8.4%' is no amount.
        found = [(a, b) for a, b in found if not _NOT_AMOUNT.search(folded[a:b])]
    elif want == "percent":
        found += _matches(_PERCENT, folded)
    elif want == "date":
        found += _matches(_YEAR_DATE, folded)
        found += [(a, b) for a, b, t in tokens if t in ("TIME", "t") and _is_date(folded[a:b])]
    elif want == "rank":
        found += _matches(_RANK, folded)
    elif want == "place":
        found += [(a, b) for a, b, t in tokens if t == "LOC" and len(folded[a:b]) >= 2]
        # LAC tags a county standing before an office as an organisation ('嵊泗县' of
        # 嵊泗县公共法律服务中心): a short ORG ending in an administrative level is a place.
        found += [
            (a, b)
            for a, b, t in tokens
            if t == "ORG" and _ADMIN_PLACE.fullmatch(folded[a:b]) and _plausible_place(folded[a:b])
        ]
    elif want == "person":
        found += [(a, b) for a, b, t in tokens if t == "PER" and _NAME.fullmatch(folded[a:b])]
    elif want == "org":
        found += [(a, b) for a, b, t in tokens if t == "ORG" and _ORG.match(folded[a:b])]
        if not found:
            found += _matches(_ORG_SUFFIX, folded)
    elif want == "title":
        for m in _TITLE.finditer(folded):
            group = next(g for g in range(1, 6) if m.group(g))
            found.append((m.start(group), m.end(group)))
        found += [(a, b) for a, b, t in tokens if t == "nw"]
    spans = [
        Span(want, a, b, text[a:b], byline=want == "person" and _in_byline(folded, a))
        for a, b in _longest_first(found)
    ]
    return sorted(spans, key=lambda s: s.start)


def _matches(pattern: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in pattern.finditer(text) if m.end() > m.start()]


def _longest_first(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Drop spans inside a longer one ('2.94万亿元' wins over '2.94万')."""
    kept: list[tuple[int, int]] = []
    for a, b in sorted(set(spans), key=lambda s: (-(s[1] - s[0]), s[0])):
        if not any(a < kb and ka < b for ka, kb in kept):
            kept.append((a, b))
    return kept


def _has_digit(text: str) -> bool:
    return any(ch.isdigit() or ch in _CN_DIGITS for ch in text) and len(text) > 1


_CN_AMOUNT = re.compile(rf"[{_CN_DIGITS}]+{_MAG}(?:余|多)?(?:{UNITS})?")


def _is_amount(text: str) -> bool:
    """A numeral word of LAC's: with a digit, or Chinese numerals with at most a unit
    ('三门' of 三门县 is a place, '一系列' a set phrase)."""
    if any(ch.isdigit() for ch in text):
        return len(text) > 1
    return _has_digit(text) and bool(_CN_AMOUNT.fullmatch(text))


def _is_date(text: str) -> bool:
    return (
        bool(re.search(r"\d", text))
        and bool(re.search(r"[年月日]|\d{4}", text))
        and not re.fullmatch(r"\d{1,2}年", text)
    )


_ADMIN_PLACE = re.compile(r"[\u4e00-\u9fff]{1,5}" + ADMIN_LEVEL)


def _plausible_place(text: str) -> bool:
    # '全市' '该县' '本区' name no place; nor do generic words ending in 区 like '景区'.
    return len(text) >= 2 and not re.match(
        r"^(?:全|该|本|各|我|两|多|景|园|城|社|小|新|老|山|库|片)", text
    )


_CREDIT_OPEN = re.compile(r"[(（]\s*(?:本报|本刊)?(?:见习)?(?:记者|通讯员|摄影|撰稿|作者|编辑)")


def _in_byline(folded: str, start: int) -> bool:
    """Right after 记者/通讯员…, or inside a '(记者 … )' credit group of a dateline."""
    if _BYLINE_BEFORE.search(folded[max(0, start - 6) : start]):
        return True
    window = folded[max(0, start - 40) : start]
    opened = max(window.rfind("("), window.rfind("（"))
    if opened < 0 or ")" in window[opened:] or "）" in window[opened:]:
        return False
    return bool(_CREDIT_OPEN.match(window[opened:]))
