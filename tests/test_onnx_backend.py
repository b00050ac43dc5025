"""The int8 ONNX backend against PyTorch, on the real bundled model (no mocks).

Its vectors must match the fp32 PyTorch model closely enough that an index built with one
backend can be queried with the other (rag.index.query_compatible); the export is cached
and checksummed like the model, and the manifest says which backend built an index.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rag import onnx_model
from rag.config import EmbedSettings, load_settings
from rag.embed import SentenceTransformerEmbedder
from rag.errors import ConfigError, IndexMismatchError, ModelError
from rag.index import Index, query_compatible
from rag.ingest.chunk import ChunkParams
from rag.ingest.parse import parse_document
from rag.ingest.pipeline import indexed_text, ingest
from rag.ingest.readers import read_document

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "corpus"
MIN_MEAN_COSINE = 0.99  # the bar that declares torch and onnx-int8 query-compatible
# The chunk comparison runs on a fixed sample of the demo chunks: every SAMPLE_EVERY-th in
# corpus order (60 of 353) plus the LONGEST longest ones (most tokens for int8 error to
# accumulate over). Deterministic; docs/benchmarks.md gives the whole-corpus figure.
SAMPLE_EVERY = 6
LONGEST = 4


def _demo_chunks() -> list[str]:
    texts = []
    for path in sorted(CORPUS.iterdir()):
        doc = read_document(path, CORPUS)
        texts += [indexed_text(c) for c in parse_document(doc, ChunkParams()).chunks]
    return texts


def _sample(chunks: list[str]) -> list[str]:
    longest = sorted(range(len(chunks)), key=lambda i: -len(chunks[i]))[:LONGEST]
    return [chunks[i] for i in sorted(set(range(0, len(chunks), SAMPLE_EVERY)) | set(longest))]


@pytest.fixture(scope="module")
def torch_embedder(
    embed_settings: EmbedSettings, embedder: SentenceTransformerEmbedder
) -> SentenceTransformerEmbedder:
    """The session's model: PyTorch is the default backend (no second copy loaded)."""
    assert embed_settings.backend == "torch"
    return embedder


@pytest.fixture(scope="module")
def onnx_embedder(embed_settings: EmbedSettings) -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(replace(embed_settings, backend="onnx"))


def test_int8_matches_fp32_on_a_fixed_sample_of_demo_chunks(
    torch_embedder: SentenceTransformerEmbedder, onnx_embedder: SentenceTransformerEmbedder
) -> None:
    every = _demo_chunks()
    assert len(every) > 300
    chunks = _sample(every)
    assert len(chunks) >= 55 and max(map(len, chunks)) == max(map(len, every))
    fp32 = torch_embedder.embed(chunks, "passage")
    int8 = onnx_embedder.embed(chunks, "passage")
    cosines = np.sum(fp32 * int8, axis=1)
    assert int8.shape == fp32.shape and int8.dtype == np.float32
    assert np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
    assert cosines.mean() >= MIN_MEAN_COSINE, cosines.mean()
    assert cosines.min() >= 0.98, (cosines.argmin(), cosines.min())
    # Queries too (the other half of "compatible for queries").
    questions = ["湖州首次颁发的生态鼎是什么？", "Which county won the Champion Tripod?"]
    q = np.sum(
        torch_embedder.embed(questions, "query") * onnx_embedder.embed(questions, "query"), 1
    )
    assert q.min() >= MIN_MEAN_COSINE, q


def test_in_context_vectors_are_the_chunk_vectors_and_pool_their_spans(
    onnx_embedder: SentenceTransformerEmbedder,
) -> None:
    texts = ["湖州首次颁发生态鼎。长兴县捧获冠军鼎。", "How many dogs are registered in Shangyu?"]
    spans = [[(0, 9), (9, 19)], [(0, 8), (500, 600)]]  # the last span has no token
    vectors, pooled = onnx_embedder.embed_in_context(texts, spans)
    assert np.allclose(vectors, onnx_embedder.embed(texts, "passage"), atol=1e-5)
    assert [p.shape for p in pooled] == [(2, 384), (2, 384)]
    assert np.allclose(np.linalg.norm(pooled[0], axis=1), 1.0, atol=1e-5)
    assert not np.any(pooled[1][1])  # a span without tokens is a zero row
    # A sentence pooled in context is near, not equal to, the sentence embedded alone.
    alone = onnx_embedder.embed(["长兴县捧获冠军鼎。"], "passage")[0]
    assert 0.6 < float(pooled[0][1] @ alone) < 0.9999


