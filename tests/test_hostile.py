"""Hostile input and damaged state, as a careless or hostile user produces them (issue 14).

Each case runs through the `rag` command (a subprocess: exit code, a one-line message,
never a traceback) and through the Python API (a specific `rag.errors` exception). The
inputs are built here, small: the limits are lowered with their flags instead of
generating hundreds of megabytes (docs/benchmarks.md measures the real sizes).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rag import ConfigError, IndexCorruptError, IngestError, InvalidQuestionError, ask
from rag.embed import SentenceTransformerEmbedder
from rag.evals.bench_hostile import docx_bomb
from rag.index import Index, read_manifest
from rag.ingest.chunk import ChunkParams
from rag.ingest.limits import ReadLimits
from rag.ingest.parse import parse_document
from rag.ingest.pipeline import Committed, ingest
from rag.ingest.readers import read_document

pytestmark = pytest.mark.slow

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"
NEWS = (
    "湖州颁发生态鼎\n\n本报讯(记者 沈越)湖州市昨日首次颁发生态文明建设鼎。"
    "安吉县捧获生态文明冠军鼎，德清县和长兴县获得进步鼎。"
    "市委书记在颁奖仪式上说，生态是湖州最大的优势。\n"
)


def rag(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rag", *args],
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
    )


def one_line_error(out: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    """The run failed with `code` and one `error:` line naming every needle; no traceback."""
    assert out.returncode == code, (out.returncode, out.stdout, out.stderr)
    assert "Traceback" not in out.stderr + out.stdout
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, out.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


@pytest.fixture(scope="module")
def small_index(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Path:
    docs = tmp_path_factory.mktemp("small-docs")
    (docs / "news.txt").write_text(NEWS, "utf-8")
    index = tmp_path_factory.mktemp("small") / "index"
    ingest([docs], index, embedder, ChunkParams())
    return index


def damaged(small_index: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "index"
    shutil.copytree(small_index, copy)
    return copy


# -- 1, 2, 3: a DOCX bomb, deep HTML and a non-UTF-8 name beside a good file ----------


def test_bomb_deep_html_and_foreign_names_are_skipped_or_escaped_never_sink_the_run(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.txt").write_text(NEWS, "utf-8")
    docx_bomb(docs / "bomb.docx", inflated_mb=3)
    (docs / "deep.html").write_text("<div>" * 10_000 + "深", "utf-8")
    foreign = os.fsdecode("gbk-名字".encode("gbk") + b".txt")  # bytes from another locale
    (docs / foreign).write_text(NEWS.replace("湖州", "嘉兴"), "utf-8")
    out = rag(
        "ingest", str(docs), "--index", str(tmp_path / "idx"), "--quiet",
        "--max-inflated-mb", "2", "--max-depth", "500",
        env=cli_env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    assert "added 2" in out.stdout
    assert (
        "bomb.docx: DOCX content inflates to 3.0 MB, over the 2 MB inflated-size limit "
        "(raise it with --max-inflated-mb or RAG_MAX_INFLATED_MB)"
    ) in out.stdout
    assert "deep.html: HTML elements nest more than 500 levels deep, over the markup-depth " in (
        out.stdout
    )
    assert "--max-depth or RAG_MAX_DEPTH" in out.stdout
    escaped = "gbk-" + "".join(f"\\x{b:02x}" for b in "名字".encode("gbk")) + ".txt"
    assert escaped in out.stdout
    sources = set(read_manifest(tmp_path / "idx").files)
    assert sources == {"good.txt", escaped}


def test_readers_refuse_over_limit_files_before_reading_them(tmp_path: Path) -> None:
    from rag.errors import UnreadableFileError

    docx_bomb(tmp_path / "bomb.docx", inflated_mb=3)
    with pytest.raises(UnreadableFileError, match=r"inflates to 3\.0 MB.*--max-inflated-mb"):
        read_document(tmp_path / "bomb.docx", tmp_path, ReadLimits(max_inflated_mb=2))
    # Under a raised limit the same file is read (and holds one short paragraph).
    doc = read_document(tmp_path / "bomb.docx", tmp_path, ReadLimits(max_inflated_mb=4))
    assert doc.text.strip() == "浙江新闻。"
    (tmp_path / "big.txt").write_text(NEWS * 5000, "utf-8")
    with pytest.raises(UnreadableFileError, match=r"file is 1\.\d MB, over the 1 MB file-size"):
        read_document(tmp_path / "big.txt", tmp_path, ReadLimits(max_file_mb=1))
    with pytest.raises(ConfigError, match="--max-depth"):
        ReadLimits(max_depth=0)


# -- 4, 5: nothing to ingest, an index path that is a file -----------------------------


def test_missing_input_fails_and_keeps_the_index(
    small_index: Path,
    tmp_path: Path,
    cli_env: dict[str, str],
    embedder: SentenceTransformerEmbedder,
) -> None:
    index = damaged(small_index, tmp_path)
    before = (index / "manifest.json").read_text("utf-8")
    out = rag("ingest", "no/such/dir", "--index", str(index), env=cli_env)
    one_line_error(out, 1, "nothing was ingested", "no/such/dir: no such file or directory")
    with pytest.raises(IngestError, match="nothing was ingested"):
        ingest(["no/such/dir"], index, embedder, ChunkParams())
    assert (index / "manifest.json").read_text("utf-8") == before


def test_index_path_that_is_a_file(tmp_path: Path, cli_env: dict[str, str]) -> None:
    (tmp_path / "a.txt").write_text(NEWS, "utf-8")
    (tmp_path / "PATH").write_text("not a directory", "utf-8")
    out = rag("ingest", str(tmp_path / "a.txt"), "--index", str(tmp_path / "PATH"), env=cli_env)
    one_line_error(out, 2, "is a file, not an index directory", "--index")
    out = rag("info", "--index", str(tmp_path / "PATH"), env=cli_env)
    one_line_error(out, 1, "is a file, not an index directory")


# -- 6: a large file: a size limit, an estimate, batch commits, resume ------------------


def test_large_file_is_refused_by_default_then_estimated_and_committed_in_batches(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    (tmp_path / "big.txt").write_text(NEWS * 5000, "utf-8")  # 1.2 MB
    out = rag("ingest", str(tmp_path / "big.txt"), "--index", str(tmp_path / "idx"),
              "--max-file-mb", "1", env=cli_env)  # fmt: skip
    one_line_error(out, 1, "over the 1 MB file-size limit", "--max-file-mb or RAG_MAX_FILE_MB")


def test_interrupted_ingest_keeps_its_batches_and_resumes(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    # Three short files as one: several embedding groups, so a commit falls inside it.
    parts = ["002_25df68110ca78dc9.txt", "003_c2acb2615f69c0ed.txt", "004_08340decf78e2cdb.txt"]
    text = "\n\n".join((CORPUS / name).read_text("utf-8") for name in parts)
    (docs / "a.txt").write_text(text, "utf-8")
    (docs / "b.txt").write_text(NEWS, "utf-8")
    index = tmp_path / "idx"
    commits: list[Committed] = []

    def stop_after_first_commit(done: Committed) -> None:
        commits.append(done)
        raise KeyboardInterrupt  # what Ctrl-C does, at the worst moment for it

    with pytest.raises(KeyboardInterrupt):
        ingest([docs], index, embedder, ChunkParams(), commit_every=0,
               on_commit=stop_after_first_commit, sentence_vectors="separate")  # fmt: skip
    assert commits and commits[0].partial == "a.txt"
    partial = read_manifest(index).files["a.txt"]
    full = parse_document(read_document(docs / "a.txt", docs), ChunkParams())
    assert not partial.complete and 0 < partial.chunks < len(full.chunks)
    assert "b.txt" not in read_manifest(index).files
    kept = Index.load(index)  # usable as it is: the finished part answers questions
    assert len(kept.chunks) == partial.chunks

    estimates = []
    # "separate": the check below compares chunk vectors with each chunk embedded alone.
    report = ingest([docs], index, embedder, ChunkParams(), on_estimate=estimates.append,
                    sentence_vectors="separate")  # fmt: skip
    assert report.resumed == ["a.txt"] and report.added == ["b.txt"]
    assert report.vectors_reused >= partial.chunks
    assert estimates and estimates[0].reused == report.vectors_reused
    texts_total = len(full.chunks) + len({s for c in full.chunks for s in c.sentences})
    assert estimates[0].texts < texts_total, "the resumed run embeds only what was missing"
    done = read_manifest(index).files["a.txt"]
    assert done.complete and done.chunks == len(full.chunks)
    resumed = Index.load(index)
    fresh_vectors = embedder.embed([f"{c.title}\n{c.text}" for c in resumed.chunks[:3]], "passage")
    assert abs(resumed.all_vectors()[:3] - fresh_vectors).max() < 1e-4


def test_ingest_prints_the_work_estimate_before_embedding(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    shutil.copy(CORPUS / "004_08340decf78e2cdb.txt", tmp_path / "a.txt")
    out = rag("ingest", str(tmp_path / "a.txt"), "--index", str(tmp_path / "idx"),
              "--quiet", env=cli_env)  # fmt: skip
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stderr.splitlines() if x.startswith("to embed:"))
    assert "texts from 1 file(s)" in line and "texts/s measured here" in line
    assert "resumes where it stopped" in line


# -- 7: a damaged manifest or data directory -------------------------------------------


@pytest.mark.parametrize(
    "damage",
    [
        "null", "[]", "{}", "truncated", "dim-as-text", "files-null", "data-dir-escape",
        "no-data-dir", "missing-file", "truncated-file",
    ],
)  # fmt: skip
def test_every_malformed_index_is_index_corrupt(
    small_index: Path, tmp_path: Path, damage: str
) -> None:
    index = damaged(small_index, tmp_path)
    manifest = index / "manifest.json"
    raw = json.loads(manifest.read_text("utf-8"))
    data = index / raw["data_dir"]
    segment = data / raw["segments"][0]
    if damage in ("null", "[]", "{}"):
        manifest.write_text(damage, "utf-8")
    elif damage == "truncated":
        manifest.write_text(manifest.read_text("utf-8")[:40], "utf-8")
    elif damage == "dim-as-text":
        manifest.write_text(json.dumps({**raw, "dim": "384"}), "utf-8")
    elif damage == "files-null":
        manifest.write_text(json.dumps({**raw, "files": {"news.txt": None}}), "utf-8")
    elif damage == "data-dir-escape":
        manifest.write_text(json.dumps({**raw, "data_dir": "../elsewhere"}), "utf-8")
    elif damage == "no-data-dir":
        shutil.rmtree(data)
    elif damage == "missing-file":
        (segment / "chunks.jsonl").unlink()
    else:
        (segment / "documents.jsonl").write_bytes((segment / "documents.jsonl").read_bytes()[:10])
    with pytest.raises(IndexCorruptError, match=r"rm -r .* && rag ingest DOCS --index"):
        Index.load(index)


def test_damaged_index_through_the_cli(
    small_index: Path, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    index = damaged(small_index, tmp_path)
    (index / "manifest.json").write_text("null", "utf-8")
    one_line_error(rag("info", "--index", str(index), env=cli_env), 1, "rag ingest DOCS")
    index2 = damaged(small_index, tmp_path / "2")
    shutil.rmtree(index2 / read_manifest(index2).data_dir)
    out = rag("ask", "哪个县捧获了冠军鼎？", "--index", str(index2), env=cli_env)
    one_line_error(out, 1, "data directory", "is missing", "rag ingest DOCS")


# -- 8, 9: unusable arguments and content-free questions -------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "needle"),
    [
        ({"history": 5}, InvalidQuestionError, "history must be a list"),
        ({"history": "你好"}, InvalidQuestionError, "history must be a list"),
        ({"history": [42]}, InvalidQuestionError, "history must be a list"),
        ({"history": [{"content": "x"}]}, InvalidQuestionError, "history must be a list"),
        ({"history": [("问", 3)]}, InvalidQuestionError, "history must be a list"),
        ({"k": "5"}, ConfigError, "k must be a whole number"),
        ({"k": True}, ConfigError, "k must be a whole number"),
        ({"k": 0}, ConfigError, "k must be between 1 and 50"),
        ({"mode": "fast"}, ConfigError, "mode must be auto, llm or extractive"),
        ({"index": 5}, ConfigError, "index must be a directory path"),
    ],
)
def test_ask_validates_every_argument(
    small_index: Path, kwargs: dict[str, object], error: type[Exception], needle: str
) -> None:
    args: dict[str, object] = {"index": small_index, **kwargs}
    with pytest.raises(error, match=needle):
        ask("哪个县捧获了冠军鼎？", **args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "question", ["？？？", "...!!", "😀🎉👍", "\x01\x02\x7f", "\u200b\u200e　"]
)
def test_content_free_questions_are_rejected(small_index: Path, question: str) -> None:
    with pytest.raises(InvalidQuestionError, match=r"no words|empty"):
        ask(question, index=small_index)


def test_content_free_question_through_the_cli(small_index: Path, cli_env: dict[str, str]) -> None:
    out = rag("ask", "？？？", "--index", str(small_index), env=cli_env)
    one_line_error(out, 2, "the question has no words")


def test_history_in_both_shapes_is_normalised() -> None:
    from rag.ask import normalise_history

    messages = [
        {"role": "user", "content": "湖州颁发了什么？"},
        {"role": "assistant", "content": "生态鼎。"},
        {"role": "assistant", "content": {"path": "chart.png"}},  # a chat page attachment
        {"role": "system", "content": "ignored"},
    ]
    assert normalise_history(messages) == messages[:2]
    assert normalise_history([("湖州颁发了什么？", "生态鼎。"), ("哪个县？", None)]) == [
        {"role": "user", "content": "湖州颁发了什么？"},
        {"role": "assistant", "content": "生态鼎。"},
        {"role": "user", "content": "哪个县？"},
    ]
    assert normalise_history(None) == normalise_history([]) == []


# -- 11: stdout closed early -----------------------------------------------------------


def test_closed_stdout_is_not_a_traceback(small_index: Path, cli_env: dict[str, str]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag", "info", "--index", str(small_index)],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # `| head -0`: the reader is gone before anything is written
    err = proc.stderr.read().decode("utf-8", "replace")
    assert proc.wait(timeout=120) in (0, 141)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
