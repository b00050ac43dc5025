"""The Milvus store (rag.milvus_store) on a real Milvus Lite: the demo index is migrated
once per module, then every store operation and the README's examples must come out as
they do on the FAISS store the copy was made from. What both stores must do alike on
ingest (re-ingest, delete, SIGKILL, two writers, model mismatch) is tests/test_stores.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_examples import EXPECTED, REFUSED

from rag import Assistant
from rag.cli import main
from rag.config import EmbedSettings, MilvusSettings, Settings, load_settings
from rag.embed import SentenceTransformerEmbedder
from rag.errors import ConfigError, IndexMismatchError, IndexNotFoundError
from rag.index import Index
from rag.milvus_store import MilvusStore, migrate, parse_uri
from rag.segment import chunk_id
from rag.store import Store
from rag.text import join_lines

pytestmark = pytest.mark.slow

QUERIES = ["湖州首次颁发生态鼎", "2023年浙江全省工业增加值", "Which county won the Tripod?"]


@pytest.fixture(scope="module")
def milvus_uri(demo_index: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    uri = str(tmp_path_factory.mktemp("milvus") / "milvus.db")
    report = migrate(demo_index, uri)
    assert report.chunks == len(Index.load(demo_index)) and report.sentences > report.chunks
    return uri


@pytest.fixture(scope="module")
def stores(demo_index: Path, milvus_uri: str) -> tuple[Index, MilvusStore]:
    return Index.load(demo_index), MilvusStore.open(milvus_uri)


@pytest.fixture(scope="module")
def on_milvus(
    demo_index: Path,
    milvus_uri: str,
    embed_settings: EmbedSettings,
    embedder: SentenceTransformerEmbedder,
) -> Assistant:
    settings = Settings(
        index=demo_index, embed=embed_settings, store="milvus", milvus=MilvusSettings(milvus_uri)
    )
    return Assistant(settings, embedder=embedder)


def _ids(store: Store, hits: list[tuple[int, float]]) -> list[str]:
    return [chunk_id(store.chunk(r)) for r, _ in hits]


def _same_ranking(
    milvus: Store, mine: list[tuple[int, float]], faiss: Store, theirs: list[tuple[int, float]]
) -> None:
    """The same chunks in the same order, but for chunks of equal score (a sentence the
    corpus repeats ties to the last float bit, and the stores may break the tie apart)."""
    their_ids = _ids(faiss, theirs)
    theirs_at = {i: s for i, (_, s) in zip(their_ids, theirs, strict=True)}
    for rank, (i, (_, score)) in enumerate(zip(_ids(milvus, mine), mine, strict=True)):
        tied = i in theirs_at and abs(theirs_at[i] - score) < 1e-5
        assert i == their_ids[rank] or tied, (rank, i)


def test_every_store_operation_matches_the_faiss_store(
    stores: tuple[Index, MilvusStore], embedder: SentenceTransformerEmbedder
) -> None:
    faiss, milvus = stores
    assert len(milvus) == len(faiss) and milvus.sources() == faiss.sources()
    row_of = {chunk_id(faiss.chunk(r)): r for r in range(len(faiss))}
    assert set(milvus.vocabulary) == set(faiss.vocabulary)
    for query in QUERIES:
        vector = embedder.embed([query], "query")[0]
        for mine, theirs in ((milvus.search(vector, 10), faiss.search(vector, 10)),
                             (milvus.search_sentences(vector, 10),
                              faiss.search_sentences(vector, 10))):  # fmt: skip
            # rows are each store's own numbers: compare the chunks they name
            _same_ranking(milvus, mine, faiss, theirs)
            np.testing.assert_allclose([s for _, s in mine], [s for _, s in theirs], atol=1e-5)
        hits = milvus.search(vector, 20)
        rows = [row_of[i] for i in _ids(milvus, hits)]  # the same chunks' FAISS rows
        for a, b in zip(milvus.similarities(vector, [r for r, _ in hits]),
                        faiss.similarities(vector, rows), strict=True):  # fmt: skip
            np.testing.assert_allclose(a, b, atol=1e-5)
        mine_kw, theirs_kw = milvus.keyword_search(query), faiss.keyword_search(query)
        assert len(theirs_kw) > 0
        mine_scores = dict(zip(_ids(milvus, [(int(r), 0.0) for r in mine_kw.rows]),
                               mine_kw.scores.tolist(), strict=True))  # fmt: skip
        theirs_scores = dict(zip(_ids(faiss, [(int(r), 0.0) for r in theirs_kw.rows]),
                                 theirs_kw.scores.tolist(), strict=True))  # fmt: skip
        assert mine_scores.keys() == theirs_scores.keys()
        np.testing.assert_allclose([mine_scores[i] for i in theirs_scores],
                                   list(theirs_scores.values()), rtol=1e-5)  # fmt: skip
    assert milvus.idf("湖州") == pytest.approx(faiss.idf("湖州"))
    for hit in milvus.search(embedder.embed([QUERIES[0]], "query")[0], 3):
        row = hit[0]
        assert milvus.chunk(row) == faiss.chunk(row_of[chunk_id(milvus.chunk(row))])
        theirs = faiss.sentences_of(row_of[chunk_id(milvus.chunk(row))])
        for x, y in zip(milvus.sentences_of(row), theirs, strict=True):
            assert (x.start, x.end, x.tags) == (y.start, y.end, y.tags)
            assert (x.vector is None) == (y.vector is None)
            if x.vector is not None and y.vector is not None:
                np.testing.assert_allclose(x.vector, y.vector, atol=1e-6)
    for source in faiss.sources():
        assert milvus.document(source) == faiss.document(source)  # every char, long files too
    chunk = faiss.chunk(len(faiss) // 2)
    span = (chunk.source, chunk.start + 3, chunk.start + 20)
    assert milvus.context(*span) == faiss.context(*span)


@pytest.mark.parametrize("question", sorted(EXPECTED))
def test_the_readme_examples_answer_alike_with_exact_citations(
    on_milvus: Assistant, assistant: Assistant, question: str
) -> None:
    answer, reference = on_milvus.ask(question), assistant.ask(question)
    assert type(on_milvus.index).__name__ == "MilvusStore"
    assert answer.answered and answer.short is not None
    assert answer.short.startswith(EXPECTED[question][0]), answer.short
    assert (answer.text, answer.short) == (reference.text, reference.short)
    assert answer.citations == reference.citations
    for c in answer.citations:
        original = on_milvus.index.document(c.source)
        # the quote is the original span, PDF line breaks rejoined (as on the FAISS store)
        assert c.quote == join_lines(original[c.start : c.end]), c


def test_out_of_corpus_questions_are_refused_on_milvus(on_milvus: Assistant) -> None:
    for question in REFUSED:
        answer = on_milvus.ask(question)
        assert not answer.answered and not answer.citations, answer.text


def test_another_backend_is_refused_with_a_clear_error(milvus_uri: str) -> None:
    store = MilvusStore.open(milvus_uri)
    m = store.manifest
    with pytest.raises(IndexMismatchError, match="backend"):
        store.check_model(m.embed_model, m.embed_checksum, "openvino")
    store.check_model(m.embed_model, m.embed_checksum, m.embed_backend)  # the right one opens


def test_an_empty_target_is_no_index(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="rag migrate --to milvus://"):
        MilvusStore.open(str(tmp_path / "empty.db"))


def test_migrate_cli_refuses_bad_targets_in_one_line(
    demo_index: Path, milvus_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate", "--to", f"milvus://{milvus_uri}", "--index", str(demo_index)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "already holds an index" in err and "\n" not in err
    assert main(["migrate", "--to", "milvus://notes.txt", "--index", str(demo_index)]) == 2
    err = capsys.readouterr().err.strip()
    assert "ending in .db" in err and "\n" not in err
    missing = tmp_path / "no-index"
    assert main(["migrate", "--to", f"milvus://{tmp_path / 'x.db'}", "--index", str(missing)]) == 1
    assert "no index at" in capsys.readouterr().err


def test_the_store_is_configured_once_from_the_environment(tmp_path: Path) -> None:
    uri = str(tmp_path / "m.db")
    settings = load_settings({"RAG_STORE": "milvus", "RAG_MILVUS_URI": uri})
    assert settings.store == "milvus" and settings.milvus == MilvusSettings(uri, "")
    assert load_settings({}).store == "faiss"
    assert load_settings({"RAG_STORE": "faiss"}, store="milvus").store == "milvus"  # the flag
    server = load_settings({"RAG_STORE": "Milvus", "RAG_MILVUS_URI": "http://db:19530",
                            "RAG_MILVUS_TOKEN": "root:Milvus"})  # fmt: skip
    assert server.milvus == MilvusSettings("http://db:19530", "root:Milvus")
    with pytest.raises(ConfigError, match="not a store"):
        load_settings({"RAG_STORE": "qdrant"})
    assert parse_uri("milvus://http://host:19530") == "http://host:19530"
    with pytest.raises(ConfigError, match="names no Milvus"):
        parse_uri("milvus://")


def test_the_cli_reads_the_configured_store(
    demo_index: Path,
    milvus_uri: str,
    cli_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import functools
    import subprocess
    import sys

    # Milvus Lite serves one process at a time: the subprocesses get their own copy
    own = str(tmp_path / "cli.db")
    env = {**cli_env, "RAG_STORE": "milvus", "RAG_MILVUS_URI": own}
    run = functools.partial(
        subprocess.run, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    out = run([sys.executable, "-m", "rag", "migrate", "--to", f"milvus://{own}",
               "--index", str(demo_index)])  # fmt: skip
    assert out.returncode == 0 and "353 chunks" in out.stdout, out.stderr
    question = "2023年浙江全省工业增加值是多少？"
    out = run([sys.executable, "-m", "rag", "ask", question, "--json"])
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr and "grpc" not in out.stderr
    assert json.loads(out.stdout)["short"].startswith("2.94万亿元")

    out = run([sys.executable, "-m", "rag", "info"])
    assert out.returncode == 0 and f"milvus://{own}" in out.stdout, out.stderr

    monkeypatch.setenv("RAG_MILVUS_URI", milvus_uri)
    assert main(["compact", "--store", "milvus"]) == 2
    err = capsys.readouterr().err
    assert "rag migrate" in err and err.count("\n") == 1
