"""Checks on the gold Q&A set (every evals/gold/*.jsonl file) against the demo corpus.

The gold set is hand-written, by several people, in several files; these tests keep it
honest: every evidence string must be copied verbatim from its source file, every key fact
and every short answer must be findable next to the evidence, no question may copy its
evidence, and the set must keep its promised size and mix (languages, kinds, answer types,
files, splits, spread over the long magazine file).

Schema (one JSON object per line): id, lang, question, answerable, answer, key_facts,
[short], source, evidence, kind, type, split, [note]. ``type`` is the expected answer type;
``short`` ("alt1|alt2|...", the first alternative a verbatim span of the source) is required
for answerable single-fact items whose type is not list/description/reason, and absent
everywhere else.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "corpus"
GOLD_DIR = ROOT / "evals" / "gold"

MAGAZINE = "001_93257fffc3be4eeb.txt"  # 今日浙江 2024年第10期, a whole magazine issue
KINDS = {"fact", "numeric", "multi", "unanswerable", "metadata"}
TYPES = {
    "number",
    "percent",
    "date",
    "rank",
    "place",
    "person",
    "org",
    "title",
    "list",
    "description",
    "reason",
}
NO_SHORT_TYPES = {"list", "description", "reason"}  # answers that are not one span
LANGS = {"zh", "en"}
SPLITS = {"dev", "test"}
FIELDS: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "lang": str,
    "question": str,
    "answerable": bool,
    "answer": str,
    "key_facts": list,
    "source": (str, type(None)),
    "evidence": list,
    "kind": str,
    "type": str,
    "split": str,
}
NEAR = 300  # a key fact / short answer must occur within this many characters of the evidence
SHORT_MAX_ZH = 30  # a Chinese short answer is the fact itself, not a sentence
MAX_KEY_FACTS = 3
MAX_KEY_FACTS_LIST = 8  # a list question has one key fact per item asked for
CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN_OR_DIGIT = re.compile(r"[A-Za-z0-9]")

# --- promised size and mix (all files together) ----------------------------------------
MIN_ANSWERABLE = 290
MIN_UNANSWERABLE = 100
MIN_NEAR_MISS = 60  # unanswerable items that name a real entity of a corpus file (source set)
MIN_UNANSWERABLE_PER_LANG = 25
MIN_METADATA = 15
MIN_PER_TYPE = 30  # answerable items of each answer type


@cache
def corpus() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*.txt"))}


@cache
def gold_files() -> tuple[Path, ...]:
    return tuple(sorted(GOLD_DIR.glob("*.jsonl")))


@cache
def raw_lines() -> tuple[tuple[str, int, str], ...]:
    """(file name, line number, line) for every non-blank line of every gold file."""
    return tuple(
        (path.name, n, line)
        for path in gold_files()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if line.strip()
    )


@cache
def items() -> tuple[dict[str, Any], ...]:
    return tuple(json.loads(line) for _, _, line in raw_lines())


def answerable() -> list[dict[str, Any]]:
    return [it for it in items() if it["answerable"]]


def unanswerable() -> list[dict[str, Any]]:
    return [it for it in items() if not it["answerable"]]


def needs_short(it: dict[str, Any]) -> bool:
    return bool(it["answerable"]) and it["kind"] != "multi" and it["type"] not in NO_SHORT_TYPES


def evidence_spans(text: str, evidence: list[str]) -> list[tuple[int, int]]:
    spans = []
    for ev in evidence:
        spans += [(m.start(), m.end()) for m in re.finditer(re.escape(ev), text)]
    return spans


def near_evidence(text: str, needle: str, spans: list[tuple[int, int]]) -> bool:
    return any(
        s - NEAR <= m.start() <= e + NEAR
        for m in re.finditer(re.escape(needle), text)
        for s, e in spans
    )


def shares_8gram(question: str, evidence: list[str]) -> bool:
    return any(question[i : i + 8] in ev for ev in evidence for i in range(len(question) - 7))


# --- file-level -----------------------------------------------------------------------


def test_corpus_has_five_files() -> None:
    assert len(corpus()) == 5, sorted(corpus())
    assert MAGAZINE in corpus()


def test_gold_dir_holds_the_annotated_main_file() -> None:
    assert GOLD_DIR / "gold.jsonl" in gold_files(), gold_files()


def test_gold_files_are_utf8_jsonl_without_escaped_chinese() -> None:
    for name, n, line in raw_lines():
        obj = json.loads(line)
        assert isinstance(obj, dict), f"{name}:{n} is not an object"
        assert not re.search(r"\\u[0-9a-fA-F]{4}", line), f"{name}:{n} escapes non-ASCII"
    for path in gold_files():
        assert CJK.search(path.read_text(encoding="utf-8")), f"{path.name} holds no Chinese"


# --- per item ---------------------------------------------------------------------------


def test_ids_unique_across_files_and_well_formed() -> None:
    all_ids = [it.get("id") for it in items()]
    dupes = [k for k, v in Counter(all_ids).items() if v > 1]
    assert not dupes, dupes
    bad = [i for i in all_ids if not (isinstance(i, str) and re.fullmatch(r"g\d{3,}", i))]
    assert not bad, bad


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_fields_present_with_types(field: str) -> None:
    bad = [it.get("id") for it in items() if not isinstance(it.get(field), FIELDS[field])]
    assert not bad, f"{field} missing or mistyped in {bad}"


def test_note_is_string_when_present() -> None:
    bad = [it["id"] for it in items() if "note" in it and not isinstance(it["note"], str)]
    assert not bad, bad


def test_no_unknown_fields() -> None:
    known = set(FIELDS) | {"short", "note"}
    bad = [(it["id"], sorted(set(it) - known)) for it in items() if set(it) - known]
    assert not bad, bad


def test_enumerations_valid() -> None:
    bad = [
        it["id"]
        for it in items()
        if it["kind"] not in KINDS
        or it["type"] not in TYPES
        or it["lang"] not in LANGS
        or it["split"] not in SPLITS
    ]
    assert not bad, bad


def test_questions_and_answers_nonempty_and_unique() -> None:
    empty = [it["id"] for it in items() if not it["question"].strip() or not it["answer"].strip()]
    assert not empty, empty
    dupes = [q for q, c in Counter(it["question"] for it in items()).items() if c > 1]
    assert not dupes, dupes


def test_question_language_matches_lang() -> None:
    wrong = [
        it["id"]
        for it in items()
        if (it["lang"] == "zh") != bool(CJK.search(it["question"][:12] + it["question"][-12:]))
    ]
    assert not wrong, wrong


def test_answerable_flag_consistent_with_kind() -> None:
    bad = [it["id"] for it in items() if it["answerable"] != (it["kind"] != "unanswerable")]
    assert not bad, bad


def test_answerable_items_have_source_evidence_and_key_facts() -> None:
    bad = []
    for it in answerable():
        if it["source"] not in corpus():
            bad.append((it["id"], "source"))
        if not it["evidence"] or not all(isinstance(e, str) for e in it["evidence"]):
            bad.append((it["id"], "evidence"))
        kf = it["key_facts"]
        most = MAX_KEY_FACTS_LIST if it["type"] == "list" else MAX_KEY_FACTS
        if not 1 <= len(kf) <= most or not all(isinstance(k, str) and k.strip() for k in kf):
            bad.append((it["id"], "key_facts"))
        elif any(not alt.strip() for k in kf for alt in k.split("|")):
            bad.append((it["id"], "empty alternative"))
    assert not bad, bad


def test_multi_and_list_items_have_several_key_facts() -> None:
    bad = [
        it["id"]
        for it in answerable()
        if (it["kind"] == "multi" or it["type"] == "list") and len(it["key_facts"]) < 2
    ]
    assert not bad, bad


def test_multi_items_have_several_evidence_strings() -> None:
    bad = [it["id"] for it in items() if it["kind"] == "multi" and len(set(it["evidence"])) < 2]
    assert not bad, bad


def test_evidence_occurs_verbatim_within_one_line() -> None:
    bad = []
    for it in answerable():
        text = corpus().get(it["source"], "")
        shortest = 4 if it["kind"] == "metadata" else 10  # mastheads and bylines are short
        for ev in it["evidence"]:
            if "\n" in ev or not shortest <= len(ev) <= 80 or ev not in text:
                bad.append((it["id"], ev))
    assert not bad, bad


def test_key_facts_occur_near_evidence() -> None:
    bad = []
    for it in answerable():
        text = corpus().get(it["source"], "")
        spans = evidence_spans(text, it["evidence"])
        for kf in it["key_facts"]:
            if not any(near_evidence(text, alt, spans) for alt in kf.split("|") if alt):
                bad.append((it["id"], kf))
    assert not bad, bad


def test_short_present_exactly_where_required() -> None:
    missing = [
        it["id"] for it in items() if needs_short(it) and not isinstance(it.get("short"), str)
    ]
    extra = [it["id"] for it in items() if not needs_short(it) and "short" in it]
    assert not missing, f"short missing in {missing}"
    assert not extra, f"short not allowed in {extra}"


def test_short_alternatives_nonempty_and_distinct() -> None:
    bad = []
    for it in items():
        if isinstance(it.get("short"), str):
            alts = it["short"].split("|")
            if any(a != a.strip() or not a for a in alts) or len(set(alts)) != len(alts):
                bad.append((it["id"], it["short"]))
    assert not bad, bad


def test_short_first_alternative_is_verbatim_next_to_evidence() -> None:
    bad = []
    for it in items():
        if needs_short(it) and isinstance(it.get("short"), str):
            text = corpus().get(it["source"], "")
            first = it["short"].split("|")[0]
            if not first or not near_evidence(text, first, evidence_spans(text, it["evidence"])):
                bad.append((it["id"], first))
    assert not bad, bad


def test_short_is_short_in_chinese_and_has_an_english_rendering_in_english() -> None:
    too_long = []
    no_latin = []
    for it in items():
        if not isinstance(it.get("short"), str):
            continue
        alts = it["short"].split("|")
        if it["lang"] == "zh" and len(alts[0]) > SHORT_MAX_ZH:
            too_long.append((it["id"], alts[0]))
        if it["lang"] == "en" and not any(LATIN_OR_DIGIT.search(a) for a in alts):
            no_latin.append((it["id"], it["short"]))
    assert not too_long, too_long
    assert not no_latin, no_latin


def test_unanswerable_items_have_no_grounding_and_a_note() -> None:
    bad = [
        it["id"]
        for it in unanswerable()
        if (it["source"] is not None and it["source"] not in corpus())
        or it["evidence"]
        or it["key_facts"]
        or "short" in it
        or not str(it.get("note", "")).strip()
    ]
    assert not bad, bad


def test_no_question_copies_its_evidence() -> None:
    copied = [it["id"] for it in items() if shares_8gram(it["question"], it["evidence"])]
    assert not copied, f"these questions copy 8+ consecutive characters of their evidence: {copied}"


# --- set-level mix ----------------------------------------------------------------------


def test_size() -> None:
    assert len(answerable()) >= MIN_ANSWERABLE, len(answerable())


def test_english_questions() -> None:
    en = sum(it["lang"] == "en" for it in items())
    assert en >= 30
    assert en >= 0.25 * len(items()), (en, len(items()))


def test_unanswerable_share() -> None:
    un = unanswerable()
    assert len(un) >= MIN_UNANSWERABLE, len(un)
    assert len(un) >= 0.15 * len(items())
    per_lang = Counter(it["lang"] for it in un)
    assert all(per_lang[lang] >= MIN_UNANSWERABLE_PER_LANG for lang in LANGS), per_lang


def test_near_miss_unanswerable_items() -> None:
    near = [it for it in unanswerable() if it["source"] is not None]
    assert len(near) >= MIN_NEAR_MISS, len(near)
    assert {it["lang"] for it in near} == LANGS


def test_metadata_items() -> None:
    meta = [it for it in items() if it["kind"] == "metadata"]
    assert len(meta) >= MIN_METADATA, len(meta)


@pytest.mark.parametrize("answer_type", sorted(TYPES))
def test_every_answer_type_is_plentiful(answer_type: str) -> None:
    n = sum(it["type"] == answer_type for it in answerable())
    assert n >= MIN_PER_TYPE, f"{n} answerable items of type {answer_type}"


def test_multi_count() -> None:
    assert sum(it["kind"] == "multi" for it in items()) >= 15


def test_numeric_questions_are_plentiful() -> None:
    assert sum(it["kind"] == "numeric" for it in items()) >= 0.3 * len(answerable())


def test_all_five_files_used() -> None:
    assert {it["source"] for it in answerable()} == set(corpus())


def test_magazine_coverage_is_spread_over_the_file() -> None:
    text = corpus()[MAGAZINE]
    size = len(text.encode("utf-8"))
    mag = [it for it in answerable() if it["source"] == MAGAZINE]
    assert len(mag) >= 45
    offsets = []
    for it in mag:
        pos = text.find(it["evidence"][0])
        offsets.append(len(text[:pos].encode("utf-8")))
    regions_2k = {o // 2000 for o in offsets}
    windows_10k = {o // 10000 for o in offsets}
    assert len(regions_2k) >= 18, sorted(regions_2k)
    assert len(windows_10k) >= 10, sorted(windows_10k)
    thirds = Counter(min(2, 3 * o // size) for o in offsets)
    assert all(thirds[t] >= 8 for t in range(3)), thirds


def test_splits_are_balanced() -> None:
    n = len(items())
    counts = Counter(it["split"] for it in items())
    for split in SPLITS:
        assert counts[split] >= 0.4 * n, counts
    for key in ("lang", "kind"):
        for value in {it[key] for it in items()}:
            group = [it for it in items() if it[key] == value]
            dev = sum(it["split"] == "dev" for it in group)
            assert abs(2 * dev - len(group)) <= max(2, len(group) // 5), (key, value, dev)


def test_every_lang_type_group_is_in_both_splits() -> None:
    groups: dict[tuple[str, str], set[str]] = {}
    for it in items():
        groups.setdefault((it["lang"], it["type"]), set()).add(it["split"])
    sizes = Counter((it["lang"], it["type"]) for it in items())
    bad = [(key, sorted(s)) for key, s in groups.items() if sizes[key] >= 4 and s != SPLITS]
    assert not bad, bad
