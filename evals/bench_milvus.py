"""The same gold items on the FAISS store and on its Milvus copy, in one run.

    python -m rag.evals.bench_milvus --index data/index --split test --stride 3

Migrates `--index` into a fresh Milvus Lite file (timed), then runs `rag eval`'s own
`evaluate` (the assistant's retrieval path and extractive answers) over the same items on
FAISS, on Milvus with our BM25 (`keyword="ours"`, the default) and on Milvus with its own
BM25 function (`keyword="milvus"`), and prints one markdown table: retrieval hit@k / MRR,
answer figures, and the latency of `ask()` (p50 / p95) and of retrieval alone.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag.ask import Assistant
from rag.config import load_settings
from rag.evals.metrics import load_gold, percentiles
from rag.evals.run import (
    DEFAULT_CONFIGS,
    ItemResult,
    answer_summary,
    default_gold_path,
    evaluate_item,
    retrieval_summary,
)
from rag.milvus_store import MilvusStore, migrate

CONFIGS = {k: DEFAULT_CONFIGS[k] for k in ("keyword", "dense", "hybrid")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag.evals.bench_milvus")
    parser.add_argument("--index", default="data/index")
    parser.add_argument("--split", default="test", choices=["dev", "test", "all"])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--stride", type=int, default=1, help="every n-th item only")
    args = parser.parse_args(argv)

    items = [i for i in load_gold(default_gold_path()) if args.split in ("all", i.split)]
    items = items[:: args.stride][: args.limit]
    work = Path(tempfile.mkdtemp(prefix="bench-milvus-"))
    uri = str(work / "milvus.db")
    report = migrate(Path(args.index), uri)
    print(f"migrate: {report.chunks} chunks, {report.sentences} sentences "
          f"in {report.seconds:.1f} s", file=sys.stderr)  # fmt: skip

    faiss = Assistant(load_settings({}, index=args.index))
    runs: dict[str, Assistant] = {"faiss": faiss}
    for mode in ("ours", "milvus"):
        settings = load_settings({"RAG_MILVUS_URI": uri}, index=args.index, store="milvus")
        milvus = Assistant(settings, embedder=faiss.embedder)
        # the keyword mode is no setting: the store is opened here, then kept by `index`
        milvus._index = MilvusStore.open(uri, keyword=mode)
        runs[f"milvus ({mode} BM25)"] = milvus

    # Item by item, the stores in turns (a rotating order) and the query-embedding cache
    # emptied before each, so no store profits from another's warm caches.
    results: dict[str, list[ItemResult]] = {name: [] for name in runs}
    for assistant in runs.values():
        assistant.ask("预热 warm-up", k=1, mode="extractive")
    names = list(runs)
    for n, item in enumerate(items):
        for name in names[n % len(names) :] + names[: n % len(names)]:
            faiss.embedder._query_cache.clear()  # type: ignore[attr-defined]
            results[name].append(evaluate_item(item, runs[name], CONFIGS, ["extractive"]))
        if n % 20 == 19:
            print(f"{n + 1} of {len(items)} items", file=sys.stderr)
    rows = []
    for name, found in results.items():
        answers = answer_summary(found, items, "extractive")
        retrieval = percentiles([r.retrieval_ms for r in found])
        rows.append((name, {c: retrieval_summary(found, c) for c in CONFIGS}, answers, retrieval))

    print(f"\n{len(items)} gold items ({args.split} split, every {args.stride}); "
          f"`rag migrate` of {report.chunks} chunks: {report.seconds:.1f} s\n")  # fmt: skip
    head = ["store"] + [f"{c} hit@1 / hit@5 / MRR" for c in CONFIGS]
    head += ["key facts", "cit. precision", "refusal P / R", "ask p50 / p95 ms",
             "retrieval p50 / p95 ms"]  # fmt: skip
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name, ret, ans, lat in rows:
        cells = [name]
        cells += [f"{r['hit@1']:.3f} / {r['hit@5']:.3f} / {r['mrr@10']:.3f}" for r in ret.values()]
        cells += [_f(ans["key_fact_recall"]), _f(ans["citation_precision"]),
                  f"{_f(ans['refusal_precision'])} / {_f(ans['refusal_recall'])}",
                  f"{ans['latency_p50_ms']:.0f} / {ans['latency_p95_ms']:.0f}",
                  f"{lat['p50']:.0f} / {lat['p95']:.0f}"]  # fmt: skip
        print("| " + " | ".join(cells) + " |")
    return 0


def _f(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


if __name__ == "__main__":
    sys.exit(main())
