"""The store seam: segments, superseded rows, compaction, ANN, postings-only BM25, and
the one retrieval path. Store mechanics run on synthetic files (rag.evals.bench_scale)
through the real segment and commit code; the last tests use the real model."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag import index as index_module
from rag import segment as segment_module
from rag.config import EmbedSettings, Settings
from rag.embed import SentenceTransformerEmbedder
from rag.evals.bench_scale import Archive, Vocabulary, manifest_for, merge_files
from rag.evals.metrics import GoldItem
from rag.evals.run import evaluate_item
from rag.index import FileRecord, Index, SegmentData, commit, compact, read_manifest
from rag.keyword import KeywordHits, KeywordIndex
from rag.retrieve import Hit, RetrievalParams, Retriever, fuse, score_vector
from rag.segment import chunk_id
from rag.store import Store

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"


@pytest.fixture(scope="module")
def archive() -> Archive:
    return Archive(2000, Vocabulary.from_corpus(CORPUS), seed=3)


def _files(archive: Archive, numbers: list[int], n_chunks: int = 20) -> dict[str, tuple]:
    out = {}
    for n in numbers:
        data, record = archive.file(n, n_chunks)
        out[data.documents[0].source] = (data, record)
    return out


def _one(files: dict[str, tuple]) -> tuple[SegmentData, dict[str, FileRecord]]:
    return merge_files([d for d, _ in files.values()]), {s: r for s, (_, r) in files.items()}


def _write(path: Path, files: dict[str, tuple]) -> Index:
    data, records = _one(files)
    path.mkdir(parents=True, exist_ok=True)
    commit(path, manifest_for({}), None, {}, records, data)
    return Index.load(path)


def _add(path: Path, files: dict[str, tuple]) -> Index:
    """Commit `files` as a new segment; every other file stays where it is."""
    old = Index.load(path)
    data, records = _one(files)
    kept = {s: r for s, r in old.manifest.files.items() if s not in records}
    commit(path, old.manifest, old, kept, records, data)
    return Index.load(path)


def _by_id(store: Store, hits: KeywordHits) -> dict[str, float]:
    return {
        chunk_id(store.chunk(int(r))): round(float(s), 5)
        for r, s in zip(hits.rows, hits.scores, strict=True)
    }


def _dense(store: Store, vector: np.ndarray, k: int = 8) -> list[tuple[str, float]]:
    return [(chunk_id(store.chunk(r)), round(s, 5)) for r, s in store.search(vector, k)]


def test_keyword_hits_by_hand() -> None:
    hits = KeywordHits(np.array([1, 4, 7]), np.array([2.0, 5.0, 5.0], np.float32))
    assert hits.top(2) == [4, 7]  # a tie: the lower row first
    assert hits.top(10) == [4, 7, 1]
    assert (hits.get(4), hits.get(3), hits.max()) == (5.0, 0.0, 5.0)
    dense = KeywordHits.dense([0.0, 3.0, 0.0])
    assert dense.rows.tolist() == [1] and dense.scores.tolist() == [3.0]


def test_bm25_from_postings_by_hand() -> None:
    # "b" is in document 0 only: idf = ln(1 + (2 - 1 + .5) / (1 + .5)) = ln 2; document 0
    # has 2 terms, the mean is 1.5: norm = 1.2 * (.25 + .75 * 2 / 1.5) = 1.5;
    # weight = 1 * 2.2 / (1 + 1.5) * ln 2.
    kw = KeywordIndex.build([["a", "b"], ["a"]])
    hits = kw.search("b")
    assert hits.rows.tolist() == [0]
    assert hits.scores[0] == pytest.approx(2.2 / 2.5 * math.log(2), rel=1e-5)


def test_a_segmented_index_scores_like_one_built_at_once(archive: Archive, tmp_path: Path) -> None:
    a_b = _files(archive, [1, 2])
    c = _files(archive, [3])
    b_new = _files(archive, [2], n_chunks=12)  # file 2 changed: other text and vectors
    index = tmp_path / "segmented"
    _write(index, a_b)
    first = read_manifest(index)
    vectors = index / first.data_dir / first.segments[0] / "vectors.faiss"
    inode = vectors.stat().st_ino
    _add(index, c)
    segmented = _add(index, b_new)
    m = segmented.manifest
    assert len(m.segments) == 3
    assert m.files["synthetic/0000001.txt"].segment == first.segments[0]
    # carried over by hard link, not copied or rewritten
    assert (index / m.data_dir / first.segments[0] / "vectors.faiss").stat().st_ino == inode
    a = {"synthetic/0000001.txt": a_b["synthetic/0000001.txt"]}
    fresh = _write(tmp_path / "fresh", {**a, **c, **b_new})
    assert len(segmented) == len(fresh) == 20 + 20 + 12
    assert sorted(segmented.sources()) == sorted(fresh.sources())
    texts = {segmented.chunk(r).text for r in range(len(segmented))}
    assert texts == {fresh.chunk(r).text for r in range(len(fresh))}
    assert not texts & {ch.text for ch in a_b["synthetic/0000002.txt"][0].chunks}
    for row in (0, 25, 45):
        chunk = fresh.chunk(row)
        query = chunk.text[:10]
        assert _by_id(segmented, segmented.keyword_search(query)) == _by_id(
            fresh, fresh.keyword_search(query)
        )
        vector = fresh.sentences_of(row)[0].vector
        assert vector is not None
        assert _dense(segmented, vector) == _dense(fresh, vector)
        found = [chunk_id(segmented.chunk(r)) for r, _ in segmented.search_sentences(vector, 5)]
        assert found == [chunk_id(fresh.chunk(r)) for r, _ in fresh.search_sentences(vector, 5)]
    compacted = compact(index)
    merged = Index.load(index)
    assert len(compacted.segments) == 1 and len(merged) == len(fresh)
    query = fresh.chunk(3).text[:10]
    assert _by_id(merged, merged.keyword_search(query)) == _by_id(
        fresh, fresh.keyword_search(query)
    )


def test_large_segments_search_an_inverted_file_that_skips_superseded_rows(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(segment_module, "ANN_ROWS", 1000)
    files = _files(archive, list(range(10, 70)))  # 60 files x 20 chunks: one IVF segment
    index = _write(tmp_path / "ann", files)
    seg = index.segments[0]
    assert seg.ann == "ivf"
    assert (seg.vectors.nlist, seg.vectors.nprobe) == (30, 16)  # a query scans 16 of 30 cells
    exact = index.all_vectors()
    np.testing.assert_allclose(exact[:5], files["synthetic/0000010.txt"][0].vectors[:5], atol=1e-6)
    recalls = []
    for row in range(0, 1200, 60):
        vector = index.sentences_of(row)[1].vector
        assert vector is not None
        truth = set(np.argsort(-(exact @ vector))[:10].tolist())
        recalls.append(len(truth & {r for r, _ in index.search(vector, 10)}) / 10)
    assert np.mean(recalls) >= 0.9
    replaced = "synthetic/0000010.txt"
    stale = {chunk_id(ch) for ch in files[replaced][0].chunks}
    updated = _add(tmp_path / "ann", _files(archive, [10], n_chunks=5))
    assert updated.segments[0].ann == "ivf" and len(updated) == 59 * 20 + 5
    vector = files[replaced][0].vectors[0]  # the superseded chunk's own vector
    assert not stale & {chunk_id(updated.chunk(r)) for r, _ in updated.search(vector, 20)}


def test_similarities_from_the_sentence_scan_match_those_of_each_chunk(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three segments, one file superseded: global rows skip the dead ones.
    path = tmp_path / "segmented"
    _write(path, _files(archive, [1, 2]))
    _add(path, _files(archive, [3]))
    index = _add(path, _files(archive, [2], n_chunks=12))
    rows = list(range(len(index)))[::-1]  # any order, every row
    for row in (0, 30, len(index) - 1):
        vector = index.sentences_of(row)[1].vector
        assert vector is not None
        index.search_sentences(vector, 5)  # the scan similarities reuse
        chunk, best = index.similarities(vector, rows)
        monkeypatch.setattr(index_module, "SENTENCE_SCAN_LIMIT", 0)  # each chunk's sentences
        chunk_each, best_each = index.similarities(vector, rows)
        monkeypatch.undo()
        np.testing.assert_allclose(chunk, chunk_each, atol=1e-6)
        np.testing.assert_allclose(best, best_each, atol=1e-6)
        assert best[rows.index(row)] == pytest.approx(1.0, abs=1e-4)  # its own sentence
        assert not np.allclose(best, chunk)  # sentence cosines, not the chunks' again


def test_without_a_sentence_scan_the_candidates_sentences_are_scored(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = _write(tmp_path / "idx", _files(archive, [30, 31, 32]))
    vector = index.sentences_of(7)[2].vector
    assert vector is not None
    query = index.chunk(7).text[:8]
    scanned = score_vector(index, vector, query, RetrievalParams())
    assert 7 in scanned.sentence
    monkeypatch.setattr(index_module, "SENTENCE_SCAN_LIMIT", 0)  # as a large store does
    assert index.search_sentences(vector, 5) == []
    limited = score_vector(index, vector, query, RetrievalParams())
    chunk_top = {r for r, _ in index.search(vector, 50)}
    assert set(limited.dense) == chunk_top | set(limited.keyword.top(50))
    # the sentence signal of a candidate is the same whichever way it was found
    for row in set(limited.sentence) & set(scanned.sentence):
        assert limited.sentence[row] == pytest.approx(scanned.sentence[row], abs=1e-5)
    assert fuse(limited, RetrievalParams(), 1)[0].row == 7


def test_the_rerank_hook_reaches_the_assistant_and_the_evaluation(
    demo_index: Path, embed_settings: EmbedSettings, embedder: SentenceTransformerEmbedder
) -> None:
    from rag.ask import Assistant

    def backwards(query: str, store: Store, hits: list[Hit]) -> list[Hit]:
        return list(reversed(hits))

    settings = Settings(index=demo_index, embed=embed_settings)
    plain = Assistant(settings, embedder=embedder)
    reranked = Assistant(settings, embedder=embedder, rerank=backwards)
    question = "湖州首次颁发的生态鼎中，哪个县捧获了生态文明冠军鼎？"
    store = plain.index
    scores = plain.retriever.scores(store, question)
    fused = plain.retriever.rank(store, question, scores, RetrievalParams().candidates)
    assert [h.row for h in reranked.prepare(question, 3).hits] == [h.row for h in fused[::-1][:3]]
    item = GoldItem(id="x", lang="zh", question=question, answerable=True, answer="长兴县",
                    key_facts=("长兴县",), source=None, evidence=("长兴县捧获",), kind="fact",
                    split="test")  # fmt: skip
    configs = {"hybrid": RetrievalParams()}
    assert evaluate_item(item, plain, configs, modes=()).ranks["hybrid"] == 1
    assert evaluate_item(item, reranked, configs, modes=()).ranks["hybrid"] != 1


def test_ingest_appends_a_segment_and_compact_merges_them(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, cli_env: dict[str, str]
) -> None:
    import subprocess
    import sys

    from rag.ingest.chunk import ChunkParams
    from rag.ingest.pipeline import ingest

    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    (one / "a.txt").write_text("湖州召开推进大会。其中，长兴县捧获生态文明冠军鼎。", "utf-8")
    (two / "b.txt").write_text("绍兴的网上轻纺城去年撮合业务量达到五百亿元。", "utf-8")
    index = tmp_path / "index"
    ingest([one], index, embedder, ChunkParams())
    first = read_manifest(index).segments
    report = ingest([two], index, embedder, ChunkParams())
    manifest = read_manifest(index)
    assert report.chunks_embedded == manifest.files["b.txt"].chunks  # a.txt untouched
    assert len(manifest.segments) == 2 and manifest.segments[0] == first[0]
    out = subprocess.run(
        [sys.executable, "-m", "rag", "compact", "--index", str(index)],
        capture_output=True, text=True, env=cli_env, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "segments: 2 -> 1" in out.stdout
    merged = Index.load(index)
    assert len(merged.manifest.segments) == 1 and sorted(merged.sources()) == ["a.txt", "b.txt"]
    row = next(r for r in range(len(merged)) if "长兴县" in merged.chunk(r).text)
    hits = Retriever(embedder).retrieve(merged, "哪个县捧获了冠军鼎？", 1)
    assert hits[0].row == row
    copy = tmp_path / "copy"
    shutil.copytree(index, copy)
    assert len(Index.load(copy)) == len(merged)  # a copied index is complete on its own


@pytest.mark.parametrize("which", ["rare", "common"])
def test_store_bm25_matches_the_in_memory_keyword_index(
    archive: Archive, tmp_path: Path, which: str
) -> None:
    files = _files(archive, [40, 41, 42, 43])
    data, _ = _one(files)
    index = _write(tmp_path / "idx", files)
    reference = KeywordIndex(data.tf, data.vocab)
    counts = np.asarray((data.tf > 0).sum(axis=0)).ravel()
    terms = sorted(data.vocab, key=lambda t: counts[data.vocab[t]])
    # a rare term reads a few postings (sparse sum); a common one most rows (dense sum)
    term = terms[0] if which == "rare" else terms[-1]
    got, want = index.keyword_search(term), reference.search(term)
    assert len(got) and (len(got) * 8 > len(index)) == (which == "common")
    assert got.rows.tolist() == want.rows.tolist()
    np.testing.assert_allclose(got.scores, want.scores, rtol=1e-5)


def test_an_older_format_is_rebuilt_only_when_nothing_would_be_lost(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    import json

    from rag.errors import IndexMismatchError
    from rag.index import FORMAT_VERSION
    from rag.ingest.chunk import ChunkParams
    from rag.ingest.pipeline import ingest

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("长兴县捧获生态文明冠军鼎。", "utf-8")
    (docs / "b.txt").write_text("绍兴的网上轻纺城撮合业务量达到五百亿元。", "utf-8")
    index = tmp_path / "index"
    index.mkdir()
    old = {"format_version": FORMAT_VERSION - 1, "files": {"a.txt": {}, "b.txt": {}}}
    (index / "manifest.json").write_text(json.dumps(old), "utf-8")
    with pytest.raises(IndexMismatchError, match=r"a\.txt.*--rebuild"):
        ingest([docs / "b.txt"], index, embedder, ChunkParams())  # would drop a.txt
    assert json.loads((index / "manifest.json").read_text("utf-8")) == old  # untouched
    report = ingest([docs], index, embedder, ChunkParams())  # every file: rebuilt
    assert report.added == ["a.txt", "b.txt"]
    assert read_manifest(index).format_version == FORMAT_VERSION
