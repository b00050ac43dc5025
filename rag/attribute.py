"""What a figure measures: the attribute a question asks for, and whether the clause
stating a figure is about that attribute.

Chinese news states a figure right after what it measures, in the same clause:
「总投资近7亿元」, 「年产值达2.94万亿元」, 「创新指数连续两年位列全省第五」; a count states
what it counts right after its measure word: 「66个孵化空间」. A question names the
attribute right before its question word — 「总投资是多少」, 「技术交易额有多少」,
「产值比上年增长了多少」 — and a count question what it counts after its measure word
(「多少家上市企业」). A figure whose clause measures something else (the question asks
年产值, the clause states 总投资) does not answer, however similar the rest of the
sentence is, unless the sentence or the one next to it names the asked attribute (an
article may name it once and list figures after). A clause that names no attribute
(「…,居全国第三」) takes the one of the clause before it.

Matching is soft, because questions reword the article: two words match when they share
a two-character part (「油气贸易额」 / 「贸易额」) or a character of the head that not every
measure has (「耗时」 / 「时间」, but not 「产值」 / 「生产」). CC-CEDICT synonyms were tried
and changed no answer of the gold set, for 3 s of dictionary loading: not used.
Predicates (verbs) are not matched: they are what questions reword most (投放 / 投用).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.tagger import Token
from rag.text import fold

_QUESTION_WORD = re.compile(r"多少|几|哪|谁|什么|何")
# Words between an attribute and its question word that are not themselves the attribute:
# copulas and 'reaches' (是/为/达到), scope and ranking verbs (在全国排第几), 'as of'.
_LINKS = frozenset(
    "是 为 有 共有 达 达到 约 共 一共 总共 合计 大约 占 排 排名 排在 位列 位居 居 列 "
    "截至 截止 目前 现在 如今 预计 预期 将 能 可 会 已 已经 还 又 再 到 在 了 的 比 "
    "全国 全省 全市 全球 世界 全区 全县 省内 国内 同比 上年 去年".split()
)
# Verbs of change: the attribute is what changes, before them (产值比上年增长了多少).
_CHANGE = frozenset(
    "增长 增加 提高 提升 上升 上涨 下降 降低 减少 下滑 缩短 扩大 缩小 增 降 涨 达到了".split()
)
# Characters every measure shares ('总' of 总投资 and 总产值): sharing one says nothing.
_GENERIC = frozenset("总年额量数值率度产业金费人元的全新")
_NOUN = frozenset({"n", "vn", "nz", "nw", "an", "j"})
_MODIFIER = frozenset({"TIME", "t", "ORG", "LOC"})
_SKIP = frozenset({"u", "p", "d", "ad", "w", "q", "r", "c", "m", "TIME", "f", "xc", "vd"})
_CLAUSE_END = "，,；;。！!？?：:"


def asked(text: str, tokens: Sequence[Token]) -> tuple[str, ...]:
    """The attribute words a Chinese question asks about: the noun phrase right before its
    question word ('总投资' of 总投资是多少; '产值' of 产值比上年增长了多少: what changes)
    and, for a count, the nouns after its measure word ('上市企业' of 多少家上市企业). A
    question that asks through another verb ('投放了几辆车') names only what it counts:
    verbs are what questions reword most (投放 / 投用, 还剩 / 压缩至)."""
    qi = next((i for i, (a, b, _) in enumerate(tokens) if _QUESTION_WORD.search(text[a:b])), None)
    if qi is None:
        return ()
    run: list[str] = []
    first = qi
    for i in range(qi - 1, -1, -1):
        a, b, tag = tokens[i]
        word = text[a:b]
        if tag == "w" and word in _CLAUSE_END:
            break
        if run:
            if tag in _NOUN or (tag == "a" and len(word) == 1):  # 总/a 投资/n
                run.insert(0, word)
                first = i
                continue
            break
        if word in _LINKS or word in _CHANGE or tag in _SKIP:
            continue
        if tag in _NOUN:
            run.append(word)
            first = i
            continue
        break  # an entity (LOC/ORG/PER) or another predicate ends the search
    out = ["".join(run)] if run else []
    if run and first >= 2 and text[tokens[first - 1][0] : tokens[first - 1][1]] in _AND:
        a, b, tag = tokens[first - 2]
        if tag in _NOUN:
            out.append(text[a:b])  # '乡镇和街道一共有多少个': 乡镇 as well as 街道
    counted = _counted(text, tokens, qi)
    if counted:
        out.append(counted)
    return tuple(dict.fromkeys(w for w in out if w))


_AND = frozenset(("和", "与", "及", "以及", "或", "或者", "、"))


# What an amount of money is called: the attribute's last character(s).
_MONEY = re.compile(
    r"(?:资|(?<!份)额|产值|增加值|收入|营收|利润|税收|资金|费用?|价格?|酬|薪|工资|gdp|生产总值)$"
)


def money(words: Sequence[str]) -> bool:
    """The attribute is an amount of money ('总投资', '交易额', '年产值'): its value is in 元."""
    return bool(words) and bool(_MONEY.search(fold(words[0])))


def _counted(text: str, tokens: Sequence[Token], qi: int) -> str | None:
    """'企业' of 多少家企业: the noun right after a count's measure word."""
    a, b, _ = tokens[qi]
    if not re.match(r"多少|几", text[a:b]):
        return None
    rest = list(tokens[qi + 1 : qi + 8])
    # Only a count counts: 多少家企业, 几个平台, 几辆车 ('几辆' may be one word); 多少钱 or
    # 多少水 names a unit or a substance, which the clause states in other words.
    from rag.question import names_people

    if rest and rest[0][2] == "q" and len(text[a:b]) <= 2:
        rest = rest[1:]
    elif rest and names_people(text[rest[0][0] : rest[0][1]]):
        pass  # 多少游客: people are counted, with or without 名
    elif len(text[a:b]) <= 2 and not re.fullmatch(r"几.", text[a:b]):
        return None
    words: list[str] = []
    for x, y, tag in rest:  # 上市/v 企业/n: a verb may qualify the noun it precedes
        word = text[x:y]
        if word == "的" and words:
            words = []  # 民生主题的移动联络站: what is counted is the head after 的
            continue
        # 未来/TIME 工厂/n, 移动/vn 联络/vn 站/n: modifiers of the counted noun
        if tag in _NOUN or tag in _MODIFIER or (tag in ("v", "a") and not words):
            words.append(word)
            continue
        break
    while words and not any(t in _NOUN for x, y, t in rest if text[x:y] == words[-1]):
        words.pop()
    return "".join(words) or None


