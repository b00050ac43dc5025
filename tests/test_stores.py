"""One suite over both stores: the embedded FAISS directory and Milvus (a real Milvus Lite
file in tmp_path). Ingest, incremental re-ingest, a changed file, delete and prune, a
SIGKILLed ingest, two writers, a model mismatch and `ask()`'s exact citations must behave
the same on each, through the same library calls and the same `rag` command lines.

The corpus is small on purpose: the first articles of two demo files (about 90 texts to
embed), built once per store and copied into each test."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from rag import Assistant
from rag.config import EmbedSettings, MilvusSettings, Settings
from rag.embed import SentenceTransformerEmbedder
from rag.errors import IndexMismatchError
from rag.fsutil import exclusive_lock
from rag.index import Index
from rag.ingest.chunk import ChunkParams
from rag.ingest.pipeline import IngestReport, ingest
from rag.segment import chunk_id
from rag.store import Store
from rag.text import join_lines

pytestmark = pytest.mark.slow

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"
# file -> (demo file, characters kept: whole paragraphs, its first article or two)
EXCERPTS = {"huzhou.txt": ("002_25df68110ca78dc9.txt", 1500),
            "other.txt": ("004_08340decf78e2cdb.txt", 1500)}  # fmt: skip
QUESTION = "湖州首次颁发的生态鼎中，哪个县捧获了生态文明冠军鼎？"
ADDED = "湖州今年还将新建十座生态公园，总投资八十亿元。"

Target = Path | MilvusSettings


def _write_docs(d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for name, (demo, size) in EXCERPTS.items():
        text = (CORPUS / demo).read_text("utf-8")
        cut = text.rfind("\n\n", 0, size)  # at a paragraph's end
        (d / name).write_text(text[:cut] + "\n", "utf-8")
    return d


def _lite(target: Target) -> str:
    assert isinstance(target, MilvusSettings)
    return target.uri


def _make_target(kind: str, where: Path) -> Target:
    return where / "index" if kind == "faiss" else MilvusSettings(str(where / "milvus.db"))


def _copy(target: Target, where: Path) -> Target:
    if isinstance(target, Path):
        shutil.copytree(target, where / "index")
        return where / "index"
    shutil.copytree(target.uri, where / "milvus.db")  # a Lite database is a directory
    return MilvusSettings(str(where / "milvus.db"))


def _open(target: Target) -> Store:
    if isinstance(target, Path):
        return Index.load(target)
    from rag.milvus_store import MilvusStore

    return MilvusStore.open(target.uri)


def _settings(target: Target, embed: EmbedSettings) -> Settings:
    if isinstance(target, Path):
        return Settings(index=target, embed=embed)
    return Settings(embed=embed, store="milvus", milvus=target)


def _cli_env(target: Target, env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """`rag ingest` arguments and environment for a target: the FAISS one by --index, the
    Milvus one by RAG_STORE/RAG_MILVUS_URI (and --store milvus on the command line)."""
    if isinstance(target, Path):
        return ["--index", str(target)], env
    return ["--store", "milvus"], {**env, "RAG_STORE": "milvus", "RAG_MILVUS_URI": target.uri}


def _all_chunk_ids(store: Store, vector: np.ndarray) -> list[str]:
    """Every row a search can reach (k above the size): what a reader sees."""
    return [chunk_id(store.chunk(r)) for r, _ in store.search(vector, len(store) + 50)]


@pytest.fixture(scope="module")
def docs_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_docs(tmp_path_factory.mktemp("docs"))


@pytest.fixture(scope="module", params=["faiss", "milvus"])
def built(
    request: pytest.FixtureRequest,
    docs_once: Path,
    embedder: SentenceTransformerEmbedder,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Target, IngestReport]:
    target = _make_target(request.param, tmp_path_factory.mktemp(f"built-{request.param}"))
    return target, ingest([docs_once], target, embedder, ChunkParams())


@pytest.fixture
def target(built: tuple[Target, IngestReport], tmp_path: Path) -> Target:
    """This test's own copy of the module's index (never opened by this process yet)."""
    return _copy(built[0], tmp_path)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    return _write_docs(tmp_path / "docs")


def test_ingest_then_an_unchanged_reingest_embeds_nothing(
    built: tuple[Target, IngestReport], target: Target, docs: Path,
    embedder: SentenceTransformerEmbedder,
) -> None:  # fmt: skip
    first = built[1]
    assert sorted(first.added) == sorted(EXCERPTS) and first.files == 2
    assert first.chunks_embedded == first.chunks > 5 and first.sentences_embedded > first.chunks
    store = _open(target)
    assert len(store) == first.chunks and sorted(store.sources()) == sorted(EXCERPTS)
    for name in EXCERPTS:  # every character of the original, as read
        assert store.document(name) == (docs / name).read_text("utf-8")
    again = ingest([docs], target, embedder, ChunkParams())
    assert again.chunks_embedded == 0 and again.sentences_embedded == 0
    assert sorted(again.unchanged) == sorted(EXCERPTS) and again.chunks == first.chunks
    assert _open(target).version == store.version  # nothing changed: no new version


def test_a_changed_file_reuses_its_vectors_and_a_running_reader_sees_the_commit(
    target: Target, docs: Path, embedder: SentenceTransformerEmbedder,
    embed_settings: EmbedSettings,
) -> None:  # fmt: skip
    replica = Assistant(_settings(target, embed_settings), embedder=embedder)
    before = replica.index  # what a `rag serve` replica holds
    n_before, version = len(before), before.version
    vector = embedder.embed([ADDED], "query")[0]
    old_ids = _all_chunk_ids(before, vector)
    with (docs / "huzhou.txt").open("a", encoding="utf-8") as fh:
        fh.write(f"\n{ADDED}\n")
    report = ingest([docs], target, embedder, ChunkParams())
    assert report.updated == ["huzhou.txt"] and report.unchanged == ["other.txt"]
    assert report.vectors_reused > 0 and report.chunks_embedded <= 2
    after = replica.index  # the reader re-checks the committed version per question
    assert after.version != version and len(after) == report.chunks
    ids = _all_chunk_ids(after, vector)
    assert len(ids) == len(set(ids)) == len(after)  # no superseded row is visible
    hits = after.keyword_search("生态公园")
    top = after.chunk(hits.top(1)[0])
    assert top.source == "huzhou.txt" and ADDED in top.text
    assert all(
        ADDED not in before.chunk(int(r)).text for r in before.keyword_search("生态公园").rows
    )
    # the version the reader held before still reads exactly as it was
    assert len(before) == n_before and _all_chunk_ids(before, vector) == old_ids
    assert all(ADDED not in before.chunk(r).text for r, _ in before.search(vector, 5))


def test_delete_keeps_missing_files_unless_pruned(
    target: Target, docs: Path, embedder: SentenceTransformerEmbedder
) -> None:
    (docs / "other.txt").unlink()
    kept = ingest([docs], target, embedder, ChunkParams())
    assert kept.removed == [] and kept.files == 2
    pruned = ingest([docs], target, embedder, ChunkParams(), prune=True)
    assert pruned.removed == ["other.txt"] and pruned.files == 1
    store = _open(target)
    assert store.sources() == ["huzhou.txt"] and len(store) == pruned.chunks
    vector = embedder.embed(["浙江"], "query")[0]
    assert {store.chunk(r).source for r, _ in store.search(vector, 100)} == {"huzhou.txt"}
    assert {store.chunk(int(r)).source for r in store.keyword_search("浙江").rows} <= {"huzhou.txt"}
    with pytest.raises(KeyError):
        store.document("other.txt")
    _write_docs(docs)  # back again: a file deleted is embedded anew
    back = ingest([docs], target, embedder, ChunkParams())
    assert back.added == ["other.txt"] and back.files == 2
    assert len(_open(target)) == back.chunks


def test_sigkill_during_ingest_leaves_the_previous_version_answering(
    target: Target, docs: Path, cli_env: dict[str, str], kill_while_embedding: Callable[..., None]
) -> None:
    """Kill `rag ingest` while it embeds a big update: the old version still answers, and
    the next ingest starts from it."""
    where, env = _cli_env(target, cli_env)
    shutil.copy(CORPUS / "001_93257fffc3be4eeb.txt", docs)  # minutes of embedding
    kill_while_embedding([sys.executable, "-m", "rag", "ingest", *where, str(docs)], env)
    # another process answers from it (a Lite file serves one process: ask before opening)
    ask = subprocess.run(
        [sys.executable, "-m", "rag", "ask", QUESTION, "--json",
         *(where if isinstance(target, Path) else [])],
        env=env, capture_output=True, timeout=300, check=False,
    )  # fmt: skip
    assert ask.returncode == 0, ask.stderr.decode()
    answer = json.loads(ask.stdout)
    assert answer["short"].startswith("长兴县") and answer["citations"][0]["source"] == "huzhou.txt"
    store = _open(target)
    assert sorted(store.sources()) == sorted(EXCERPTS)
    assert "001_93257fffc3be4eeb.txt" not in store.manifest.files


def test_a_second_writer_waits_for_the_first(
    target: Target, docs: Path, cli_env: dict[str, str]
) -> None:
    """Two ingests on one index: the second waits for the lock, then adds its file; none
    is lost."""
    from rag.milvus_store import lock_path

    lock = target / ".lock" if isinstance(target, Path) else lock_path(_lite(target))
    where, env = _cli_env(target, cli_env)
    (docs / "new.txt").write_text("新闻标题\n\n本报讯 衢州新开通一条铁路。\n", "utf-8")
    log = docs.parent / "second.log"
    with exclusive_lock(lock), log.open("w") as err:  # the first writer, mid-ingest
        proc = subprocess.Popen(
            [sys.executable, "-m", "rag", "-v", "ingest", *where, str(docs), "--quiet"],
            env=env, stdout=subprocess.PIPE, stderr=err, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while "waiting for another process" not in log.read_text() and proc.poll() is None:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        time.sleep(1.0)
        assert proc.poll() is None, log.read_text()  # it waits ...
    out, _ = proc.communicate(timeout=300)  # ... and finishes once the first is done
    assert proc.returncode == 0, log.read_text()
    assert "waiting for another process writing this index" in log.read_text()
    assert "added 1" in out
    assert sorted(_open(target).sources()) == sorted([*EXCERPTS, "new.txt"])


def _claim_another_model(target: Target) -> None:
    """Make the index say another model built it (what an index from elsewhere says)."""
    if isinstance(target, Path):
        path = target / "manifest.json"
        manifest = json.loads(path.read_text("utf-8"))
        manifest.update(embed_model="BAAI/bge-small-zh", embed_checksum="sha256:0")
        path.write_text(json.dumps(manifest), "utf-8")
        return
    from rag.milvus_store import _read_blob, _write_blob, connect

    client = connect(target.uri)
    name = f"manifest:{_read_blob(client, 'head')}"
    manifest = json.loads(_read_blob(client, name) or "")
    manifest.update(embed_model="BAAI/bge-small-zh", embed_checksum="sha256:0")
    _write_blob(client, name, json.dumps(manifest))


def test_another_model_is_refused_with_a_clear_error(
    target: Target, docs: Path, embedder: SentenceTransformerEmbedder,
    embed_settings: EmbedSettings,
) -> None:  # fmt: skip
    _claim_another_model(target)
    with pytest.raises(IndexMismatchError) as asked:
        Assistant(_settings(target, embed_settings), embedder=embedder).ask(QUESTION)
    with pytest.raises(IndexMismatchError) as ingested:
        ingest([docs], target, embedder, ChunkParams())
    for exc in (asked.value, ingested.value):
        message = str(exc)
        assert "'BAAI/bge-small-zh'" in message and "\n" not in message
        assert "rag ingest" in message  # what to do
    assert _open(target).manifest.embed_model == "BAAI/bge-small-zh"  # nothing overwritten


def test_ask_returns_exact_citations(
    target: Target, docs: Path, embedder: SentenceTransformerEmbedder,
    embed_settings: EmbedSettings,
) -> None:  # fmt: skip
    answer = Assistant(_settings(target, embed_settings), embedder=embedder).ask(QUESTION)
    assert answer.answered and answer.short is not None and answer.short.startswith("长兴县")
    assert answer.citations and "长兴县捧获" in answer.citations[0].quote
    for c in answer.citations:
        original = (docs / c.source).read_text("utf-8")  # the file itself, not the store
        assert c.quote == join_lines(original[c.start : c.end]), c


# -- Milvus only: what a commit leaves when it dies, and the server's lease -----------------


@pytest.fixture
def lite(built: tuple[Target, IngestReport], tmp_path: Path) -> MilvusSettings:
    target = _copy(built[0], tmp_path)
    assert isinstance(target, MilvusSettings)
    return target


milvus_only = pytest.mark.parametrize("built", ["milvus"], indirect=True)


@milvus_only
def test_milvus_rows_of_an_uncommitted_version_are_invisible_then_removed(
    lite: MilvusSettings, embedder: SentenceTransformerEmbedder
) -> None:
    """A writer killed after inserting its rows, before `head`: readers see the previous
    version exactly; the next writer deletes the orphans."""
    from rag.index import merged
    from rag.milvus_store import CHUNKS, MilvusStore, open_writer

    store = MilvusStore.open(lite.uri)
    vector = embedder.embed(["湖州生态鼎"], "query")[0]
    seen = _all_chunk_ids(store, vector)
    with open_writer(lite.uri) as writer:
        previous = writer.previous(())
        assert previous is not None
        data = merged(previous)  # type: ignore[arg-type]  # every file once more, as commit n+1 would write them
        writer._insert(previous.state.commit + 1, data, [], [], 0.0, 0)  # then it dies
    count = len(store.client.query(CHUNKS, filter="row >= 0", output_fields=["row"]))
    assert count == 2 * len(store)  # the orphans are there ...
    fresh = store.current()
    assert fresh.version == store.version and _all_chunk_ids(fresh, vector) == seen  # ... unseen
    assert sorted(fresh.keyword_search("生态鼎").rows) == sorted(
        store.keyword_search("生态鼎").rows
    )
    with open_writer(lite.uri) as writer:
        writer.previous(())  # a writer opening cleans up first
    count = len(store.client.query(CHUNKS, filter="row >= 0", output_fields=["row"]))
    assert count == len(store)


@milvus_only
def test_milvus_server_lease_admits_one_writer(lite: MilvusSettings) -> None:
    """The lease a server writer takes (exercised on the Lite file: the same calls)."""
    from rag.milvus_store import _lease, _write_blob, connect

    client = connect(lite.uri)
    order: list[str] = []
    with _lease(client, lite.uri):
        second = threading.Thread(target=lambda: _take(client, lite.uri, order))
        second.start()
        time.sleep(3.0)
        order.append("first done")
    second.join(timeout=30)
    assert order == ["first done", "second in"]
    # a lease a killed writer left behind: taken over once it has expired
    _write_blob(client, "lease", json.dumps({"owner": "killed", "until": time.time() - 1}))
    expired = threading.Thread(target=lambda: _take(client, lite.uri, order))
    expired.start()
    expired.join(timeout=30)
    assert order == ["first done", "second in", "second in"]


def _take(client: object, uri: str, order: list[str]) -> None:
    from rag.milvus_store import _lease

    with _lease(client, uri):
        order.append("second in")
