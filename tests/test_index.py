"""Ingest into an index: incremental updates, duplicates, bad files, corruption, crashes.

Real model, real FAISS, real files on disk.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from rag.embed import SentenceTransformerEmbedder
from rag.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError, IngestError
from rag.index import FORMAT_VERSION, Index, read_manifest
from rag.ingest.chunk import ChunkParams
from rag.ingest.pipeline import IngestReport, ingest
from rag.text import squeeze

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "corpus"
SMALL = ["002_25df68110ca78dc9.txt", "004_08340decf78e2cdb.txt"]


def _copy_small(d: Path) -> Path:
    d.mkdir()
    for name in SMALL:
        shutil.copy(CORPUS / name, d / name)
    return d


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    return _copy_small(tmp_path / "docs")


def _build(docs: Path, index: Path, embedder: SentenceTransformerEmbedder, **kw: object):  # type: ignore[no-untyped-def]
    return ingest([docs], index, embedder, ChunkParams(), **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> tuple[Path, IngestReport]:
    """The two small files ingested once for the module, and the report of that ingest."""
    root = tmp_path_factory.mktemp("index-module")
    docs = _copy_small(root / "docs")
    return root / "idx", _build(docs, root / "idx", embedder)


@pytest.fixture
def idx(built: tuple[Path, IngestReport], tmp_path: Path) -> Path:
    """This test's own copy of the module's index (tests change it)."""
    shutil.copytree(built[0], tmp_path / "idx")
    return tmp_path / "idx"


def test_index_roundtrip_keeps_offsets_and_vectors(
    built: tuple[Path, IngestReport], idx: Path
) -> None:
    report = built[1]
    assert report.files == 2 and report.chunks > 0 and not report.skipped
    index = Index.load(idx)
    assert len(index) == len(index.chunks) == report.chunks == len(index.all_vectors())
    for row, chunk in enumerate(index.chunks):
        original = index.document(chunk.source)
        assert squeeze(chunk.text) == squeeze(original[chunk.start : chunk.end])
        stored = index.sentences_of(row)
        assert [(s.start, s.end) for s in stored] == list(chunk.sentences)
        assert all(s.vector is not None and s.tags for s in stored)
    norms = np.linalg.norm(index.all_vectors(), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-4)
    manifest = json.loads((idx / "manifest.json").read_text("utf-8"))
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["embed_model"] == "bundled:multilingual-e5-small"
    assert set(manifest["files"]) == set(SMALL)
    assert manifest["chunker"] == asdict(ChunkParams())


def test_incremental_reingest_only_embeds_what_changed(
    docs: Path, idx: Path, built: tuple[Path, IngestReport], embedder: SentenceTransformerEmbedder
) -> None:
    first = built[1]
    again = _build(docs, idx, embedder)
    assert again.chunks_embedded == 0 and sorted(again.unchanged) == SMALL
    assert again.chunks == first.chunks

    (docs / "new.txt").write_text("新增文章标题\n\n本报讯 舟山今年新建了三座跨海大桥。\n", "utf-8")
    with (docs / SMALL[0]).open("a", encoding="utf-8") as fh:
        fh.write("\n\n补充报道\n\n湖州还将于明年举办第二届生态鼎颁奖活动。\n")
    third = _build(docs, idx, embedder)
    assert third.added == ["new.txt"] and third.updated == [SMALL[0]]
    assert third.unchanged == [SMALL[1]]
    unchanged_chunks = read_manifest(idx).files[SMALL[1]].chunks
    # The changed file re-embeds only its new chunks; the others keep their vectors.
    assert 2 <= third.chunks_embedded < third.chunks - unchanged_chunks
    assert third.vectors_reused > 0
    texts = [c.text for c in Index.load(idx).chunks]
    assert any("跨海大桥" in t for t in texts) and any("第二届生态鼎" in t for t in texts)


def test_deleted_files_are_kept_unless_pruned(
    docs: Path, idx: Path, embedder: SentenceTransformerEmbedder
) -> None:
    (docs / SMALL[1]).unlink()
    kept = _build(docs, idx, embedder)
    assert kept.files == 2 and kept.removed == []
    pruned = _build(docs, idx, embedder, prune=True)
    assert pruned.removed == [SMALL[1]] and pruned.files == 1
    assert {c.source for c in Index.load(idx).chunks} == {SMALL[0]}


def test_duplicates_and_unreadable_files_are_skipped_with_reasons(
    docs: Path, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    shutil.copy(docs / SMALL[0], docs / "copy-of-002.txt")
    (docs / "image.txt").write_bytes(bytes(range(256)) * 4)
    (docs / "notes.xyz").write_text("whatever", "utf-8")
    report = _build(docs, tmp_path / "idx", embedder)
    reasons = {s.source: s.reason for s in report.skipped}
    assert reasons["copy-of-002.txt"] == f"duplicate of {SMALL[0]}"  # inputs go in name order
    assert "binary" in reasons["image.txt"]
    assert "unsupported file type" in reasons["notes.xyz"]
    assert report.files == 2


def test_nothing_ingested_fails_and_keeps_the_previous_index(
    tmp_path: Path, idx: Path, embedder: SentenceTransformerEmbedder
) -> None:
    before = (idx / "manifest.json").read_text("utf-8")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "blank.txt").write_text("   \n", "utf-8")
    with pytest.raises(IngestError, match="nothing was ingested"):
        ingest([empty], tmp_path / "fresh", embedder, ChunkParams())
    # An ingest of junk into an existing index fails too, and keeps what was there.
    with pytest.raises(IngestError, match="nothing was ingested"):
        ingest([empty], idx, embedder, ChunkParams())
    assert (
        json.loads((idx / "manifest.json").read_text("utf-8"))["files"]
        == json.loads(before)["files"]
    )


def test_missing_and_corrupt_indexes_say_how_to_rebuild(tmp_path: Path, idx: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="rag ingest"):
        Index.load(tmp_path / "nowhere")
    manifest = read_manifest(idx)
    data = idx / manifest.data_dir / manifest.segments[0]
    with (data / "vectors.faiss").open("r+b") as fh:
        fh.seek(100)
        fh.write(b"\x00\xff\x00\xff")
    with pytest.raises(IndexCorruptError, match=r"vectors\.faiss.*rag ingest"):
        Index.load(idx)
    (idx / "manifest.json").write_text("{not json", "utf-8")
    with pytest.raises(IndexCorruptError, match="rag ingest"):
        Index.load(idx)


def test_other_format_version_or_model_is_refused(idx: Path) -> None:
    index = Index.load(idx)
    with pytest.raises(IndexMismatchError, match="rebuild"):
        index.check_model("BAAI/bge-small-zh", "sha256:0")
    manifest = json.loads((idx / "manifest.json").read_text("utf-8"))
    manifest["format_version"] = FORMAT_VERSION + 1
    (idx / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    with pytest.raises(IndexMismatchError, match="rm -r"):
        Index.load(idx)


def test_changed_chunking_rechunks_everything(
    docs: Path, idx: Path, embedder: SentenceTransformerEmbedder
) -> None:
    report = ingest([docs], idx, embedder, ChunkParams(max_chars=200, overlap=0))
    assert report.unchanged == [] and report.chunks_embedded == report.chunks
    assert read_manifest(idx).chunker == {"max_chars": 200, "overlap": 0}


def test_sigkill_during_ingest_leaves_previous_index_usable(
    docs: Path, idx: Path, cli_env: dict[str, str], kill_while_embedding: Callable[..., None]
) -> None:
    """Kill `rag ingest` while it embeds a big update: the old index still answers."""
    run = [sys.executable, "-m", "rag", "ingest", "--index", str(idx)]
    before = read_manifest(idx)
    shutil.copy(CORPUS / "001_93257fffc3be4eeb.txt", docs)  # a minute of embedding
    kill_while_embedding([*run, str(docs)], cli_env)
    assert read_manifest(idx) == before
    index = Index.load(idx)
    assert {c.source for c in index.chunks} == set(SMALL)
    ask = subprocess.run(
        [sys.executable, "-m", "rag", "ask", "湖州首次颁发生态鼎", "--index", str(idx), "--json"],
        env=cli_env,
        capture_output=True,
        timeout=300,
    )
    assert ask.returncode == 0, ask.stderr.decode()
    answer = json.loads(ask.stdout)
    assert answer["passages"] and answer["passages"][0]["source"] in SMALL


def test_leftovers_of_a_crashed_write_are_ignored_then_cleaned(
    docs: Path, idx: Path, embedder: SentenceTransformerEmbedder
) -> None:
    """A writer killed between building data and committing the manifest."""
    current = read_manifest(idx).data_dir
    (idx / ".tmp-data-crashed").mkdir()
    (idx / ".tmp-data-crashed" / "vectors.faiss").write_bytes(b"half")
    shutil.copytree(idx / current, idx / "data-orphan")  # complete but never committed
    assert Index.load(idx).manifest.data_dir == current
    (docs / "more.txt").write_text("新闻标题\n\n本报讯 衢州新开通一条铁路。\n", "utf-8")
    _build(docs, idx, embedder)
    leftovers = sorted(p.name for p in idx.iterdir() if p.is_dir())
    assert leftovers == [read_manifest(idx).data_dir]
