"""English renderings of Chinese answer spans, for English questions.

    >>> render("2.94万亿元", "number"), render("36.1万人", "number")
    ('2.94 trillion yuan', '361,000 people')
    >>> render("第15位", "rank"), render("长兴县", "place")
    ('15th', 'Changxing County')

Numbers go through `cn2an` (Chinese numerals) and the 万/亿 magnitudes; names are
romanised with `pypinyin`. A span with no faithful rendering (an organisation's or a
programme's name) returns None: the answer then shows the Chinese original.
"""

from __future__ import annotations

import re
from functools import cache

from rag.text import fold

_MAGNITUDE = {"十": 10, "百": 100, "千": 1e3, "万": 1e4, "十万": 1e5, "百万": 1e6, "千万": 1e7,
              "亿": 1e8, "十亿": 1e9, "百亿": 1e10, "千亿": 1e11, "万亿": 1e12}  # fmt: skip
_UNIT_EN = {
    "元": "yuan", "人民币": "yuan", "美元": "US dollars", "人": "people", "名": "people",
    "人次": "person-times", "家": "", "个": "", "项": "", "件": "items", "亩": "mu",
    "公顷": "hectares", "吨": "tonnes", "次": "times", "倍": "times", "平方公里": "km²",
    "平方米": "m²", "公里": "km", "千米": "km", "米": "metres", "天": "days", "年": "years",
    "户": "households", "所": "", "座": "", "条": "", "台": "units", "辆": "vehicles",
    "艘": "ships", "种": "kinds", "批": "batches", "场": "events", "岁": "years old",
    "小时": "hours", "分钟": "minutes", "千瓦": "kW", "千瓦时": "kWh", "兆瓦": "MW",
    "标箱": "TEU", "届": "sessions", "期": "", "位": "", "处": "sites", "月": "months",
    "个月": "months", "周": "weeks", "秒": "seconds", "立方米": "m³", "公斤": "kg", "千克": "kg",
    "个工作日": "working days", "工作日": "working days", "大": "",
}  # fmt: skip
_PER_EN = {
    "秒": "second", "分钟": "minute", "小时": "hour", "天": "day", "日": "day", "月": "month",
    "年": "year", "人": "person", "户": "household", "吨": "tonne", "亩": "mu", "公斤": "kg",
    "千克": "kg", "平方米": "m²", "千瓦时": "kWh", "度": "kWh", "次": "time", "辆": "vehicle",
    "台": "unit", "件": "item", "个": "unit",
}  # fmt: skip
_PLACE_SUFFIX = (
    ("自治州", "Autonomous Prefecture"), ("开发区", "Development Zone"), ("高新区", "High-tech Zone"),
    ("新区", "New Area"), ("街道", "Subdistrict"), ("社区", "Community"), ("省", "Province"), ("市", ""),
    ("县", "County"), ("区", "District"), ("镇", "Town"), ("乡", "Township"), ("村", "Village"),
)  # fmt: skip
_PREFIX = {"约": "about ", "近": "nearly ", "超": "over ", "逾": "over ", "达": "", "共": ""}
_SUFFIX = {"以上": " or more", "左右": " or so", "余": "-odd", "多": "-odd"}
_SCOPE = {"全国": "nationwide", "全省": "in the province", "全市": "in the city",
          "全球": "worldwide", "世界": "in the world", "全区": "in the district",
          "全县": "in the county", "省内": "in the province", "国内": "in China"}  # fmt: skip
_NUM = r"(\d+(?:[.,]\d+)*|[零〇一二两三四五六七八九十百千点]+)"


@cache
def _cn2an():  # type: ignore[no-untyped-def]
    import cn2an

    return cn2an


def to_number(text: str) -> float | None:
    """'36.1' -> 36.1, '三十六' -> 36, '1,200' -> 1200; None when it is no number."""
    raw = fold(text).replace(",", "")
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        return float(_cn2an().cn2an(raw.replace("两", "二"), "smart"))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def number_words(value: float) -> str:
    """361000 -> '361,000'; 2.94e12 -> '2.94 trillion'."""
    for size, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if abs(value) >= size:
            return f"{_trim(value / size)} {word}"
    if value == int(value):
        return f"{int(value):,}"
    return _trim(value)


