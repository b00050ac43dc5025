"""Scale benchmark: a synthetic archive of N chunks through the real store code.

    python -m rag.evals.bench scale --chunks 100000 --json     # one JSON line
    python -m rag.evals.bench scale --curve 10000 100000 1000000 --plot docs/img/scale.png

The archive: files of 50 chunks (10 articles of 5), each chunk ~6 sentences of words drawn
from the demo corpus's vocabulary (topic words plus Zipf-weighted common words), and unit
vectors with neighbourhood structure (a shared direction, as real embeddings have, a topic
direction, and noise; sentences scattered around their chunk). It is written as one segment
by `rag.index.commit` — the code an ingest uses — minus the model and the tagger: the
benchmark measures the store, not embedding. Queries are a sentence's vector plus noise,
with three of its words as the text, so both the dense and the keyword side find something.

Measured in a fresh process after the build: `open_s` (Index.load), hybrid retrieval
latency excluding the query embedding (`p50_ms`, `p95_ms`: candidates, sentence signal,
fusion — `rag.retrieve.score_vector` + `fuse`), `recall_at_10` of the dense search against
exact search over the same vectors, `rss_mb` (peak resident memory of that process), and
`add_file_s`: committing one new 20-article file (100 chunks) into the index, as an ingest
does after embedding it (new segment, the big one hard-linked), then opening the result.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from rag.index import FileRecord, Index, Manifest, SegmentData, StoredDocument, commit
from rag.types import Chunk

DIM = 384
CHUNKS_PER_FILE = 50
CHUNKS_PER_ARTICLE = 5
SENTENCES = 6
WORDS = (8, 14)  # words per sentence


@dataclass(frozen=True, eq=False)
class Vocabulary:
    words: list[str]
    weights: np.ndarray  # sampling probability of each word

    @cached_property
    def array(self) -> np.ndarray:
        return np.asarray(self.words, dtype=object)

    @cached_property
    def cdf(self) -> np.ndarray:
        return np.cumsum(self.weights)

    @classmethod
    def from_corpus(cls, corpus: Path) -> Vocabulary:
        from rag.text import tokenize

        counts: Counter[str] = Counter()
        for path in sorted(corpus.glob("*.txt")):
            counts.update(t for t in tokenize(path.read_text("utf-8")) if len(t) > 1)
        words = [w for w, _ in counts.most_common()]
        freq = np.asarray([counts[w] for w in words], dtype=np.float64) ** 0.8
        return cls(words, freq / freq.sum())


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


class Archive:
    """Deterministic synthetic files: the same seed gives the same archive."""

    def __init__(self, n_chunks: int, vocab: Vocabulary, seed: int = 0) -> None:
        self.n_chunks = n_chunks
        self.vocab = vocab
        self.rng = np.random.default_rng(seed)
        self.n_topics = max(10, n_chunks // 40)
        self.common = _unit(self.rng.standard_normal(DIM))
        self.topics = _unit(self.rng.standard_normal((self.n_topics, DIM)))
        self.topic_words = self.rng.integers(0, min(len(vocab.words), 5000), (self.n_topics, 30))

    def chunk_vectors(self, topics: np.ndarray) -> np.ndarray:
        noise = self.rng.standard_normal((len(topics), DIM)).astype(np.float32)
        return _unit(0.9 * self.common + 0.55 * self.topics[topics] + 0.5 * _unit(noise))

    def sentence_vectors(self, chunk_vectors: np.ndarray) -> np.ndarray:
        noise = self.rng.standard_normal((len(chunk_vectors), DIM)).astype(np.float32)
        return _unit(chunk_vectors + 0.45 * _unit(noise))

    def file(self, number: int, n_chunks: int = CHUNKS_PER_FILE) -> tuple[SegmentData, FileRecord]:
        """One file: its chunks, vectors, sentences and term counts (words as drawn)."""
        rng, words = self.rng, self.vocab.array
        source = f"synthetic/{number:07d}.txt"
        topics = rng.integers(0, self.n_topics, n_chunks)
        vectors = self.chunk_vectors(topics)
        sentence_vectors = self.sentence_vectors(np.repeat(vectors, SENTENCES, 0))
        # every sentence: a third topic words, the rest common words by frequency
        lengths = rng.integers(*WORDS, size=n_chunks * SENTENCES)
        own = lengths // 3
        sentence_topic = np.repeat(topics, SENTENCES)
        common = np.searchsorted(self.vocab.cdf, rng.random(int((lengths - own).sum())))
        common = np.minimum(common, len(words) - 1)
        picks = rng.integers(0, self.topic_words.shape[1], int(own.sum()))
        own_words = self.topic_words[np.repeat(sentence_topic, own), picks]
        text_parts: list[str] = []
        chunks, keys, token_lists = [], [], []
        offset, c_at, o_at = 0, 0, 0
        for i in range(n_chunks):
            spans, tokens = [], []
            start = offset
            for j in range(i * SENTENCES, (i + 1) * SENTENCES):
                n_own, n_common = int(own[j]), int(lengths[j] - own[j])
                drawn = [
                    *words[own_words[o_at : o_at + n_own]],
                    *words[common[c_at : c_at + n_common]],
                ]
                o_at, c_at = o_at + n_own, c_at + n_common
                sentence = "".join(drawn) + "。"
                spans.append((offset, offset + len(sentence)))
                text_parts.append(sentence)
                offset += len(sentence)
                tokens += drawn
            title = f"第{number}号文件 第{i // CHUNKS_PER_ARTICLE + 1}篇"
            chunk_text = "".join(text_parts[-SENTENCES:])
            chunks.append(
                Chunk(
                    source, i // CHUNKS_PER_ARTICLE, title, chunk_text, start, offset, tuple(spans)
                )
            )
            keys += [(source, a, b) for a, b in spans]
            token_lists.append(tokens)
        from rag.keyword import KeywordIndex

        kw = KeywordIndex.build(token_lists)
        text = "".join(text_parts)
        data = SegmentData(
            chunks=chunks,
            vectors=vectors,
            documents=[StoredDocument(source, f"sha-{number}", "utf-8", text)],
            sentence_keys=keys,
            sentence_vectors=sentence_vectors,
            sentence_tags=[()] * len(keys),
            tf=kw.tf,
            vocab=kw.vocab,
        )
        record = FileRecord(f"sha-{number}", "utf-8", n_chunks // CHUNKS_PER_ARTICLE, n_chunks)
        return data, record


def merge_files(parts: Sequence[SegmentData]) -> SegmentData:
    """Several files' data as one segment's worth."""
    from rag.keyword import KeywordIndex

    keyword = KeywordIndex.merge([(p.tf, p.vocab) for p in parts])
    return SegmentData(
        chunks=[c for p in parts for c in p.chunks],
        vectors=np.vstack([p.vectors for p in parts]),
        documents=[d for p in parts for d in p.documents],
        sentence_keys=[k for p in parts for k in p.sentence_keys],
        sentence_vectors=np.vstack([p.sentence_vectors for p in parts]),
        sentence_tags=[t for p in parts for t in p.sentence_tags],
        tf=sp.csr_matrix(keyword.tf),
        vocab=keyword.vocab,
    )


def manifest_for(files: dict[str, FileRecord]) -> Manifest:
    return Manifest(
        embed_model="synthetic", embed_checksum="synthetic", dim=DIM, query_prompt="",
        passage_prompt="", chunker={"max_chars": 300, "overlap": 0}, files=files,
    )  # fmt: skip


def build(path: Path, n_chunks: int, corpus: Path) -> dict[str, float]:
    """Write the archive as one index version (one segment) at `path`. Sentence vectors
    (6 per chunk: 9 GB at a million chunks) stream through a memory-mapped scratch file."""
    from rag.keyword import KeywordIndex

    t0 = time.perf_counter()
    archive = Archive(n_chunks, Vocabulary.from_corpus(corpus))
    n_files = max(1, n_chunks // CHUNKS_PER_FILE)
    total = n_files * CHUNKS_PER_FILE
    path.mkdir(parents=True, exist_ok=True)
    scratch = path.parent / "sentence_vectors.scratch"
    vectors = np.zeros((total, DIM), np.float32)
    sentence_vectors = np.lib.format.open_memmap(
        scratch, mode="w+", dtype=np.float32, shape=(total * SENTENCES, DIM)
    )
    chunks: list[Chunk] = []
    documents: list[StoredDocument] = []
    keys: list[tuple[str, int, int]] = []
    tf_parts: list[tuple[sp.csr_matrix, dict[str, int]]] = []
    files: dict[str, FileRecord] = {}
    for number in range(n_files):
        data, record = archive.file(number)
        at = number * CHUNKS_PER_FILE
        vectors[at : at + CHUNKS_PER_FILE] = data.vectors
        sentence_vectors[at * SENTENCES : (at + CHUNKS_PER_FILE) * SENTENCES] = (
            data.sentence_vectors
        )
        chunks += data.chunks
        documents += data.documents
        keys += data.sentence_keys
        tf_parts.append((data.tf, data.vocab))
        files[data.documents[0].source] = record
    keyword = KeywordIndex.merge(tf_parts)
    del tf_parts
    generated = time.perf_counter() - t0
    merged = SegmentData(chunks, vectors, documents, keys, sentence_vectors,
                         [()] * len(keys), keyword.tf, keyword.vocab)  # fmt: skip
    commit(path, manifest_for({}), None, {}, files, merged)
    del merged, sentence_vectors
    scratch.unlink()
    return {"generate_s": generated, "build_s": time.perf_counter() - t0}


def measure(path: Path, corpus: Path, queries: int = 200) -> dict[str, object]:
    """Open, query and extend the index at `path` (run in a fresh process)."""
    from rag.retrieve import RetrievalParams, fuse, score_vector

    t0 = time.perf_counter()
    index = Index.load(path)
    open_s = time.perf_counter() - t0
    rng = np.random.default_rng(1)
    archive = Archive(len(index), Vocabulary.from_corpus(corpus), seed=7)
    params = RetrievalParams()
    rows = rng.integers(0, len(index), queries)
    latencies: list[float] = []
    searched: list[tuple[np.ndarray, set[int]]] = []
    for row in rows:
        chunk = index.chunk(int(row))
        stored = index.sentences_of(int(row))
        target = stored[int(rng.integers(0, len(stored)))]
        assert target.vector is not None
        qvec = _unit(target.vector + 0.3 * _unit(rng.standard_normal(DIM).astype(np.float32)))
        words = chunk.text[target.start - chunk.start :][:12]  # the sentence's first words
        t = time.perf_counter()
        fuse(score_vector(index, qvec, words, params), params, 10)
        latencies.append((time.perf_counter() - t) * 1000)
        searched.append((qvec, {r for r, _ in index.search(qvec, 10)}))
    rss_mb = _peak_rss_mb()  # before the exact reference below copies every vector
    exact = _exact_searcher(index)
    recalls = [len(found & exact(qvec, 10)) / 10 for qvec, found in searched]
    add_s = _add_file(path, archive)
    return {
        "chunks": len(index),
        "sentences": index.n_sentences,
        "ann": index.segments[0].ann if index.segments else "exact",
        "p50_ms": float(np.percentile(latencies, 50)),
        "p95_ms": float(np.percentile(latencies, 95)),
        "recall_at_10": float(np.mean(recalls)),
        "rss_mb": rss_mb,
        "open_s": open_s,
        "add_file_s": add_s,
    }


def _peak_rss_mb() -> float:
    """This process image's peak resident memory (VmHWM). Not ru_maxrss: Linux carries the
    parent's high-water mark over fork and exec, and the parent built the index."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _exact_searcher(index: Index):  # type: ignore[no-untyped-def]
    """Exact top-k over the stored chunk vectors, in blocks (the ANN's reference)."""
    blocks = [(seg, np.asarray(seg.vectors.reconstruct_n(0, seg.n))) for seg in index.segments]

    def top(qvec: np.ndarray, k: int) -> set[int]:
        best: list[tuple[float, int]] = []
        base = 0
        for _, vectors in blocks:
            sims = np.einsum("ij,j->i", vectors, qvec)
            part = np.argpartition(-sims, k)[:k] if len(sims) > k else np.arange(len(sims))
            best += [(float(sims[i]), base + int(i)) for i in part]
            base += len(vectors)
        return {r for _, r in sorted(best, reverse=True)[:k]}

    return top


