"""Chinese-first text utilities: width folding, sentence spans, keyword tokens, language.

Offsets are always into the text passed in; nothing here changes a string's length
unless its name says so (`squeeze` removes whitespace).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import cache, lru_cache
from typing import Literal

Lang = Literal["zh", "en"]

# Sentence-final marks. Closing quotes/brackets right after them belong to the sentence.
_ZH_END = "。！？；…!?;"
_CLOSERS = "”’」』》）)]】\"'"
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")
_WS = re.compile(r"\s+")


def fold_char(ch: str) -> str:
    """Full-width -> half-width and lower case, one character to one character."""
    code = ord(ch)
    if code == 0x3000:
        return " "
    if 0xFF01 <= code <= 0xFF5E:
        return chr(code - 0xFEE0).lower()
    return ch.lower() if len(ch.lower()) == 1 else ch


# Full-width forms and the ideographic space, mapped as `fold_char` does, for str.translate.
_FOLD_TABLE = {0x3000: " ", **{c: chr(c - 0xFEE0).lower() for c in range(0xFF01, 0xFF5F)}}


def fold(text: str) -> str:
    """Length-preserving normalisation for matching (offsets stay valid)."""
    out = text.translate(_FOLD_TABLE).lower()
    if len(out) == len(text):
        return out
    return "".join(fold_char(c) for c in text)  # a letter whose lower case is longer ('İ')


def squeeze(text: str) -> str:
    """Drop all whitespace: the form in which chunk text and original spans are compared."""
    return _WS.sub("", text)


def match_key(text: str) -> str:
    """Whitespace-free, width-folded form used to compare quotes, evidence and answers."""
    return squeeze(unicodedata.normalize("NFKC", text)).lower()


def is_cjk(ch: str) -> bool:
    return bool(_CJK.match(ch))


def detect_lang(text: str) -> Lang:
    """'zh' when the text holds Chinese characters in any real quantity, else 'en'."""
    cjk = len(_CJK.findall(text))
    latin = sum(len(w) for w in _LATIN_WORD.findall(text))
    # One CJK character carries roughly as much as a three-letter word.
    return "zh" if cjk * 3 >= latin and cjk > 0 else "en"


def join_lines(text: str) -> str:
    """Remove line-break whitespace the way a reader would rejoin a PDF-wrapped line.

    Whitespace between two CJK characters (or CJK and punctuation) disappears; between
    Latin words it becomes one space. The result equals `text` once whitespace is removed.
    """
    out: list[str] = []
    for m in re.finditer(r"\S+|\s+", text):
        piece = m.group()
        if not piece.isspace():
            out.append(piece)
            continue
        before = out[-1][-1] if out else ""
        after = text[m.end()] if m.end() < len(text) else ""
        if not before or not after:
            continue  # leading/trailing whitespace
        if "\n" not in piece or not (is_cjk(before) or is_cjk(after) or _is_punct(before)):
            out.append(" ")
    return "".join(out)


def _is_punct(ch: str) -> bool:
    return unicodedata.category(ch).startswith("P") and not ch.isascii()


def _is_latin_stop(text: str, i: int) -> bool:
    """A '.', '!' or '?' at i ends a Latin sentence (not a decimal point or an abbreviation)."""
    nxt = text[i + 1] if i + 1 < len(text) else ""
    return nxt == "" or nxt.isspace() or nxt in _CLOSERS


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """Yield (start, end) of each sentence in text[start:end], trimmed of whitespace.

    Splits after 。！？；… (a run such as '……' or '？！' stays together, closing quotes
    stay with their sentence) and after Latin '.', '!', '?' followed by a space.
    Line breaks do not end sentences here: PDF text breaks lines mid-sentence, and
    paragraphs are found by the cleaner before this runs.
    """
    stop = len(text) if end is None else end
    i = start
    sent_start = start
    while i < stop:
        ch = text[i]
        boundary = ch in _ZH_END or (ch in ".!?" and _is_latin_stop(text, i))
        if boundary:
            j = i + 1
            while j < stop and (text[j] in _ZH_END or text[j] in ".!?"):
                j += 1
            while j < stop and text[j] in _CLOSERS:
                j += 1
            yield from _trimmed(text, sent_start, j)
            sent_start = i = j
            continue
        i += 1
    yield from _trimmed(text, sent_start, stop)


def _trimmed(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        yield start, end


def split_sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


_PUNCT_TOKEN = re.compile(r"^[\W_]+$")
# Function words that match everywhere and carry no topic.
_STOPWORDS = frozenset(
    "的 了 和 是 在 与 及 等 为 对 将 把 被 也 都 就 而 并 或 之 其 这 那 个 有 中 上 下 "
    "a an the of to in on for and or is are was were be by with what which who how when "
    "where why does do did from that this it its as at".split()
)


# The administrative level a Chinese place name ends in (长兴县, 柯桥区, 王江泾镇, 大唐街道).
ADMIN_LEVEL = "(?:省|市|县|区|镇|乡|村|街道)"


@cache
def _jieba():  # type: ignore[no-untyped-def]
    # jieba builds its prefix dictionary lazily and logs to stderr; keep it quiet.
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


def cut_words(text: str) -> list[str]:
    """The text's jieba words (precise mode, not overlapping as `tokenize`'s)."""
    return [w for w in _jieba().lcut(text) if w.strip()]


def person_names(text: str) -> list[tuple[int, int]]:
    """Where jieba's part-of-speech tagger sees a person's name (tag nr) in `text`."""
    import jieba.posseg

    _jieba()  # quiet dictionary loading
    out: list[tuple[int, int]] = []
    at = 0
    for word, flag in jieba.posseg.lcut(text):
        if flag == "nr":
            out.append((at, at + len(word)))
        at += len(word)
    return out


def tokenize(text: str) -> list[str]:
    """Keyword-search tokens: jieba words (search mode) plus Latin words and numbers.

    The text is width-folded and lower-cased first so '２０２３' matches '2023' and
    'ＧＤＰ' matches 'gdp'. Punctuation and a small stop-word list are dropped.
    """
    return list(_tokens(text))


@lru_cache(maxsize=1024)  # a question is tokenized by keyword search and sentence scoring
def _tokens(text: str) -> tuple[str, ...]:
    folded = fold(text)
    tokens: list[str] = []
    for tok in _jieba().lcut_for_search(folded):
        tok = tok.strip()
        if not tok or _PUNCT_TOKEN.match(tok) or tok in _STOPWORDS:
            continue
        tokens.append(tok)
    return tuple(tokens)
