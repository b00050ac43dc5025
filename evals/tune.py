"""Tuning sweeps on the gold set (dev split by default), through the library API.

    python -m rag.evals.tune chunking --index /tmp/chunk-150-0 /tmp/chunk-300-1 ...
    python -m rag.evals.tune chunking --build data/corpus --root /tmp   # builds chunk-N-M
    python -m rag.evals.tune fusion --index /tmp/chunk-400-1
    python -m rag.evals.tune evidence --index /tmp/chunk-400-1
    python -m rag.evals.tune calibrate --index /tmp/chunk-400-1 [--split test]
    python -m rag.evals.tune reading --index /tmp/chunk-400-1

Every sweep retrieves through the assistant's own `Retriever` and scores and chooses with
the functions the assistant uses (`rag.evidence.score`, `rag.extractive.choose`,
`rag.refusal`), varying one field of `rag.params.Params` at a time, so a value picked
here behaves the same once it is a default. Tune on `--split dev`
(the default); look at `--split test` only to confirm. Results print as Markdown tables.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rag import evidence, extractive
from rag.ask import Assistant, Prepared
from rag.config import load_settings
from rag.embed import Embedder, SentenceTransformerEmbedder
from rag.evals.metrics import (
    GoldItem,
    citation_precision,
    citation_recall,
    key_fact_recall,
    load_gold,
)
from rag.evals.run import BUDGET, ItemResult, default_gold_path, evaluate, retrieval_summary
from rag.params import Params
from rag.refusal import Calibration, answerability
from rag.retrieve import RetrievalParams

LANGS = ("zh", "en")
WEIGHTS = tuple(round(0.1 * i, 1) for i in range(11))


# -- shared plumbing ---------------------------------------------------------------------


def load_items(split: str, gold: Path | None = None) -> list[GoldItem]:
    return [i for i in load_gold(gold or default_gold_path()) if split in ("all", i.split)]


def make_assistant(
    index: Path, embedder: Embedder | None = None, params: Params | None = None
) -> Assistant:
    """An assistant on `index` with `params` (a sweep varies them with dataclasses.replace)."""
    settings = load_settings(index=index)
    embedder = embedder or SentenceTransformerEmbedder(settings.embed)
    return Assistant(settings, embedder=embedder, params=params)


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    def cell(v: object) -> str:
        return f"{v:.1f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def pct(x: float) -> float:
    return 100.0 * x


def retrieval_runs(
    items: Sequence[GoldItem], assistant: Assistant, configs: dict[str, RetrievalParams]
) -> list[ItemResult]:
    """Evidence ranks under every config; no answers (modes=())."""
    return evaluate([i for i in items if i.answerable], assistant, configs, modes=())


def by_lang(results: Sequence[ItemResult], config: str, lang: str) -> dict[str, float]:
    return retrieval_summary([r for r in results if lang in ("all", r.lang)], config)


# -- 1. chunking ---------------------------------------------------------------------------

BASE_CONFIGS = {
    "keyword": RetrievalParams(method="keyword"),
    "dense": RetrievalParams(method="dense"),
    "hybrid": RetrievalParams(),  # the current defaults
    # the same with half of the dense score from the chunk's best sentence
    "dense+sent": RetrievalParams(method="dense", sentence_share_zh=0.5, sentence_share_en=0.5),
    "hybrid+sent": RetrievalParams(sentence_share_zh=0.5, sentence_share_en=0.5),
}


def build_index(corpus: Path, path: Path, max_chars: int, overlap: int, embedder: Embedder) -> None:
    """Ingest with the library, recording the cost next to the index (path.ingest.json)."""
    from rag.ingest.chunk import ChunkParams
    from rag.ingest.pipeline import ingest

    report = ingest([corpus], path, embedder, ChunkParams(max_chars, overlap))
    cost = {
        "chunks": report.chunks,
        "chunks_embedded": report.chunks_embedded,
        "sentences_embedded": report.sentences_embedded,
        "seconds": report.seconds,
        "embed_seconds": report.embed_seconds,
    }
    path.with_suffix(".ingest.json").write_text(json.dumps(cost), "utf-8")


def index_cost(assistant: Assistant) -> dict[str, object]:
    index = assistant.index
    sidecar = assistant.settings.index.with_suffix(".ingest.json")
    seconds = json.loads(sidecar.read_text("utf-8"))["seconds"] if sidecar.exists() else None
    chunks = [index.chunk(row) for row in range(len(index))]
    sizes = [len("".join(c.text.split())) for c in chunks]
    return {
        "chunks": len(chunks),
        "sentences": len({(c.source, span) for c in chunks for span in c.sentences}),
        "mean_chars": float(np.mean(sizes)) if sizes else 0.0,
        "seconds": f"{seconds:.0f}" if seconds is not None else "–",
    }


def cmd_chunking(args: argparse.Namespace) -> None:
    items = load_items(args.split)
    embedder: Embedder | None = None
    paths = list(args.index or [])
    if args.build:
        for size in args.sizes:
            for overlap in args.overlaps:
                path = args.root / f"chunk-{size}-{overlap}"
                paths.append(path)
                if (path / "manifest.json").exists():
                    continue
                embedder = embedder or SentenceTransformerEmbedder(load_settings().embed)
                build_index(args.build, path, size, overlap, embedder)
    rows = []
    for path in paths:
        assistant = make_assistant(path, embedder)
        embedder = assistant.embedder  # one model, and its query cache, for every index
        results = retrieval_runs(items, assistant, BASE_CONFIGS)
        cost = index_cost(assistant)
        for name in BASE_CONFIGS:
            row: list[object] = [path.name, name]
            for lang in (*LANGS, "all"):
                s = by_lang(results, name, lang)
                row += [pct(s["hit@5"]), pct(s["mrr@10"]), pct(s[f"hit@{BUDGET}ch"])]
            rows.append(
                [*row, cost["chunks"], cost["sentences"], cost["mean_chars"], cost["seconds"]]
            )
    head = ["index", "config"]
    for lang in (*LANGS, "all"):
        head += [f"{lang} hit@5", f"{lang} MRR", f"{lang} hit@{BUDGET}ch"]
    print(table([*head, "chunks", "sentences", "mean chars", "ingest s"], rows))


# -- 2. fusion ------------------------------------------------------------------------------


def fusion_configs(shares: Sequence[float], rrf_ks: Sequence[int]) -> dict[str, RetrievalParams]:
    """Both languages get the same weight in one config: their items are disjoint."""
    out: dict[str, RetrievalParams] = {}
    for share in shares:
        single = {"share_zh": share, "share_en": share}
        out[f"dense s={share}"] = _params("dense", 1.0, single)
        for w in WEIGHTS:
            out[f"zscore w={w} s={share}"] = _params("zscore", w, single)
            out[f"convex w={w} s={share}"] = _params("convex", w, single)
            for k in rrf_ks:
                out[f"rrf{k} w={w} s={share}"] = _params("rrf", w, single, rrf_k=k)
    out["keyword"] = RetrievalParams(method="keyword")
    return out


def _params(fusion: str, w: float, shares: dict[str, float], rrf_k: int = 60) -> RetrievalParams:
    return RetrievalParams(
        method="dense" if fusion == "dense" else "hybrid",
        fusion="convex" if fusion == "dense" else fusion,  # type: ignore[arg-type]
        fusion_en=None,
        dense_weight_zh=w,
        dense_weight_en=w,
        rrf_k=rrf_k,
        sentence_share_zh=shares["share_zh"],
        sentence_share_en=shares["share_en"],
    )


def cmd_fusion(args: argparse.Namespace) -> None:
    items = load_items(args.split)
    assistant = make_assistant(args.index)
    configs = fusion_configs(args.shares, args.rrf_k)
    results = retrieval_runs(items, assistant, configs)
    for lang in LANGS:
        rows = []
        for name in configs:
            s = by_lang(results, name, lang)
            rows.append([name, pct(s["hit@1"]), pct(s["hit@5"]), pct(s["mrr@10"]),
                         pct(s[f"hit@{BUDGET}ch"])])  # fmt: skip
        rows.sort(key=lambda r: (-float(r[2]), -float(r[3])))  # type: ignore[arg-type]
        print(f"\n### {lang} (dev answerable, n={int(by_lang(results, 'keyword', lang)['n'])})\n")
        print(table(["config", "hit@1", "hit@5", "MRR@10", f"hit@{BUDGET}ch"], rows[: args.top]))
        for name in args.show:
            s = by_lang(results, name, lang)
            print(f"  {name}: hit@5 {pct(s['hit@5']):.1f} MRR {pct(s['mrr@10']):.1f}")


# -- 3. evidence sentences and extractive answers ------------------------------------------


@dataclass
class Case:
    """One gold item with what retrieval found; re-scored under each parameter set."""

    item: GoldItem
    prep: Prepared
    vector: np.ndarray
    terms: evidence.QueryTerms


def prepare_cases(items: Sequence[GoldItem], assistant: Assistant, k: int = 5) -> list[Case]:
    index = assistant.index
    out = []
    for item in items:
        prep = assistant.prepare(item.question, k)
        out.append(
            Case(
                item,
                prep,
                assistant.embedder.embed([prep.query], "query")[0],
                evidence.query_terms(index, prep.query),
            )
        )
    return out


def rescore(
    case: Case, assistant: Assistant, params: evidence.EvidenceParams
) -> list[evidence.Scored]:
    sentences = [s.sentence for s in case.prep.scored]
    return evidence.score(case.vector, case.terms, sentences, params)


def answer_metrics(
    cases: Sequence[Case],
    assistant: Assistant,
    ev: evidence.EvidenceParams,
    ex: extractive.ExtractiveParams,
) -> dict[str, float]:
    """Answerable items, always answered (refusal is calibrated separately)."""
    top1, kfr, prec, rec, n_sent = [], [], [], [], []
    for case in cases:
        if not case.item.answerable:
            continue
        scored = rescore(case, assistant, ev)
        if not scored:
            continue
        chosen = extractive.choose(scored, ex)
        cites = extractive.citations_for(chosen)
        top1.append(citation_precision(case.item, cites[:1]) or 0.0)
        kfr.append(key_fact_recall(case.item, extractive.answer_text(chosen, case.prep.lang)))
        prec.append(citation_precision(case.item, cites) or 0.0)
        rec.append(citation_recall(case.item, cites))
        n_sent.append(len(chosen))
    return {
        "top1": pct(float(np.mean(top1))),
        "kfr": pct(float(np.mean(kfr))),
        "cite_p": pct(float(np.mean(prec))),
        "cite_r": pct(float(np.mean(rec))),
        "sentences": float(np.mean(n_sent)),
    }


def cmd_evidence(args: argparse.Namespace) -> None:
    items = load_items(args.split)
    assistant = make_assistant(args.index)
    cases = prepare_cases(items, assistant)
    base_ev, base_ex = assistant.params.evidence, assistant.params.extractive
    head = ["params", "top-1 sentence precision", "key-fact recall", "cite P", "cite R", "sents"]

    def run(label: str, ev: evidence.EvidenceParams, ex: extractive.ExtractiveParams) -> list:
        groups = {"all": cases, **{g: [c for c in cases if c.item.lang == g] for g in LANGS}}
        out: list[object] = [label]
        m = answer_metrics(groups[args.lang], assistant, ev, ex)
        return [*out, m["top1"], m["kfr"], m["cite_p"], m["cite_r"], f"{m['sentences']:.2f}"]

    rows = [run("defaults", base_ev, base_ex)]
    for lw in args.lexical:
        rows.append(run(f"lexical_weight={lw}", replace(base_ev, lexical_weight=lw), base_ex))
    for rp in args.rank_penalty:
        rows.append(run(f"rank_penalty={rp}", replace(base_ev, rank_penalty=rp), base_ex))
    for mp in args.mismatch_penalty:
        rows.append(run(f"mismatch_penalty={mp}", replace(base_ev, mismatch_penalty=mp), base_ex))
    print(f"\n### evidence scoring ({args.lang}, choose() with its defaults)\n")
    print(table(head, rows))
    rows = []
    for n, margin in itertools.product(args.max_sentences, args.margins):
        if n == 1 and margin != args.margins[0]:
            continue  # one sentence: the margin does not matter
        for budget in args.budgets:
            ex = replace(base_ex, max_sentences=n, margin=margin, max_chars=budget)
            rows.append(run(f"max_sentences={n} margin={margin} max_chars={budget}", base_ev, ex))
    print(f"\n### choose() ({args.lang}, evidence scoring with its defaults)\n")
    print(table(head, rows))


# -- 4. refusal calibration ----------------------------------------------------------------


def threshold_sweep(
    values: Sequence[tuple[float, bool]],
) -> list[tuple[float, float, float, float]]:
    """(threshold, balanced accuracy, false refusal rate, missed refusal rate) for each
    cut between observed values; answered when value >= threshold."""
    xs = sorted({v for v, _ in values})
    cuts = [xs[0] - 1e-6] + [(a + b) / 2 for a, b in itertools.pairwise(xs)]
    cuts.append(xs[-1] + 1e-6)
    out = []
    for t in cuts:
        false_ref, missed = _rates(values, t)
        out.append((t, 1 - (false_ref + missed) / 2, false_ref, missed))
    return out


def separation(values: Sequence[tuple[float, bool]]) -> float:
    """ROC AUC: chance that an answerable item scores above an unanswerable one."""
    pos = [v for v, a in values if a]
    neg = [v for v, a in values if not a]
    if not pos or not neg:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


Feature = Callable[[Case], float]


def features(assistant: Assistant, penalties: Sequence[float]) -> dict[str, Feature]:
    """The answerability score (best evidence sentence) under evidence parameters that
    differ in the quantity-mismatch penalty; the first is the shipped default."""
    base = assistant.params.evidence

    def best_score(params: evidence.EvidenceParams) -> Feature:
        def f(case: Case) -> float:
            scored = rescore(case, assistant, params)
            return answerability(scored)

        return f

    out = {"shipped": best_score(base)}
    for pen in penalties:
        out[f"mismatch_penalty={pen}"] = best_score(replace(base, mismatch_penalty=pen))
    return out


def cmd_calibrate(args: argparse.Namespace) -> None:
    items = load_items(args.split)
    assistant = make_assistant(args.index)
    cases = prepare_cases(items, assistant)
    cal = assistant.params.calibration
    feats = features(assistant, args.penalties)
    head = ["feature", "AUC", "best cut", "bal. acc", "false ref", "missed ref"]
    head += ["shipped cut", "false ref @shipped", "missed @shipped"]
    head += ["LLM floor (no false refusal)", "refused @floor", "shipped floor", "FR/MR @floor"]
    for lang in LANGS:
        group = [c for c in cases if c.item.lang == lang]
        n_ans = sum(c.item.answerable for c in group)
        print(f"\n### {lang}: {n_ans} answerable, {len(group) - n_ans} unanswerable\n")
        rows = [_calibration_row(name, f, group, cal, lang) for name, f in feats.items()]
        print(table(head, rows))
        if args.dump:
            _dump(group, feats[args.dump])


def _calibration_row(
    name: str, feature: Feature, group: Sequence[Case], cal: Calibration, lang: str
) -> list:
    values = [(feature(c), c.item.answerable) for c in group]
    sweep = threshold_sweep(values)
    best = max(sweep, key=lambda r: (r[1], -r[2]))  # best balanced accuracy, then fewer FR
    shipped = cal.threshold(lang)  # type: ignore[arg-type]
    fr, mr = _rates(values, shipped)
    # The LLM floor refuses only clear cases: just under the lowest answerable value.
    floor = min(v for v, a in values if a) - 0.005
    caught = 1 - _rates(values, floor)[1]
    shipped_floor = cal.threshold(lang, llm=True)  # type: ignore[arg-type]
    ffr, fmr = _rates(values, shipped_floor)
    return [name, f"{separation(values):.3f}", f"{best[0]:.3f}", pct(best[1]), pct(best[2]),
            pct(best[3]), f"{shipped:.3f}", pct(fr), pct(mr), f"{floor:.3f}", pct(caught),
            f"{shipped_floor:.3f}", f"{pct(ffr):.1f}/{pct(fmr):.1f}"]  # fmt: skip


def _rates(values: Sequence[tuple[float, bool]], cut: float) -> tuple[float, float]:
    """(false refusal rate, missed refusal rate) when answering at value >= cut."""
    n_ans = sum(a for _, a in values) or 1
    n_un = sum(not a for _, a in values) or 1
    false_ref = sum(v < cut and a for v, a in values) / n_ans
    missed = sum(v >= cut and not a for v, a in values) / n_un
    return false_ref, missed


def _dump(group: Sequence[Case], feature: Feature) -> None:
    for c in sorted(group, key=feature):
        mark = "A" if c.item.answerable else "U"
        print(f"  {feature(c):.3f} {mark} {c.item.id} {c.item.question[:60]}")


# -- command line ----------------------------------------------------------------------------


def cmd_reading(args: argparse.Namespace) -> None:
    """Refusal floors of typed questions: each item is read once with no floor; a floor f
    then refuses it when its chosen sentence scores below f (the choice itself can only
    change when a better-valued sentence is dropped, which the table ignores)."""
    from rag import question

    base = Params()
    open_floor = replace(base.reading, typed_floor_zh=-9.0, typed_floor_en=-9.0)
    assistant = make_assistant(args.index, params=replace(base, reading=open_floor))
    rows: list[tuple[str, bool, float, float]] = []  # lang, answerable, pick score, recall
    for item in load_items(args.split):
        if not question.analyse(item.question).typed:
            continue
        prep = assistant.prepare(item.question, 5)
        result = assistant.read(prep)
        answer = assistant.extractive_answer(prep)
        score = min((p.scored.score for p in result.picks), default=float("-inf"))
        recall = key_fact_recall(item, answer.text) if item.answerable and answer.answered else 0
        rows.append((item.lang, item.answerable, score if result.answered else -9.0, recall))
    for lang in LANGS:
        group = [r for r in rows if r[0] == lang]
        answerable = [r for r in group if r[1]]
        unanswerable = [r for r in group if not r[1]]
        out = []
        for floor in args.floors:
            refused = sum(r[2] < floor for r in unanswerable) / max(len(unanswerable), 1)
            false = sum(r[2] < floor for r in answerable) / max(len(answerable), 1)
            recall = sum(r[3] for r in answerable if r[2] >= floor) / max(len(answerable), 1)
            out.append((f"{floor:.2f}", pct(refused), pct(false), pct(recall)))
        print(f"\n{lang}: typed questions, {len(answerable)} answerable, "
              f"{len(unanswerable)} unanswerable")  # fmt: skip
        print(table(["floor", "refusal recall", "false refusals", "key-fact recall"], out))


def _floats(raw: str) -> list[float]:
    return [float(x) for x in raw.split(",") if x]


def _ints(raw: str) -> list[int]:
    return [int(x) for x in raw.split(",") if x]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rag.evals.tune", description=__doc__)
    parser.add_argument("--split", choices=["dev", "test", "all"], default="dev")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("chunking", help="retrieval per chunk size/overlap, and ingest cost")
    p.add_argument("--index", type=Path, nargs="*", help="indexes to compare")
    p.add_argument("--build", type=Path, help="corpus: build missing ROOT/chunk-N-M first")
    p.add_argument("--root", type=Path, default=Path("/tmp"))
    p.add_argument("--sizes", type=_ints, default=[150, 200, 300, 400, 600])
    p.add_argument("--overlaps", type=_ints, default=[0, 1])
    p.set_defaults(func=cmd_chunking)

    p = sub.add_parser("fusion", help="dense weight x fusion x sentence share, per language")
    p.add_argument("--index", type=Path, required=True)
    p.add_argument("--shares", type=_floats, default=[0.0, 0.5, 1.0])
    p.add_argument("--rrf-k", type=_ints, default=[10, 30, 60])
    p.add_argument("--top", type=int, default=15, help="rows per language table")
    p.add_argument("--show", nargs="*", default=[], help="config names to always print")
    p.set_defaults(func=cmd_fusion)

    p = sub.add_parser("evidence", help="sentence scoring and choose() parameters")
    p.add_argument("--index", type=Path, required=True)
    p.add_argument("--lang", choices=["all", "zh", "en"], default="all")
    p.add_argument("--lexical", type=_floats, default=[0.0, 0.15, 0.3, 0.5, 0.8])
    p.add_argument("--rank-penalty", type=_floats, default=[0.005, 0.01, 0.02, 0.04])
    p.add_argument("--mismatch-penalty", type=_floats, default=[0.02, 0.05, 0.1, 0.2])
    p.add_argument("--max-sentences", type=_ints, default=[1, 2, 3])
    p.add_argument("--margins", type=_floats, default=[0.0, 0.02, 0.04, 0.06, 0.1])
    p.add_argument("--budgets", type=_ints, default=[320], help="choose() max_chars values")
    p.set_defaults(func=cmd_evidence)

    p = sub.add_parser("calibrate", help="answerability features and refusal thresholds")
    p.add_argument("--index", type=Path, required=True)
    p.add_argument("--penalties", type=_floats, default=[0.05, 0.1, 0.15, 0.2, 0.3])
    p.add_argument("--dump", help="a feature name: print every item's value")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("reading", help="refusal floors of typed questions (rag.reading)")
    p.add_argument("--index", type=Path, required=True)
    p.add_argument("--floors", type=_floats, default=[0.7, 0.75, 0.77, 0.8, 0.85, 0.9, 0.95, 1.0])
    p.set_defaults(func=cmd_reading)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    args.func(args)
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
