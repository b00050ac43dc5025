"""Ingest benchmark (issue 12): today's pipeline against the new one, side by side in one run.

    python -m rag.evals.bench ingest --corpus data/corpus --generated-files 300

"before" is today's pipeline as of BASELINE, the commit before this work (PyTorch fp32, every
chunk and every sentence embedded on its own): its code is taken from git (`git archive`) and
run in its own process. The others change one thing at a time: this branch's batching (texts of
similar token length together, each distinct text once: the same vectors), then chunk vectors
composed from the sentence pass, then the int8 ONNX backend (DEFAULT names the shipped
combination; GENERATED the pipelines also run on the generated corpus).
Each ingest runs in its own process (its own peak RSS), on
the demo corpus and on a generated corpus: the demo articles with their sentences shuffled
(deterministically) into many distinct files. Quality is measured on the gold test split
with the shipped hybrid retrieval; latency with warm `ask()` and query embedding.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rag.config import Backend, load_settings
from rag.ingest.pipeline import SentenceVectors

BASELINE = "a0c645a"  # main before issue 12's second pass: "today's" pipeline
BEFORE = "before: torch, separate"
PIPELINES: dict[str, tuple[Backend, SentenceVectors]] = {
    BEFORE: ("torch", "separate"),
    "torch, separate, length batches": ("torch", "separate"),
    "torch, composed": ("torch", "composed"),
    "onnx-int8, composed": ("onnx", "composed"),
}
DEFAULT = "onnx-int8, composed"  # what `make demo` runs (docs/benchmarks.md)
GENERATED = (BEFORE, "torch, separate, length batches", "torch, composed", DEFAULT)


@dataclass(frozen=True)
class Run:
    seconds: float
    chars: int  # characters of the input files' text
    chunks: int
    sentences: int
    rss_mb: float

    @property
    def chars_per_second(self) -> float:
        return self.chars / self.seconds


def generate_corpus(corpus: Path, out: Path, files: int, seed: int = 12) -> Path:
    """`files` distinct text files: demo articles, title kept, sentences shuffled."""
    from rag.ingest.chunk import ChunkParams
    from rag.ingest.parse import parse_document
    from rag.ingest.readers import read_document
    from rag.text import join_lines

    articles: list[tuple[str, list[str]]] = []
    for path in sorted(p for p in corpus.iterdir() if p.is_file()):
        doc = read_document(path, corpus)
        parsed = parse_document(doc, ChunkParams())
        for article in parsed.articles:
            spans = dict.fromkeys(
                s for c in parsed.chunks if c.article == article.index for s in c.sentences
            )
            sentences = [join_lines(doc.text[a:b]) for a, b in spans]
            if len(sentences) >= 3:
                articles.append((article.title or "新闻", sentences))
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for i in range(files):
        title, sentences = articles[i % len(articles)]
        shuffled = sentences[:]
        rng.shuffle(shuffled)
        paragraphs = ["".join(shuffled[j : j + 4]) for j in range(0, len(shuffled), 4)]
        body = "\n\n".join(paragraphs)
        (out / f"{i:05d}.txt").write_text(f"{title}（之{i}）\n\n{body}\n", encoding="utf-8")
    return out


def run_one(
    backend: Backend, sentences: SentenceVectors, corpus: Path, index: Path, code: Path | None
) -> Run:
    """One ingest in a fresh process (model loaded inside it, as `rag ingest` does); with
    `code`, the package tree of another commit (`baseline_tree`) runs it."""
    cmd = [sys.executable, "-m", "rag.evals.bench_ingest", "_one", backend, sentences]
    # sys.path starts with the working directory: run the other tree from inside it.
    env = dict(os.environ, PYTHONPATH=str(code)) if code else None
    out = subprocess.run(
        [*cmd, str(corpus.resolve()), str(index.resolve())],
        check=True, capture_output=True, text=True, env=env, cwd=code,
    ).stdout  # fmt: skip
    return Run(**json.loads(out.strip().splitlines()[-1]))


def baseline_tree(rev: str, out: Path) -> Path:
    """The `rag` package of commit `rev`, laid out as installed (ingest/ and evals/ inside
    rag/), to put first on PYTHONPATH: the editable install's finder comes after it."""
    repo = Path(__file__).resolve().parent.parent
    raw = out / "src"
    raw.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", rev, "rag", "ingest", "evals"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(raw)], input=archive, check=True)
    tree = out / "pkg"
    shutil.copytree(raw / "rag", tree / "rag")
    shutil.copytree(raw / "ingest", tree / "rag" / "ingest")
    shutil.copytree(raw / "evals", tree / "rag" / "evals")
    return tree