def _add_file(path: Path, archive: Archive) -> float:
    """Commit one new 20-article file into the index and open the new version."""
    index = Index.load(path)
    data, record = archive.file(10**6 + 1, n_chunks=100)
    t0 = time.perf_counter()
    commit(path, index.manifest, index, dict(index.manifest.files),
           {data.documents[0].source: record}, data)  # fmt: skip
    Index.load(path)
    return time.perf_counter() - t0


def run(
    n_chunks: int, corpus: Path, work: Path | None = None, keep: Path | None = None
) -> dict[str, Any]:
    """Build in one process, measure in a fresh one (so its memory is the index's). With
    `keep`, the index stays in KEEP/scale-N, and a later run re-measures it unbuilt."""
    with contextlib.ExitStack() as stack:
        if keep is not None:
            path = keep / f"scale-{n_chunks}" / "index"
        else:
            path = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=work))) / "index"
        built: dict[str, float] = {}
        if not (path / "manifest.json").exists():
            built = build(path, n_chunks, corpus)
        out = subprocess.run(
            [sys.executable, "-m", "rag.evals.bench_scale", "--measure", str(path),
             "--corpus", str(corpus)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return {**json.loads(out.stdout.strip().splitlines()[-1]), **built}
    raise AssertionError("unreachable")


def ann_sweep(n_chunks: int, topics: int) -> list[dict[str, float]]:
    """IVF recall@10 against exact search by cells scanned, on the archive's chunk vectors
    alone with `topics` neighbourhoods (the segment's own cells and training sample)."""
    import faiss

    from rag import segment

    archive = Archive(n_chunks, Vocabulary(["词"], np.ones(1)), seed=0)
    archive.n_topics = topics
    archive.topics = _unit(archive.rng.standard_normal((topics, DIM)))
    vectors = np.vstack([
        archive.chunk_vectors(archive.rng.integers(0, topics, min(100_000, n_chunks - i)))
        for i in range(0, n_chunks, 100_000)
    ])  # fmt: skip
    t0 = time.perf_counter()
    ivf = segment.inverted_file(faiss, vectors, DIM)
    ivf.add(vectors)
    build_s = time.perf_counter() - t0
    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(1)
    rows = rng.integers(0, n_chunks, 200)
    noise = _unit(rng.standard_normal((len(rows), DIM)).astype(np.float32))
    queries = _unit(archive.sentence_vectors(vectors[rows]) + 0.3 * noise)
    truth = [set(np.argpartition(-(vectors @ q), 10)[:10].tolist()) for q in queries]
    default = ivf.nprobe
    out = []
    for probes in sorted({max(1, default // 2), default, min(ivf.nlist, default * 2)}):
        ivf.nprobe = probes
        t = time.perf_counter()
        found = [set(ivf.search(q.reshape(1, -1), 10)[1][0].tolist()) for q in queries]
        ms = (time.perf_counter() - t) / len(queries) * 1000
        recall = float(np.mean([len(f & e) / 10 for f, e in zip(found, truth, strict=True)]))
        out.append({"chunks": n_chunks, "topics": topics, "cells": ivf.nlist, "probes": probes,
                    "default": probes == default, "recall_at_10": recall, "ms": ms,
                    "build_s": build_s})  # fmt: skip
    return out


def plot(results: Sequence[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r["chunks"] for r in results]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
    a.plot(n, [r["p50_ms"] for r in results], "o-", label="p50")
    a.plot(n, [r["p95_ms"] for r in results], "s--", label="p95")
    a.set(xscale="log", xlabel="chunks", ylabel="ms", title="hybrid retrieval (no embedding)")
    a.legend()
    b.plot(n, [r["rss_mb"] / 1024 for r in results], "o-")
    b.set(xscale="log", xlabel="chunks", ylabel="GB", title="peak resident memory")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rag.evals.bench scale")
    p.add_argument("--chunks", type=int, default=100_000)
    p.add_argument("--curve", type=int, nargs="*", help="several sizes, one JSON line each")
    p.add_argument("--corpus", default="data/corpus")
    p.add_argument("--work", default=None, help="directory for the temporary index")
    p.add_argument("--keep", default=None, help="keep the index in KEEP/scale-N (re-used)")
    p.add_argument("--plot", default=None, help="write the cost curves to this PNG")
    p.add_argument(
        "--results", default=None, help="plot the JSON lines of earlier runs (no new run)"
    )
    p.add_argument("--json", action="store_true", help="print JSON lines only")
    p.add_argument("--measure", default=None, help=argparse.SUPPRESS)  # the fresh process
    p.add_argument(
        "--ann-sweep",
        type=int,
        default=0,
        metavar="TOPICS",
        help="IVF recall by cells scanned on --chunks vectors in TOPICS neighbourhoods",
    )
    args = p.parse_args(argv)
    corpus = Path(args.corpus)
    if args.ann_sweep:
        for line in ann_sweep(args.chunks, args.ann_sweep):
            print(json.dumps(line))
        return 0
    if args.measure:
        print(json.dumps(measure(Path(args.measure), corpus)))
        return 0
    if args.results:
        lines = Path(args.results).read_text("utf-8").splitlines()
        runs = [json.loads(x) for x in lines if x.startswith("{")]
        plot(sorted(runs, key=lambda r: r["chunks"]), Path(args.plot or "docs/img/scale.png"))
        return 0
    results = []
    for n in args.curve or [args.chunks]:
        keep = Path(args.keep) if args.keep else None
        result = run(n, corpus, Path(args.work) if args.work else None, keep)
        results.append(result)
        print(json.dumps(result), flush=True)
    if args.plot:
        plot(results, Path(args.plot))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