def counts_same(words: Sequence[str], counted: str) -> bool:
    """A count of `counted` ('重点企业' of 50多家重点企业) counts what the question asks
    for: one contains the other, or they share a part besides a common head ('上市企业'
    and '重点企业' share only 企业: other companies)."""
    c = fold(counted)
    for word in words:
        w = fold(word)
        if w in c or c in w:
            return True
        head = w[-2:] if len(w) > 2 and c.endswith(w[-2:]) else None
        if any(w[i : i + 2] in c for i in range(len(w) - 1) if w[i : i + 2] != head):
            return True
    return False


def clause_of(text: str, start: int, end: int) -> tuple[int, int]:
    """The clause of `text` around [start, end): from the last clause break before it to
    the first one after it."""
    return _between(text, start, end, _CLAUSE_END)


def item_of(text: str, start: int, end: int) -> tuple[int, int]:
    """The item of an enumeration around [start, end): like `clause_of`, also bounded by
    the enumeration comma 、 ('未来农场33家' of 「…工厂417家、未来农场33家。」)."""
    return _between(text, start, end, _CLAUSE_END + "、")


def _between(text: str, start: int, end: int, breaks: str) -> tuple[int, int]:
    left = max(text.rfind(ch, 0, start) for ch in breaks) + 1
    rights = [i for i in (text.find(ch, end) for ch in breaks) if i >= 0]
    return left, min(rights) if rights else len(text)


def _names_own(
    text: str, tokens: Sequence[Token], item: tuple[int, int], start: int, end: int
) -> bool:
    """The item names a measured thing of its own besides the figure [start, end)."""
    return any(
        t in ("n", "vn", "nz") and item[0] <= a and b <= item[1] and not (start <= a < end)
        for a, b, t in tokens
        if text[a:b] not in _LINKS and not _GENERIC.issuperset(text[a:b])
    )


def mentions_head(words: Sequence[str], text: str) -> bool:
    """One of `words` occurs in `text` whole or by its head, the last two characters
    (工厂 of 未来工厂 in 智能工厂; 未来农场 shares only a modifier)."""
    folded = fold(text)
    return any(fold(w) in folded or fold(w)[-2:] in folded for w in words)