def _one(backend: Backend, sentences: SentenceVectors, corpus: Path, index: Path) -> None:
    from rag.embed import SentenceTransformerEmbedder
    from rag.index import Index
    from rag.ingest.chunk import ChunkParams
    from rag.ingest.pipeline import ingest

    settings = load_settings()
    embedder = SentenceTransformerEmbedder(replace(settings.embed, backend=backend))
    embedder.embed(["预热 warm-up"], "passage")  # model loading is not ingest
    report = ingest([corpus], index, embedder, ChunkParams(), sentence_vectors=sentences)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    built = Index.load(index)
    chars = sum(len(built.document(s)) for s in built.sources())
    run = Run(report.seconds, chars, report.chunks, len(built.sentence_keys()), rss)
    print(json.dumps(run.__dict__))


def raw_encode(index: Path) -> tuple[float, int]:
    """fp32 PyTorch encode of the index's chunk texts alone: (seconds, characters)."""
    from rag.embed import SentenceTransformerEmbedder
    from rag.index import Index
    from rag.ingest.pipeline import indexed_text

    texts = [indexed_text(c) for c in Index.load(index).chunks]
    embedder = SentenceTransformerEmbedder(replace(load_settings().embed, backend="torch"))
    embedder.embed(["预热 warm-up"], "passage")
    t0 = time.perf_counter()
    embedder.embed(texts, "passage")
    return time.perf_counter() - t0, sum(map(len, texts))


def quality(index: Path, backend: Backend) -> dict[str, float]:
    """Hybrid hit@5, MRR@10 and English hit@5 (points) on the gold test split."""
    from rag.ask import Assistant
    from rag.evals.metrics import load_gold
    from rag.evals.run import DEFAULT_CONFIGS, default_gold_path, evaluate

    settings = load_settings(index=index)
    assistant = Assistant(replace(settings, embed=replace(settings.embed, backend=backend)))
    items = [i for i in load_gold(default_gold_path()) if i.split == "test" and i.answerable]
    results = evaluate(items, assistant, {"hybrid": DEFAULT_CONFIGS["hybrid"]}, modes=[])
    ranks = [r.ranks["hybrid"] for r in results]
    english = [r.ranks["hybrid"] for r in results if r.lang == "en"]
    return {
        "hit@5": 100 * float(np.mean([r is not None and r <= 5 for r in ranks])),
        "mrr@10": 100 * float(np.mean([1 / r if r is not None and r <= 10 else 0 for r in ranks])),
        "en hit@5": 100 * float(np.mean([r is not None and r <= 5 for r in english])),
        "n": len(ranks),
        "n_en": len(english),
    }


def latency(index: Path, backend: Backend, limit: int) -> tuple[float, float]:
    """Warm extractive ask() p50 and query-embedding p50 (ms) over gold questions."""
    from rag.ask import Assistant
    from rag.evals.metrics import load_gold, percentiles
    from rag.evals.run import default_gold_path

    settings = load_settings(index=index)
    assistant = Assistant(replace(settings, embed=replace(settings.embed, backend=backend)))
    questions = [i.question for i in load_gold(default_gold_path())][:limit]
    for q in ["预热问题一", "warm-up question two", "预热三"]:
        assistant.ask(q, mode="extractive")
    ask_ms, embed_ms = [], []
    for q in questions:
        t0 = time.perf_counter()
        assistant.ask(q, mode="extractive")
        ask_ms.append((time.perf_counter() - t0) * 1000)
    for q in questions:
        t0 = time.perf_counter()
        assistant.embedder.embed([q + "？"], "query")  # not the cached text
        embed_ms.append((time.perf_counter() - t0) * 1000)
    return percentiles(ask_ms)["p50"], percentiles(embed_ms)["p50"]


