"""The `rag` command, run as a user runs it: a subprocess, exit codes, stdout/stderr."""

from __future__ import annotations

import json
import os
import pty
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from openai_server import OpenAIServer

from rag import Assistant

pytestmark = pytest.mark.slow


def rag(
    *args: str, env: dict[str, str], timeout: float = 300, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rag", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
    )


def test_help_lists_the_subcommands(cli_env: dict[str, str]) -> None:
    out = rag("--help", env=cli_env)
    assert out.returncode == 0
    for sub in ("ingest", "ask", "chat", "eval", "ui", "info"):
        assert sub in out.stdout


def test_ask_json_is_utf8_with_the_public_fields(demo_index: Path, cli_env: dict[str, str]) -> None:
    out = rag(
        "ask",
        "绍兴的网上轻纺城去年撮合业务量达到多少？",
        "--index",
        str(demo_index),
        "--json",
        "--k",
        "3",
        env=cli_env,
    )
    assert out.returncode == 0, out.stderr
    assert "311亿" in out.stdout, "Chinese is printed as is, not \\u-escaped"
    answer = json.loads(out.stdout)
    assert set(answer) == {
        "text", "mode", "answered", "notice", "citations", "passages", "short"
    }  # fmt: skip
    assert answer["short"] == "311亿元"
    assert answer["mode"] == "extractive" and len(answer["passages"]) == 3
    assert set(answer["citations"][0]) == {
        "n", "source", "title", "quote", "start", "end", "passage_id", "supported", "meta"
    }  # fmt: skip
    assert set(answer["citations"][0]["meta"]) == {
        "publication", "issue", "date", "dateline", "byline"
    }  # fmt: skip
    assert answer["citations"][0]["meta"]["byline"] == "孙金良 陈艳", "as the article states it"


def test_ask_readable_output_lists_sources(
    demo_index: Path, cli_env: dict[str, str], assistant: Assistant
) -> None:
    out = rag(
        "ask", "绍兴的网上轻纺城去年撮合业务量达到多少？", "--index", str(demo_index), env=cli_env
    )
    assert out.returncode == 0, out.stderr
    assert (
        "Sources:" in out.stdout
        and "[1]" in out.stdout
        and "000_bbdcf5a10f4685c4.txt" in out.stdout
    )
    # The same question through the library (same index, same defaults) names the metadata
    # the readable output must show; one `rag` process fewer than asking again with --json.
    meta = assistant.ask("绍兴的网上轻纺城去年撮合业务量达到多少？").citations[0].meta
    stated = [v for v in (meta.publication, meta.date, meta.byline) if v]
    assert stated and all(v in out.stdout for v in stated), "the article's metadata is printed"


FIRST, FOLLOW_UP = "热电厂原计划什么时候停止供热？", "后来缩短到几天？"


def test_chat_answers_piped_questions_with_history(
    demo_index: Path, cli_env: dict[str, str]
) -> None:
    lines = f"{FIRST}\n/sources\n{FOLLOW_UP}\n/quit\n未被回答的问题\n"
    out = rag("chat", "--index", str(demo_index), env=cli_env, stdin=lines)
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.split(f"> {FOLLOW_UP}")
    assert first.startswith(f"> {FIRST}") and "2月3日" in first
    assert "characters" in first and "“" in first, "/sources printed the quotes"
    assert "6天" in second, "the follow-up was asked with the first question as history"
    assert "未被回答的问题" not in out.stdout, "/quit ends the session"
    assert "Traceback" not in out.stderr


def test_chat_and_ui_fail_in_one_line(
    tmp_path: Path, demo_index: Path, cli_env: dict[str, str]
) -> None:
    missing = rag("chat", "--index", str(tmp_path / "nope"), env=cli_env, stdin="问题\n")
    assert missing.returncode == 1 and "rag ingest" in missing.stderr
    no_index = rag("ui", "--index", str(tmp_path / "nope"), "--port", "0", env=cli_env)
    assert no_index.returncode == 1 and "rag ingest" in no_index.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        busy = rag("ui", "--index", str(demo_index), "--port", port, env=cli_env, timeout=60)
    assert busy.returncode == 1 and "--port" in busy.stderr and port in busy.stderr
    for result in (missing, no_index, busy):
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) <= 2, result.stderr


def test_bad_input_exits_cleanly(tmp_path: Path, demo_index: Path, cli_env: dict[str, str]) -> None:
    empty = rag("ask", "   ", "--index", str(demo_index), env=cli_env)
    assert empty.returncode == 2 and "question is empty" in empty.stderr
    missing = rag("ask", "问题", "--index", str(tmp_path / "nope"), env=cli_env)
    assert missing.returncode == 1 and "rag ingest" in missing.stderr
    nothing = rag(
        "ingest", str(tmp_path / "no-such-dir"), "--index", str(tmp_path / "i"), env=cli_env
    )
    assert nothing.returncode == 1 and "nothing was ingested" in nothing.stderr
    for result in (empty, missing, nothing):
        assert "Traceback" not in result.stderr


def test_info_describes_the_index(demo_index: Path, cli_env: dict[str, str]) -> None:
    out = rag("info", "--index", str(demo_index), env=cli_env)
    assert out.returncode == 0
    assert "bundled:multilingual-e5-small" in out.stdout
    assert "001_93257fffc3be4eeb.txt" in out.stdout
    manifest = json.loads(rag("info", "--index", str(demo_index), "--json", env=cli_env).stdout)
    assert len(manifest["files"]) == 5


def test_llm_is_configured_from_the_environment(demo_index: Path, cli_env: dict[str, str]) -> None:
    with OpenAIServer(reply=lambda m: "长兴县捧获了生态文明冠军鼎[1]。") as srv:
        env = {
            **cli_env,
            "OPENAI_API_KEY": srv.api_key,
            "OPENAI_BASE_URL": srv.url,
            "RAG_LLM_MODEL": srv.models[0],
        }
        out = rag(
            "ask", "哪个县捧获了生态文明冠军鼎？", "--index", str(demo_index), "--json", env=env
        )
        assert out.returncode == 0, out.stderr
        answer = json.loads(out.stdout)
        assert answer["mode"] == "llm"
        assert srv.requests and srv.requests[-1]["model"] == srv.models[0]


def _read_until(fd: int, needle: str, timeout: float) -> str:
    out, deadline = b"", time.monotonic() + timeout
    while needle.encode() not in out:
        left = deadline - time.monotonic()
        assert left > 0, f"no {needle!r} in {out.decode(errors='replace')!r}"
        if select.select([fd], [], [], left)[0]:
            try:
                out += os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
    return out.decode("utf-8", errors="replace")


def test_chat_at_a_terminal_keeps_the_conversation(
    demo_index: Path, cli_env: dict[str, str]
) -> None:
    master, slave = pty.openpty()
    env = {**cli_env, "TERM": "dumb"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag", "chat", "--index", str(demo_index)],
        stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True,
    )  # fmt: skip
    os.close(slave)
    try:
        assert "/sources" in _read_until(master, "? ", 300), "the help line, then a prompt"
        os.write(master, f"{FIRST}\n".encode())
        assert "2月3日" in _read_until(master, "? ", 120)
        os.write(master, f"{FOLLOW_UP}\n".encode())
        assert "6天" in _read_until(master, "? ", 120), "asked with the conversation so far"
        os.write(master, b"/quit\n")
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
        os.close(master)
    history = Path(cli_env["RAG_CACHE_DIR"]) / "chat_history"
    assert FOLLOW_UP in history.read_text("utf-8"), "readline history is kept"