def stated_exactly(
    words: Sequence[str], text: str, tokens: Sequence[Token], start: int, end: int
) -> bool:
    """The figure at [start, end) is bound to one of `words` named whole: in its own
    list item or clause (未来工厂72家), or as the noun a count counts (48.5万名常住人口)."""
    if not words:
        return False
    counted = counted_after(text, tokens, end)
    if counted is not None:
        a, b = counted
        return mentions(words, text[a:b], soft=False)
    a, b = item_of(text, start, end)
    if not _names_own(text, tokens, (a, b), start, end):
        a, b = clause_of(text, start, end)
    return mentions(words, text[a:b], soft=False)


def names_attribute(text: str, tokens: Sequence[Token], start: int, end: int) -> bool:
    """[start, end) of `text` names some attribute of its own (a common noun), not only
    figures and scopes ('均居全国第一' refers back to what the clause before measured)."""
    return any(
        t in ("n", "vn", "nz", "an") and start <= a and b <= end and text[a:b] not in _LINKS
        for a, b, t in tokens
    )


def measures(
    words: Sequence[str],
    text: str,
    tokens: Sequence[Token],
    start: int,
    end: int,
    around: str,
) -> bool:
    """The figure at [start, end) of `text` (a sentence; `around`: it and its neighbours)
    can be a value of the attribute `words`: its clause names the attribute, or names no
    attribute of its own, or the attribute is named next to it (an article may name it
    once and list figures after)."""
    if not words:
        return True
    counted = counted_after(text, tokens, end)
    if counted is not None:
        # '66个孵化空间' counts 孵化空间 (and '一件事' a 事), whatever else its clause names.
        a, b = counted
        return counts_same(words, text[a:b])
    item = item_of(text, start, end)
    if item != clause_of(text, start, end) and _names_own(text, tokens, item, start, end):
        # 「未来工厂72家、智能工厂794家」: a figure of a list belongs to its own item.
        return mentions_head(words, text[item[0] : item[1]])
    left, right = clause_of(text, start, end)
    while True:
        if mentions(words, text[left:right]):
            return True
        if names_attribute(text, tokens, left, right):
            break
        if left == 0:
            return True  # the sentence names no attribute: it refers to what came before
        # '工业增加值达到2.94万亿元,居全国第三': the clause before says what ranks third.
        left = clause_of(text, left - 1, left - 1)[0]
    return mentions(words, around, soft=False)  # named there as such, not by a part


def counted_after(text: str, tokens: Sequence[Token], end: int) -> tuple[int, int] | None:
    """Where the nouns a count ending at `end` counts are ('孵化空间' of 66个孵化空间,
    '高科技项目' of 819个高科技项目), if it is directly followed by them."""
    if not re.search(_COUNT_MEASURE, text[:end]):
        return None
    after = sorted((a, b, t) for a, b, t in tokens if a >= end)
    if not after or after[0][0] != end:
        return None
    # A verb may qualify the noun it precedes (5000多名外出/v 青年/n): the run ends at a noun.
    last, noun_end = end, None
    for i, (a, b, t) in enumerate(after[:3]):
        if a != last or not (t in _NOUN or t == "a" or (i == 0 and t in ("v", "vn"))):
            break
        last = b
        if t in _NOUN or t == "a":
            noun_end = b
    return (end, noun_end) if noun_end is not None else None


_COUNT_MEASURE = r"[个家项件名位所座条台批种户辆艘本套间栋张部篇株只头处场轮届吨亩]$"


def mentions(words: Sequence[str], text: str, *, soft: bool = True) -> bool:
    """One of `words` occurs in `text`, softly: whole, by a two-character part, or by a
    character of its head that is not one every measure shares (耗时 / 时间, but not
    产值 / 生产).
    Not soft: whole words only."""
    folded = fold(text)
    for word in words:
        w = fold(word)
        if w in folded:
            return True
        if not soft:
            continue
        if len(w) >= 2 and any(w[i : i + 2] in folded for i in range(len(w) - 1)):
            return True
        head = w[-2:]  # Chinese compounds end in their head: 交易额 of 技术交易额
        if any(ch in folded for ch in head if ch not in _GENERIC and "\u4e00" <= ch <= "\u9fff"):
            return True
    return False