def tagging_share(index: Path) -> tuple[float, int]:
    """Seconds LAC takes on every sentence of the index (ingest tags each once)."""
    from rag import tagger
    from rag.index import Index
    from rag.text import join_lines

    idx = Index.load(index)
    texts = [join_lines(idx.document(s)[a:b]) for s, a, b in idx.sentence_keys()]
    tagger.tag("预热")
    t0 = time.perf_counter()
    for text in texts:
        tagger.tag(text)
    return time.perf_counter() - t0, len(texts)


def bench(corpus: Path, generated_files: int, ask_limit: int) -> str:
    from rag.evals.bench import _header

    work = Path(tempfile.mkdtemp(prefix="rag-bench-ingest-"))
    try:
        return "\n".join(_bench(corpus, generated_files, ask_limit, work, _header))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _bench(corpus: Path, n_files: int, ask_limit: int, work: Path, header: Any) -> list[str]:
    generated = generate_corpus(corpus, work / "generated", n_files)
    old = baseline_tree(BASELINE, work / "baseline")
    lines = header(
        "Ingest: today's pipeline against the new one (issue 12)",
        f"python -m rag.evals.bench ingest --corpus {corpus} --generated-files {n_files}",
    )
    demo: dict[str, tuple[Run, Path]] = {}
    lines += [
        "| corpus | pipeline | ingest wall time | ÷ before | chars/s | peak RSS |",
        "|---|---|---|---|---|---|",
    ]
    for name, (backend, mode) in PIPELINES.items():
        path = work / f"demo-{len(demo)}"
        demo[name] = (run_one(backend, mode, corpus, path, old if name == BEFORE else None), path)
    gen = {
        name: run_one(backend, mode, generated, work / f"gen-{k}", old if name == BEFORE else None)
        for k, (name, (backend, mode)) in enumerate(PIPELINES.items())
        if name in GENERATED
    }
    for label, runs in (("demo", {k: v[0] for k, v in demo.items()}), ("generated", gen)):
        before = next(iter(runs.values()))
        for name, run in runs.items():
            lines.append(
                f"| {label} ({run.chunks} chunks, {run.sentences} sentences) | {name} | "
                f"{run.seconds:.1f} s | {run.seconds / before.seconds:.2f} | "
                f"{run.chars_per_second:.0f} | {run.rss_mb:.0f} MB |"
            )
    after_name = "torch, composed"  # raw encode: the same torch embedder
    raw_s, raw_chars = raw_encode(demo[after_name][1])
    lines += [
        "",
        "Raw fp32 PyTorch encode of the demo chunks alone (this branch's batching): "
        f"{raw_s:.1f} s, "
        f"**{raw_chars / raw_s:.0f} chars/s** (compare the chars/s column).",
        "",
        "| pipeline (demo index) | hybrid hit@5 | MRR@10 | English hit@5 | warm `ask()` p50 "
        "| query embedding p50 |",
        "|---|---|---|---|---|---|",
    ]
    for name, (backend, _) in PIPELINES.items():
        q = quality(demo[name][1], backend)
        ask_p50, embed_p50 = latency(demo[name][1], backend, ask_limit)
        shown = f"**{name}** (default)" if name == DEFAULT else name
        lines.append(
            f"| {shown} | {q['hit@5']:.1f} | {q['mrr@10']:.1f} | {q['en hit@5']:.1f} | "
            f"{ask_p50:.1f} ms | {embed_p50:.1f} ms |"
        )
    tag_s, n_sent = tagging_share(demo[after_name][1])
    after = demo[after_name][0]
    lines += [
        "",
        f"Gold test split, answerable items (n={q['n']:.0f}, English n={q['n_en']:.0f}); "
        f"latency over the first {ask_limit} gold questions.",
        f"LAC tagging of the {n_sent} demo sentences: {tag_s:.1f} s, "
        f"{100 * tag_s / after.seconds:.0f} % of the {after_name} ingest time.",
    ]
    return lines


if __name__ == "__main__" and len(sys.argv) == 6 and sys.argv[1] == "_one":
    _one(sys.argv[2], sys.argv[3], Path(sys.argv[4]), Path(sys.argv[5]))  # type: ignore[arg-type]
