"""Checks on the gold Q&A set (evals/gold/gold.jsonl) against the demo corpus.

The gold set is hand-written; these tests keep it honest: every evidence string must be
copied verbatim from its source file, every key fact must be findable next to the
evidence, and the set must keep its promised size and mix (languages, kinds, files,
splits, spread over the long magazine file).
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
GOLD = ROOT / "evals" / "gold" / "gold.jsonl"

MAGAZINE = "001_93257fffc3be4eeb.txt"  # 今日浙江 2024年第10期, a whole magazine issue
KINDS = {"fact", "numeric", "multi", "unanswerable"}
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
    "split": str,
}
NEAR = 300  # a key fact must occur within this many characters of an evidence occurrence
CJK = re.compile(r"[\u4e00-\u9fff]")


@cache
def corpus() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*.txt"))}


@cache
def raw_lines() -> tuple[str, ...]:
    return tuple(line for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip())


@cache
def items() -> tuple[dict[str, Any], ...]:
    return tuple(json.loads(line) for line in raw_lines())


def answerable() -> list[dict[str, Any]]:
    return [it for it in items() if it["answerable"]]


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [str(r.get("id")) for r in rows]


def evidence_spans(text: str, evidence: list[str]) -> list[tuple[int, int]]:
    spans = []
    for ev in evidence:
        spans += [(m.start(), m.end()) for m in re.finditer(re.escape(ev), text)]
    return spans


def shares_8gram(question: str, evidence: list[str]) -> bool:
    return any(question[i : i + 8] in ev for ev in evidence for i in range(len(question) - 7))


# --- file-level -----------------------------------------------------------------------


def test_corpus_has_five_files() -> None:
    assert len(corpus()) == 5, sorted(corpus())
    assert MAGAZINE in corpus()


def test_gold_file_is_utf8_jsonl_without_escaped_chinese() -> None:
    for n, line in enumerate(raw_lines(), 1):
        obj = json.loads(line)
        assert isinstance(obj, dict), f"line {n} is not an object"
        assert not re.search(r"\\u[0-9a-fA-F]{4}", line), f"line {n} escapes non-ASCII"
    assert any(CJK.search(line) for line in raw_lines())


# --- per item ---------------------------------------------------------------------------


def test_ids_unique_and_well_formed() -> None:
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


def test_enumerations_valid() -> None:
    bad = [
        it["id"]
        for it in items()
        if it["kind"] not in KINDS or it["lang"] not in LANGS or it["split"] not in SPLITS
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
        if not 1 <= len(kf) <= 3 or not all(isinstance(k, str) and k.strip() for k in kf):
            bad.append((it["id"], "key_facts"))
        elif any(not alt.strip() for k in kf for alt in k.split("|")):
            bad.append((it["id"], "empty alternative"))
    assert not bad, bad


def test_multi_items_have_several_evidence_strings() -> None:
    bad = [it["id"] for it in items() if it["kind"] == "multi" and len(set(it["evidence"])) < 2]
    assert not bad, bad


def test_evidence_occurs_verbatim_within_one_line() -> None:
    bad = []
    for it in answerable():
        text = corpus().get(it["source"], "")
        for ev in it["evidence"]:
            if "\n" in ev or not 10 <= len(ev) <= 80 or ev not in text:
                bad.append((it["id"], ev))
    assert not bad, bad


def test_key_facts_occur_near_evidence() -> None:
    bad = []
    for it in answerable():
        text = corpus().get(it["source"], "")
        spans = evidence_spans(text, it["evidence"])
        for kf in it["key_facts"]:
            found = any(
                s - NEAR <= m.start() <= e + NEAR
                for alt in kf.split("|")
                if alt
                for m in re.finditer(re.escape(alt), text)
                for s, e in spans
            )
            if not found:
                bad.append((it["id"], kf))
    assert not bad, bad


def test_unanswerable_items_have_no_grounding_and_a_note() -> None:
    bad = [
        it["id"]
        for it in items()
        if not it["answerable"]
        and (
            it["source"] is not None
            or it["evidence"]
            or it["key_facts"]
            or not str(it.get("note", "")).strip()
        )
    ]
    assert not bad, bad


# --- set-level mix ----------------------------------------------------------------------


def test_size() -> None:
    assert len(items()) >= 130


def test_english_questions() -> None:
    assert sum(it["lang"] == "en" for it in items()) >= 30


def test_unanswerable_share() -> None:
    un = [it for it in items() if not it["answerable"]]
    assert len(un) >= 20
    assert len(un) >= 0.15 * len(items())
    assert {it["lang"] for it in un} == LANGS


def test_multi_count() -> None:
    assert sum(it["kind"] == "multi" for it in items()) >= 15


def test_numeric_questions_are_plentiful() -> None:
    assert sum(it["kind"] == "numeric" for it in items()) >= 0.3 * len(items())


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


def test_chinese_questions_are_mostly_paraphrased() -> None:
    zh = [it for it in answerable() if it["lang"] == "zh"]
    copied = [it["id"] for it in zh if shares_8gram(it["question"], it["evidence"])]
    assert len(zh) - len(copied) >= len(zh) / 2, f"{len(copied)} of {len(zh)} copy the evidence"


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