def _trim(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def render(text: str, kind: str) -> str | None:
    """An English rendering of a span of the given answer type, or None."""
    folded = fold(text).strip()
    if kind in ("number", "percent"):
        return _amount(folded)
    if kind == "rank":
        return _rank(folded)
    if kind == "date":
        return _date(folded)
    if kind == "place":
        return romanise_place(text)
    if kind == "person":
        return romanise_person(text)
    return None


_AMOUNT = re.compile(
    rf"^(约|近|超|逾|达|共)?{_NUM}\s*(万亿|[十百千]?[万亿]|千万|百万|十万|千|百)?\s*(余|多)?\s*(.*?)(以上|左右|余)?$"
)


def _amount(text: str) -> str | None:
    ratio = re.fullmatch(r"(\d+(?:\.\d+)?)\s*[:∶]\s*(\d+(?:\.\d+)?)", text)
    if ratio:
        return f"{ratio.group(1)}:{ratio.group(2)}"  # 1.53:1 reads the same in English
    pct = re.match(r"^(?:百分之)?([\d.零〇一二两三四五六七八九十点]+)\s*(%|％|个百分点)?$", text)
    if pct and (text.startswith("百分之") or pct.group(2)):
        value = to_number(pct.group(1))
        if value is None:
            return None
        unit = " percentage points" if pct.group(2) == "个百分点" else "%"
        return f"{_trim(value)}{unit}"
    lo_hi = re.fullmatch(r"(.+?)\s*(?:至|到|—|-|~)\s*(.+)", text)
    if lo_hi and re.match(r"\d|[零〇一二两三四五六七八九十]", lo_hi.group(2)):
        # '3个月至12个月' -> '3 to 12 months'; '3至5年' -> '3 to 5 years'
        high = _amount(lo_hi.group(2))
        tail_unit = re.sub(r"^[\d.,零〇一二两三四五六七八九十百千万亿点]+", "", lo_hi.group(2))
        low = _amount(lo_hi.group(1)) or _amount(lo_hi.group(1) + tail_unit)
        if high is None or low is None:
            return None
        high_unit = high.split(" ", 1)[1] if " " in high else ""
        if high_unit and low.endswith(" " + high_unit):
            low = low[: -len(high_unit) - 1]
        return f"{low} to {high}"
    m = _AMOUNT.match(text)
    if not m:
        return None
    prefix, number, magnitude, odd, unit, tail = m.groups()
    value = to_number(number)
    if value is None:
        return None
    value *= _MAGNITUDE.get(magnitude or "", 1)
    per = re.fullmatch(r"(.+)/(.+)", unit)
    unit_en: str | None
    if per and per.group(1) in _UNIT_EN and per.group(2) in _PER_EN:
        # '200立方米/秒' -> '200 m³ per second'
        unit_en = f"{_UNIT_EN[per.group(1)] or per.group(1)} per {_PER_EN[per.group(2)]}"
    else:
        unit_en = _UNIT_EN.get(unit, unit if unit.isascii() else None)
    if unit_en is None:
        return None
    words = number_words(value)
    out = f"{_PREFIX.get(prefix or '', '')}{words}{_SUFFIX.get(odd or tail or '', '')}"
    return f"{out} {unit_en}".strip()


def without_scope(rendering: str, question: str) -> str:
    """A rank's scope left out when the question states it: 'How does Zhejiang rank
    nationally?' is answered '3rd', not '3rd nationwide'."""
    for scope, cue in _SCOPE_CUES:
        if rendering.endswith(" " + scope) and cue.search(question):
            return rendering[: -len(scope) - 1]
    return rendering


_NATIONAL = re.compile(r"\b(?:nation(?:al(?:ly)?|wide)?|country|china)\b", re.I)
_WORLD = re.compile(r"\b(?:world\w*|global\w*|international\w*)\b", re.I)
_SCOPE_CUES = (
    ("nationwide", _NATIONAL),
    ("in China", _NATIONAL),
    ("in the province", re.compile(r"\b(?:provinc\w*|zhejiang)\b", re.I)),
    ("worldwide", _WORLD),
    ("in the world", _WORLD),
)


def _rank(text: str) -> str | None:
    scope = next((en for zh, en in _SCOPE.items() if text.startswith(zh)), "")
    m = re.search(rf"(第|前){_NUM}", text)
    if m:
        n = to_number(m.group(2))
        if n is None:
            return None
        core = ordinal(int(n)) if m.group(1) == "第" else f"top {int(n)}"
    elif "首" in text or "榜首" in text or "冠军" in text:
        core = "1st"
    else:
        return None
    return f"{core} {scope}".strip()


_MONTHS = ("January February March April May June July August September October November "
           "December").split()  # fmt: skip


_RELATIVE_YEARS = {"今年": "this year", "去年": "last year", "明年": "next year", "前年": "the year before last"}  # fmt: skip


def _date(text: str) -> str | None:
    lo_hi = re.fullmatch(r"(.+?日)\s*(?:至|到|—|-|~)\s*(.+)", text)
    if lo_hi:
        # '4月15日至10月15日' -> 'April 15 to October 15'
        low, high = _date(lo_hi.group(1)), _date(lo_hi.group(2))
        return f"{low} to {high}" if low and high else None
    relative = next((w for w in _RELATIVE_YEARS if text.startswith(w)), None)
    if relative and len(text) > len(relative):
        # '今年2月6日' -> 'February 6 this year'
        inner = _date(text[len(relative) :])
        return f"{inner} {_RELATIVE_YEARS[relative]}" if inner else None
    m = re.match(r"^(?:((?:19|20)\d{2})年)?(?:(\d{1,2})月)?(?:(\d{1,2})日)?(.*)$", text)
    if not m or not any(m.groups()[:3]):
        return None
    year, month, day, rest = m.groups()
    extra = {"上半年": "first half of ", "下半年": "second half of ", "底": "end of ", "末": "end of ",
             "初": "beginning of "}.get(rest, "")  # fmt: skip
    parts = []
    if month and 1 <= int(month) <= 12:
        parts.append(_MONTHS[int(month) - 1] + (f" {int(day)}" if day else ""))
    if year:
        parts.append(year)
    if not parts:
        return None
    return extra + (", ".join(parts) if month and day and year else " ".join(parts))


@cache
def _pinyin():  # type: ignore[no-untyped-def]
    from pypinyin import lazy_pinyin

    return lazy_pinyin


def _syllables(text: str) -> str:
    return "".join(_pinyin()(text)).replace("ü", "u").replace("v", "u")


def _spelt(text: str) -> str:
    """Pinyin as names are written: an apostrophe before a syllable that starts with a, o
    or e and follows another (磐安 -> Pan'an, not Panan; 西安 -> Xi'an)."""
    out = ""
    for syllable in _pinyin()(text):
        syllable = syllable.replace("ü", "u").replace("v", "u")
        out += ("'" if out and syllable[:1] in "aoe" else "") + syllable
    return out.capitalize()


def romanise_place(text: str) -> str | None:
    if not re.fullmatch(r"[\u4e00-\u9fff]+", text):
        return None
    for zh, en in _PLACE_SUFFIX:
        if text.endswith(zh) and len(text) > len(zh):
            return f"{_spelt(text[: -len(zh)])} {en}".strip()  # 宁波市: Ningbo, as English has it
    from rag.translate import english_name

    # Foreign places are not spelt in pinyin: 卡塔尔 is Qatar, not Kataer.
    return english_name(text) or _spelt(text)


def romanise_person(text: str) -> str | None:
    if not re.fullmatch(r"[\u4e00-\u9fff]{2,4}", text):
        return None
    surname, given = (text[:2], text[2:]) if len(text) == 4 else (text[:1], text[1:])
    return f"{_spelt(surname)} {_spelt(given)}"


def romanised(text: str) -> str:
    """Lower-case pinyin without spaces, for matching English text against Chinese names."""
    return _syllables(text).lower()
