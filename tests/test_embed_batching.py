"""Ingest's embedding path (issue 12): batches of similar token length, each distinct text
once, and "composed" chunk vectors, on the real bundled model (no mocks).

Batching must not change a vector: every text's vector equals the one it gets embedded
alone. "composed" keeps every sentence vector of "separate" and makes each chunk's vector
from its sentences' and title's token sums instead of a pass of its own.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from rag.embed import Kind, SentenceTransformerEmbedder, length_batches
from rag.index import Index
from rag.ingest.chunk import ChunkParams
from rag.ingest.pipeline import ingest
from rag.text import join_lines

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "data" / "corpus" / "004_08340decf78e2cdb.txt"
TEXTS = [
    "浙江省2023年城镇新增就业人数超过百万。",
    "好",
    "Zhejiang's GDP grew by 6 percent in the first half of the year, led by the digital economy.",
    "杭州亚运会期间，全市共接待游客超过一千万人次，旅游收入同比增长三成以上，"
    "带动了餐饮、住宿、交通等多个行业的复苏。" * 3,
    "宁波舟山港货物吞吐量连续多年位居全球第一。",
]


def test_length_batches_group_similar_lengths_within_both_limits() -> None:
    lengths = [5, 300, 40, 41, 7, 300, 120, 6]
    batches = length_batches(lengths, max_texts=3, max_tokens=600)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= 3
        assert len(batch) == 1 or max(lengths[i] for i in batch) * len(batch) <= 600
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(lengths, reverse=True), "longest first, neighbours together"
    assert [1, 5] in batches, "the two 300-token texts share a batch, the 120 one does not"
    assert [6, 3, 2] in batches and [4, 7, 0] in batches, "then three at most"


def test_batched_vectors_equal_each_text_embedded_alone(
    embedder: SentenceTransformerEmbedder,
) -> None:
    together = embedder.embed(TEXTS, "passage")
    alone = np.vstack([embedder.embed([t], "passage") for t in TEXTS])
    assert together.shape == (len(TEXTS), embedder.dim)
    assert np.abs(together - alone).max() < 1e-5


def test_token_sums_give_the_vector_and_compose_a_joint_one(
    embedder: SentenceTransformerEmbedder,
) -> None:
    vectors, sums = embedder.embed_with_sums(TEXTS)
    assert np.abs(vectors - embedder.embed(TEXTS, "passage")).max() < 1e-5
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    assert np.abs(sums / norms - vectors).max() < 1e-5, "a sum is the mean pooling, unscaled"
    # Two texts' summed tokens are one vector close to the two embedded as one text.
    joint = (sums[0] + sums[4]) / np.linalg.norm(sums[0] + sums[4])
    whole = embedder.embed([TEXTS[0] + TEXTS[4]], "passage")[0]
    assert 0.9 < float(joint @ whole) < 0.9999


class _Counting:
    """The real embedder, counting the texts it is given (the "texts in" side of the seam)."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner = inner
        self.texts: list[str] = []
        self.calls: list[list[str]] = []  # the texts of each call
        self.model_id, self.checksum, self.dim = inner.model_id, inner.checksum, inner.dim
        self.backend = inner.backend

    def prompt(self, kind: Kind) -> str:
        return self.inner.prompt(kind)

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        self.texts += texts
        return self.inner.embed(texts, kind)

    def embed_with_sums(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        self.texts += texts
        self.calls.append(list(texts))
        return self.inner.embed_with_sums(texts)


def _sentence_vectors(index: Index) -> dict[tuple[str, int, int], np.ndarray]:
    out: dict[tuple[str, int, int], np.ndarray] = {}
    for row in range(len(index.chunks)):
        source = index.chunks[row].source
        for s in index.sentences_of(row):
            assert s.vector is not None
            out[(source, s.start, s.end)] = s.vector
    return out


def test_composed_keeps_sentence_vectors_and_builds_chunks_from_them(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(SOURCE, docs / "a.txt")
    repeated = "".join(TEXTS[0::4])  # the same two sentences in two paragraphs
    (docs / "b.txt").write_text(f"就业与港口\n\n{repeated}\n\n{TEXTS[1]}。{repeated}\n", "utf-8")
    separate, composed = _Counting(embedder), _Counting(embedder)
    ingest([docs], tmp_path / "sep", separate, ChunkParams(), sentence_vectors="separate")
    ingest([docs], tmp_path / "com", composed, ChunkParams(), sentence_vectors="composed")
    sep, com = Index.load(tmp_path / "sep"), Index.load(tmp_path / "com")
    assert (sep.manifest.sentence_vectors, com.manifest.sentence_vectors) == (
        "separate",
        "composed",
    )
    # b.txt repeats its sentences: each distinct text goes to the model once.
    assert len(separate.texts) == len(set(separate.texts))
    assert len(composed.texts) == len(set(composed.texts))
    assert len(composed.texts) < len(separate.texts), "no pass of their own for chunks"

    sv, cv = _sentence_vectors(sep), _sentence_vectors(com)
    assert sv.keys() == cv.keys()
    assert max(float(np.abs(sv[k] - cv[k]).max()) for k in sv) < 1e-5

    assert [c.text for c in sep.chunks] == [c.text for c in com.chunks]
    chunk = com.chunks[3]
    text = com.document(chunk.source)
    assert chunk.title
    parts = [join_lines(text[a:b]) for a, b in chunk.sentences] + [chunk.title]
    _, sums = embedder.embed_with_sums(parts)
    expected = sums.sum(axis=0) / np.linalg.norm(sums.sum(axis=0))
    assert np.abs(com.all_vectors()[3] - expected).max() < 1e-5
    cosines = (sep.all_vectors() * com.all_vectors()).sum(axis=1)
    assert 0.9 < float(cosines.mean()) < 0.9999, "close to the chunk's own pass, not equal"


def test_short_files_are_embedded_together_with_the_vectors_each_gets_alone(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    # Twelve one-paragraph files: their sentences go to the model in shared calls (so that
    # length batches fill up), and every vector is the one its file gets ingested alone.
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(12):
        body = "".join(TEXTS[(i + k) % len(TEXTS)] for k in range(3))
        (docs / f"{i:02d}.txt").write_text(f"第{i}篇\n\n{body}第{i}段结束。\n", "utf-8")
    together = _Counting(embedder)
    ingest([docs], tmp_path / "all", together, ChunkParams(), sentence_vectors="composed")
    first_call = "".join(together.calls[0])
    assert len(together.calls) < 12 and "第0段结束" in first_call and "第11段结束" in first_call
    com = Index.load(tmp_path / "all")
    for name in ("00.txt", "07.txt"):
        alone = tmp_path / name
        alone.mkdir()
        shutil.copy(docs / name, alone / name)
        one = Index.load(_ingested(alone, tmp_path / f"{name}.idx", embedder))
        rows = [i for i, c in enumerate(com.chunks) if c.source == name]
        assert [com.chunks[i].text for i in rows] == [c.text for c in one.chunks]
        assert np.abs(com.all_vectors()[rows] - one.all_vectors()).max() < 1e-5
        sentences = _sentence_vectors(one)
        assert sentences and all(
            np.abs(v - _sentence_vectors(com)[k]).max() < 1e-5 for k, v in sentences.items()
        )


def _ingested(docs: Path, index: Path, embedder: SentenceTransformerEmbedder) -> Path:
    ingest([docs], index, embedder, ChunkParams(), sentence_vectors="composed")
    return index
