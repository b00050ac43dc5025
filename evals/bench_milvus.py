"""The same gold items on the FAISS store and on its Milvus copy, in one run.

    python -m rag.evals.bench_milvus --index data/index --split test --stride 3
    python -m rag.evals.bench_milvus --ingest data/corpus

Migrates `--index` into a fresh Milvus Lite file (timed), then runs `rag eval`'s own
`evaluate` (the assistant's retrieval path and extractive answers) over the same items on
FAISS, on Milvus with our BM25 (`keyword="ours"`, the default) and on Milvus with its own
BM25 function (`keyword="milvus"`), and prints one markdown table: retrieval hit@k / MRR,
answer figures, and the latency of `ask()` (p50 / p95) and of retrieval alone; and
Milvus' server-side `hybrid_search` (its BM25 function + dense, RRF or weighted) against
our fusion over the same store (hit@5, MRR@10, latency excluding the query embedding).

`--ingest DIR` instead times `rag ingest` of DIR into a fresh FAISS directory and a fresh
Milvus Lite file, one after the other with one embedder (the embedding is the same work
in both; the rest is parsing plus the store's writes).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag.ask import Assistant
from rag.config import load_settings
from rag.evals.metrics import evidence_rank, load_gold, percentiles
from rag.evals.run import (
    DEFAULT_CONFIGS,
    ItemResult,
    answer_summary,
    default_gold_path,
    evaluate_item,
    retrieval_summary,
)
from rag.keyword import search_words
from rag.milvus_store import CHUNKS, MilvusStore, migrate

CONFIGS = {k: DEFAULT_CONFIGS[k] for k in ("keyword", "dense", "hybrid")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag.evals.bench_milvus")
    parser.add_argument("--index", default="data/index")
    parser.add_argument("--split", default="test", choices=["dev", "test", "all"])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--stride", type=int, default=1, help="every n-th item only")
    parser.add_argument("--ingest", metavar="DIR", help="time rag ingest of DIR on each store")
    parser.add_argument(
        "--hybrid", action="store_true", help="Milvus' hybrid_search against our fusion"
    )
    args = parser.parse_args(argv)
    if args.ingest:
        return _bench_ingest(Path(args.ingest))

    items = [i for i in load_gold(default_gold_path()) if args.split in ("all", i.split)]
    items = items[:: args.stride][: args.limit]
    work = Path(tempfile.mkdtemp(prefix="bench-milvus-"))
    uri = str(work / "milvus.db")
    report = migrate(Path(args.index), uri)
    print(f"migrate: {report.chunks} chunks, {report.sentences} sentences "
          f"in {report.seconds:.1f} s", file=sys.stderr)  # fmt: skip

    if args.hybrid:
        return _bench_hybrid(items, uri, args)
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


def _server_hybrid(store: MilvusStore, vector: Any, query: str, ranker: Any) -> list[int]:
    """Top-10 rows by one `hybrid_search`: dense over chunk vectors + Milvus' BM25
    function over the text (the query's words, translated as ours are), fused by Milvus."""
    from pymilvus import AnnSearchRequest

    live = store._live[CHUNKS]
    words = " ".join(search_words(query, store.vocabulary))
    requests = [
        AnnSearchRequest(data=[vector.tolist()], anns_field="vector",
                         param={"metric_type": "IP"}, limit=50, expr=live),
        AnnSearchRequest(data=[words], anns_field="bm25", param={"metric_type": "BM25"},
                         limit=50, expr=live),
    ]  # fmt: skip
    found = store.client.hybrid_search(CHUNKS, requests, ranker=ranker, limit=10,
                                       output_fields=["row"])  # fmt: skip
    return [int(h["row"]) for h in found[0]]


def _bench_hybrid(items: list[Any], uri: str, args: argparse.Namespace) -> int:
    from pymilvus import RRFRanker, WeightedRanker

    settings = load_settings({"RAG_MILVUS_URI": uri}, index=args.index, store="milvus")
    assistant = Assistant(settings)
    store = assistant.index
    assert isinstance(store, MilvusStore)
    retriever = assistant.retriever
    ours = {"ours: hybrid (shipped, with the sentence signal)": DEFAULT_CONFIGS["hybrid"],
            "ours: hybrid-no-sentences": DEFAULT_CONFIGS["hybrid-no-sentences"]}  # fmt: skip
    server = {"Milvus hybrid_search, RRF (k=60)": RRFRanker(60),
              "Milvus hybrid_search, weighted 0.5 / 0.5": WeightedRanker(0.5, 0.5)}  # fmt: skip
    ranks: dict[str, list[int | None]] = {n: [] for n in [*ours, *server]}
    ms: dict[str, list[float]] = {n: [] for n in ranks}
    answerable = [i for i in items if i.answerable]
    assistant.ask("预热 warm-up", k=1, mode="extractive")
    for n, item in enumerate(answerable):
        vector = assistant.embedder.embed([item.question], "query")[0]  # cached: not timed
        for name, params in ours.items():
            t0 = time.perf_counter()
            scores = retriever.scores(store, item.question)
            hits = retriever.rank(store, item.question, scores, 10, params)
            ms[name].append((time.perf_counter() - t0) * 1000)
            ranks[name].append(evidence_rank(item, [store.chunk(h.row).text for h in hits]))
        for name, ranker in server.items():
            t0 = time.perf_counter()
            rows = _server_hybrid(store, vector, item.question, ranker)
            ms[name].append((time.perf_counter() - t0) * 1000)
            ranks[name].append(evidence_rank(item, [store.chunk(r).text for r in rows]))
        if n % 20 == 19:
            print(f"{n + 1} of {len(answerable)} items", file=sys.stderr)
    print(f"\n{len(answerable)} answerable gold items ({args.split} split, every "
          f"{args.stride}); {len(store)} chunks on Milvus Lite; latency excludes the query "
          "embedding\n")  # fmt: skip
    print("| retrieval | hit@5 | MRR@10 | p50 ms | p95 ms |")
    print("|---|---|---|---|---|")
    for name, found in ranks.items():
        hit5 = sum(1 for r in found if r is not None and r <= 5) / len(found)
        mrr = sum(1 / r for r in found if r is not None and r <= 10) / len(found)
        lat = percentiles(ms[name])
        print(f"| {name} | {hit5:.3f} | {mrr:.3f} | {lat['p50']:.0f} | {lat['p95']:.0f} |")
    return 0


def _bench_ingest(corpus: Path) -> int:
    from rag.config import MilvusSettings
    from rag.embed import SentenceTransformerEmbedder
    from rag.ingest.chunk import ChunkParams
    from rag.ingest.pipeline import ingest

    settings = load_settings({})
    embedder = SentenceTransformerEmbedder(settings.embed)
    embedder.embed(["预热 warm-up"], "passage")  # the model's load is no store's cost
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    targets: dict[str, Path | MilvusSettings] = {
        "faiss": work / "index", "milvus (Lite)": MilvusSettings(str(work / "milvus.db")),
    }  # fmt: skip
    print("| store | chunks | ingest s | embedding s | the rest s |")
    print("|---|---|---|---|---|")
    for name, target in targets.items():
        r = ingest([corpus], target, embedder, ChunkParams())
        print(f"| {name} | {r.chunks} | {r.seconds:.1f} | {r.embed_seconds:.1f} | "
              f"{r.seconds - r.embed_seconds:.1f} |", flush=True)  # fmt: skip
    return 0


def _f(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


if __name__ == "__main__":
    sys.exit(main())