def test_onnx_token_sums_and_length_batches_keep_vectors(
    onnx_embedder: SentenceTransformerEmbedder,
) -> None:
    texts = ["好", "湖州首次颁发生态鼎。长兴县捧获冠军鼎。" * 6, "How many dogs are in Shangyu?"]
    vectors, sums = onnx_embedder.embed_with_sums(texts)
    alone = np.vstack([onnx_embedder.embed([t], "passage") for t in texts])
    # int8 activations are quantised with one scale per batch (dynamic quantisation), so a
    # text's vector depends a little on its neighbours; cutting a batch to its longest text
    # must not cost more than that.
    assert float((vectors * alone).sum(axis=1).min()) >= MIN_MEAN_COSINE
    assert np.allclose(sums / np.linalg.norm(sums, axis=1, keepdims=True), vectors, atol=1e-5)


def test_export_is_cached_and_checksummed(
    onnx_embedder: SentenceTransformerEmbedder, bundled_model_dir: Path, tmp_path: Path
) -> None:
    export_dir = onnx_model.export(bundled_model_dir, onnx_embedder.checksum)
    marker = json.loads((export_dir / "exported.json").read_text())
    assert marker["source_checksum"] == onnx_embedder.checksum
    assert onnx_embedder.backend_checksum == "sha256:" + marker["sha256"]
    onnx_model.verify(export_dir)
    # A second call reuses the export (same directory, untouched file).
    mtime = (export_dir / "model.onnx").stat().st_mtime_ns
    assert onnx_model.export(bundled_model_dir, onnx_embedder.checksum) == export_dir
    assert (export_dir / "model.onnx").stat().st_mtime_ns == mtime
    # A damaged copy is caught by verify with an actionable message.
    copy = tmp_path / "copy"
    shutil.copytree(export_dir, copy)
    with (copy / "model.onnx").open("r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00" * 16)
    with pytest.raises(ModelError, match="delete"):
        onnx_model.verify(copy)


def test_backend_settings_and_compatibility(tmp_path: Path) -> None:
    assert load_settings({"RAG_INDEX": str(tmp_path / "none")}).embed.backend == "torch"
    assert load_settings({"RAG_EMBED_BACKEND": " ONNX "}).embed.backend == "onnx"
    assert load_settings({"RAG_EMBED_BACKEND": "torch"}).embed.backend == "torch"
    for bad in ("openvino", "cuda"):
        with pytest.raises(ConfigError, match="RAG_EMBED_BACKEND"):
            load_settings({"RAG_EMBED_BACKEND": bad})
    assert query_compatible("torch", "onnx-int8") and query_compatible("onnx-int8", "torch")
    assert not query_compatible("onnx-int8", "openvino-int8")


NEWS = (
    "湖州首次颁发生态鼎\n\n本报湖州电 湖州市日前首次颁发“生态鼎”。长兴县捧获生态文明冠军鼎。"
    "另有4个区县成功夺鼎，安吉县获得两山转化鼎。\n\n全市共有12个乡镇获得表彰。\n"
)


def test_manifest_records_the_backend_and_queries_across_backends(
    onnx_embedder: SentenceTransformerEmbedder,
    torch_embedder: SentenceTransformerEmbedder,
    tmp_path: Path,
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "news.txt").write_text(NEWS, encoding="utf-8")
    first = ingest([docs], tmp_path / "index", torch_embedder, ChunkParams())
    assert Index.load(tmp_path / "index").manifest.embed_backend == "torch"
    # Another backend re-embeds every file: one index holds one backend's vectors.
    report = ingest(
        [docs], tmp_path / "index", onnx_embedder, ChunkParams(), sentence_vectors="pooled"
    )
    assert report.chunks_embedded == first.chunks_embedded > 0
    assert report.vectors_reused == 0
    index = Index.load(tmp_path / "index")
    m = index.manifest
    assert (m.embed_backend, m.sentence_vectors) == ("onnx-int8", "pooled")
    assert m.embed_backend_checksum == onnx_embedder.backend_checksum
    stored = [s.vector for row in range(len(index)) for s in index.sentences_of(row)]
    assert stored and all(v is not None for v in stored)
    assert np.allclose(np.linalg.norm(np.vstack(stored), axis=1), 1.0, atol=1e-4)  # type: ignore[arg-type]
    index.check_model(m.embed_model, m.embed_checksum, "torch")  # compatible: no error
    # Unless told otherwise, the next ingest or question uses the backend that built it.
    where = {"RAG_INDEX": str(tmp_path / "index")}
    assert load_settings(where).embed.backend == "onnx"
    assert load_settings({**where, "RAG_EMBED_BACKEND": "torch"}).embed.backend == "torch"
    with pytest.raises(IndexMismatchError, match="RAG_EMBED_BACKEND"):
        index.check_model(m.embed_model, m.embed_checksum, "openvino-int8")
