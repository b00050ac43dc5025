"""Benchmarks. Figures are ratios measured within one run (these machines are noisy).

    python -m rag.evals.bench ingest --corpus data/corpus     # before/after ingest (issue 12)
    python -m rag.evals.bench ask --index data/index          # warm ask() vs query embedding
    python -m rag.evals.bench cold --index data/index         # `rag ask` process start to answer
    python -m rag.evals.bench load --index data/index         # 10 two-turn sessions + an upload
    python -m rag.evals.bench_hostile                         # hostile inputs
    python -m rag.evals.bench serve --index data/index        # 20 streaming openai clients
    python -m rag.evals.bench scale --chunks 100000 --json    # a synthetic archive (issue 11)

Each prints a Markdown block ready for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.ask import Assistant
from rag.config import load_settings
from rag.embed import SentenceTransformerEmbedder
from rag.evals.metrics import load_gold, percentiles
from rag.evals.run import default_gold_path
from rag.index import Index
from rag.text import squeeze


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _header(title: str, command: str) -> list[str]:
    return [
        f"### {title}",
        "",
        f"- command: `{command}`",
        f"- machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}",
        "",
    ]


def bench_ask(index: Path, limit: int) -> str:
    """Warm extractive ask() per gold question vs the query embedding alone, timed in
    turns (ask, then the bare embedding of the same question) so that a machine getting
    busier or quieter during the run moves both figures alike."""
    gold = [i.question for i in load_gold(default_gold_path())]
    questions = gold[:limit]
    assistant = Assistant(load_settings(index=index))
    # Warm-up on other questions than the timed ones: lazy imports and models load here,
    # and nothing a timed question asks is cached by it.
    for q in gold[-20:] if len(gold) > limit + 20 else ["预热问题一", "warm-up question two"]:
        assistant.ask(q, mode="extractive")
    model = assistant.embedder
    assert isinstance(model, SentenceTransformerEmbedder)
    prompt = model.prompt("query")

    def embed(q: str) -> object:  # the backend the index was built with, as ask() uses it
        if model.backend != "torch":
            return model._onnx.encode([q], prompt, model._batching)
        return model.model.encode([q], prompt=prompt)

    ask_ms, embed_ms = [], []
    for q in questions:
        ask_ms += _timed(lambda q: assistant.ask(q, mode="extractive"), [q])
        embed_ms += _timed(embed, [q])
    a, e = percentiles(ask_ms), percentiles(embed_ms)
    lines = _header(
        "Warm `ask()` latency, extractive mode", f"python -m rag.evals.bench ask --index {index}"
    )
    lines += [
        f"{len(questions)} gold questions, one at a time (each: ask, then its bare embedding), "
        "after 20 warm-up questions that are not timed.",
        "",
        "| | p50 | p95 |",
        "|---|---|---|",
        f"| `ask()` (embed + hybrid retrieval + sentence scoring + answer) | {a['p50']:.1f} ms "
        f"| {a['p95']:.1f} ms |",
        f"| query embedding alone | {e['p50']:.1f} ms | {e['p95']:.1f} ms |",
        f"| **ratio ask / embedding** | **{a['p50'] / e['p50']:.2f}** | "
        f"**{a['p95'] / e['p95']:.2f}** |",
    ]
    return "\n".join(lines)


def _timed(fn: Callable[[str], object], items: Sequence[str]) -> list[float]:
    out = []
    for item in items:
        t0 = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def bench_cold(index: Path, runs: int) -> str:
    """Process start to printed answer for `rag ask`, against `python -c pass`."""
    question = "湖州首次颁发的生态鼎中，哪个县捧获了生态文明冠军鼎？"
    cmd = [sys.executable, "-m", "rag", "ask", question, "--index", str(index)]
    cold = [_run_seconds(cmd) for _ in range(runs)]
    bare = [
        _run_seconds([sys.executable, "-c", "import torch, sentence_transformers"])
        for _ in range(runs)
    ]
    lines = _header("Cold start of `rag ask`", f"python -m rag.evals.bench cold --index {index}")
    lines += [
        f"median of {runs} runs",
        "",
        "| | seconds |",
        "|---|---|",
        f"| `rag ask` process start → answer printed | {np.median(cold):.2f} |",
        f"| `python -c 'import torch, sentence_transformers'` | {np.median(bare):.2f} |",
        f"| **ratio** | **{np.median(cold) / np.median(bare):.2f}** |",
    ]
    return "\n".join(lines)


def _run_seconds(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


UPLOAD_TEXT = (
    "舟山建成国内首座海上风电制氢平台\n\n本报舟山6月3日电 舟山岱山海域的海上风电制氢平台"
    "日前建成投用，每天可制取绿氢约2.4吨。\n"
)

Turn = tuple[bool, float, str, int]  # ok, seconds, failure, citations checked


def bench_load(index: Path, sessions: int) -> str:
    """Concurrent two-turn chat sessions through gradio_client against the running page, on
    a copy of the index, with one upload committing during the burst."""
    from gradio_client import Client

    from rag.ui.app import launch

    work = Path(tempfile.mkdtemp(prefix="rag-bench-load-"))
    shutil.copytree(index, work / "index")
    upload = work / "舟山新闻.txt"
    upload.write_text(UPLOAD_TEXT, "utf-8")
    originals = _originals(index, {"uploads/舟山新闻.txt": UPLOAD_TEXT})
    port = _free_port()
    assistant = Assistant(load_settings(index=work / "index"))
    assistant.warm()
    demo = launch(assistant, port=port, block=False, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    gold = [i.question for i in load_gold(default_gold_path())]
    conversations = [(gold[i], gold[i + sessions]) for i in range(sessions)]
    _conversation(Client, url, (gold[-1], gold[-3]), originals)  # warm-up
    single = _conversation(Client, url, (gold[-2], gold[-4]), originals)  # one session alone
    results: list[list[Turn]] = [[] for _ in range(sessions)]
    uploaded: list[tuple[bool, float, str]] = []

    def worker(i: int) -> None:
        results[i] = _conversation(Client, url, conversations[i], originals)

    def uploader() -> None:
        uploaded.append(_upload(Client, url, upload))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(sessions)]
    threads.insert(sessions // 2, threading.Thread(target=uploader))
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    with contextlib.redirect_stdout(sys.stderr):  # Gradio announces it; keep stdout Markdown
        demo.close()
    files_after = len(Index.load(work / "index").manifest.files)
    shutil.rmtree(work, ignore_errors=True)

    turns = [t for conv in results for t in conv]
    ok_conv = [conv for conv in results if len(conv) == 2 and all(t[0] for t in conv)]
    conv_lat = percentiles([sum(t[1] for t in conv) * 1000 for conv in ok_conv])
    turn_lat = percentiles([t[1] * 1000 for t in turns if t[0]])
    lone = sum(t[1] for t in single)
    up_ok, up_s, up_msg = uploaded[0] if uploaded else (False, 0.0, "not run")
    lines = _header(
        f"Load: {sessions} concurrent two-turn chat sessions and one upload",
        f"python -m rag.evals.bench load --index {index}",
    )
    lines += [
        "| | value |",
        "|---|---|",
        f"| conversations fully answered | {len(ok_conv)}/{sessions} |",
        f"| citations checked exact against the files (offsets → quote) | "
        f"{sum(t[3] for t in turns)}, all exact: {all(t[0] for t in turns)} |",
        f"| upload during the burst | {'committed' if up_ok else 'FAILED ' + up_msg} in "
        f"{up_s:.2f} s; index then holds {files_after} files |",
        f"| turn latency p50 / p95 | {turn_lat['p50'] / 1000:.2f} s / "
        f"{turn_lat['p95'] / 1000:.2f} s |",
        f"| conversation (2 turns) latency p50 / p95 | {conv_lat['p50'] / 1000:.2f} s / "
        f"{conv_lat['p95'] / 1000:.2f} s |",
        f"| one conversation alone (2 turns) | {lone:.2f} s |",
        f"| **p95 conversation under load / alone** | **{conv_lat['p95'] / 1000 / lone:.2f}** |",
        f"| wall time for the burst | {wall:.2f} s |",
    ]
    failures = [t[2] for t in turns if not t[0]] + ([] if up_ok else [up_msg])
    if failures:
        lines.append(f"\nfailures: {failures}")
    return "\n".join(lines)


def _originals(index: Path, extra: dict[str, str]) -> dict[str, str]:
    store = Index.load(index)
    docs = {source: store.document(source) for source in store.sources()}
    return {**docs, **extra}


_CITE = re.compile(
    r'data-source="([^"]*)" data-start="(\d+)" data-end="(\d+)">.*?'
    r'<blockquote class="rag-quote">(.*?)</blockquote>',
    re.S,
)


def _exact(sources: str, originals: dict[str, str]) -> tuple[bool, int]:
    """Every citation in the sources panel: does original[start:end] hold its quote?"""
    cites = _CITE.findall(sources)
    ok = all(
        squeeze(originals.get(html.unescape(src), "")[int(a) : int(b)])
        == squeeze(html.unescape(quote))
        for src, a, b, quote in cites
    )
    return ok, len(cites)


def _conversation(
    client_cls: type, url: str, questions: tuple[str, str], originals: dict[str, str]
) -> list[Turn]:
    """One chat session: connect, ask, then ask again with the first turn as history."""
    client = client_cls(url, verbose=False)
    chat: list[object] = []
    turns: list[Turn] = []
    for question in questions:
        t0 = time.perf_counter()
        try:
            # Outputs as the API exposes them: chat, textbox, sources panel, citation list.
            chat, _, sources, *_ = client.predict(question, chat, 5, "auto", api_name="/respond")
            exact, n = _exact(sources, originals)
            ok = len(chat) == 2 * (len(turns) + 1) and "rag-badge" in sources and exact
            why = (
                ""
                if ok
                else f"turn {len(turns) + 1}: {'inexact citation' if not exact else 'no answer'}"
            )
        except Exception as exc:  # a failed session is a result, not a crash
            ok, why, n = False, f"{type(exc).__name__}: {exc}", 0
        turns.append((ok, time.perf_counter() - t0, why, n))
        if not ok:
            break
    return turns


def _upload(client_cls: type, url: str, path: Path) -> tuple[bool, float, str]:
    from gradio_client import handle_file

    t0 = time.perf_counter()
    try:
        summary = client_cls(url, verbose=False).predict(
            [handle_file(str(path))], api_name="/add_files"
        )
        ok = "Added 1 file" in summary
        return ok, time.perf_counter() - t0, "" if ok else summary
    except Exception as exc:
        return False, time.perf_counter() - t0, f"{type(exc).__name__}: {exc}"


def bench_serve(index: Path, clients: int, lone_runs: int = 5) -> str:
    """Concurrent streaming clients through the `openai` SDK against one `rag serve`."""
    import httpx

    port = _free_port()
    cmd = [sys.executable, "-m", "rag", "serve", "--index", str(index), "--port", str(port)]
    env = {k: v for k, v in os.environ.items() if k != "RAG_API_KEY"}
    server = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if server.poll() is not None:
                raise SystemExit(f"rag serve exited with {server.returncode}")
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise SystemExit("rag serve did not start within 300 s") from None
                time.sleep(0.5)
        gold = [i.question for i in load_gold(default_gold_path())]
        alone = _client(base)
        _stream_once(alone, gold[-1])  # warm-up
        lone = [_stream_once(alone, q) for q in gold[-1 - lone_runs : -1]]
        results: list[tuple[bool, float, float, str]] = [(False, 0.0, 0.0, "")] * clients
        sdk = [_client(base) for _ in range(clients)]  # one client (and connection) each
        barrier = threading.Barrier(clients)

        def worker(i: int) -> None:
            barrier.wait()
            results[i] = _stream_once(sdk[i], gold[i % len(gold)])

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(30)
    ok = [r for r in results if r[0]]
    ttft, total = percentiles([r[1] for r in ok]), percentiles([r[2] for r in ok])
    lone_ttft = float(np.median([r[1] for r in lone]))
    lone_total = float(np.median([r[2] for r in lone]))
    lines = _header(
        f"`rag serve`: {clients} concurrent streaming clients (openai SDK)",
        f"python -m rag.evals.bench serve --index {index}",
    )
    lines += [
        "| | value |",
        "|---|---|",
        f"| success (a final chunk with `citations`) | {len(ok)}/{clients} |",
        f"| lone request: time to first token / total (median of {lone_runs}) | "
        f"{lone_ttft:.0f} ms / {lone_total:.0f} ms |",
        f"| under load: time to first token p50 / p95 | {ttft['p50']:.0f} ms / "
        f"{ttft['p95']:.0f} ms |",
        f"| under load: total p50 / p95 | {total['p50']:.0f} ms / {total['p95']:.0f} ms |",
        f"| **TTFT p50 / p95 ÷ lone** | **{ttft['p50'] / lone_ttft:.2f} / "
        f"{ttft['p95'] / lone_ttft:.2f}** |",
        f"| **total p50 / p95 ÷ lone** | **{total['p50'] / lone_total:.2f} / "
        f"{total['p95'] / lone_total:.2f}** |",
        f"| wall time for all clients | {wall:.2f} s ({clients / wall:.1f} answers/s) |",
    ]
    failures = [r[3] for r in results if not r[0]]
    if failures:
        lines.append(f"\nfailures: {failures}")
    return "\n".join(lines)


def _client(base: str) -> Any:
    import openai

    return openai.OpenAI(base_url=f"{base}/v1", api_key="bench", max_retries=0, timeout=300)


def _stream_once(client: Any, question: str) -> tuple[bool, float, float, str]:
    """(ok, ms to the first content delta, ms to the end of the stream, error)."""
    t0 = time.perf_counter()
    first = 0.0
    try:
        stream = client.chat.completions.create(
            model="zhejiang-news-rag",
            messages=[{"role": "user", "content": question}],
            stream=True,
        )
        last = None
        for chunk in stream:
            if not first and chunk.choices and chunk.choices[0].delta.content:
                first = (time.perf_counter() - t0) * 1000
            last = chunk
        total = (time.perf_counter() - t0) * 1000
        ok = last is not None and "citations" in (last.model_extra or {}) and first > 0
        return ok, first, total, "" if ok else "no final chunk with citations"
    except Exception as exc:  # a failed client is a result, not a crash
        total = (time.perf_counter() - t0) * 1000
        return False, first, total, f"{type(exc).__name__}: {exc}"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["scale"]:  # its own options (rag.evals.bench_scale)
        from rag.evals.bench_scale import main as scale

        return scale(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m rag.evals.bench")
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("ingest")
    p.add_argument("--corpus", default="data/corpus")
    p.add_argument("--generated-files", type=int, default=300)
    p.add_argument("--ask-limit", type=int, default=100)
    for name in ("ask", "cold", "load", "serve"):
        p = sub.add_parser(name)
        p.add_argument("--index", default="data/index")
    sub.choices["ask"].add_argument("--limit", type=int, default=300)
    sub.choices["cold"].add_argument("--runs", type=int, default=3)
    sub.choices["load"].add_argument("--sessions", type=int, default=10)
    sub.choices["serve"].add_argument("--clients", type=int, default=20)
    args = parser.parse_args(argv)
    if args.what == "ingest":
        from rag.evals.bench_ingest import bench

        print(bench(Path(args.corpus), args.generated_files, args.ask_limit))
    elif args.what == "ask":
        print(bench_ask(Path(args.index), args.limit))
    elif args.what == "cold":
        print(bench_cold(Path(args.index), args.runs))
    elif args.what == "load":
        print(bench_load(Path(args.index), args.sessions))
    else:
        print(bench_serve(Path(args.index), args.clients))
    return 0


if __name__ == "__main__":
    sys.exit(main())
