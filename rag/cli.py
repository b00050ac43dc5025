"""The `rag` command. Thin: parse flags, resolve settings, call the library, print.

Library exceptions (rag.errors.RagError) become a one-line message and exit code 1
(2 for unusable input such as an empty question); a user never sees a traceback for a
foreseeable problem.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from rag.config import Settings, load_settings
from rag.errors import ConfigError, InvalidQuestionError, RagError

if TYPE_CHECKING:
    from rag.ask import Assistant
    from rag.evals.metrics import GoldItem
    from rag.evals.shapes import Shape
    from rag.ingest.pipeline import Committed, IngestReport, WorkEstimate

Handler = Callable[[argparse.Namespace, Settings], int]


def _add_index(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", help="index directory (default: $RAG_INDEX or data/index)")
    p.add_argument(
        "--store",
        choices=["faiss", "milvus"],
        help="the index: the directory (faiss) or Milvus at $RAG_MILVUS_URI "
        "(default: $RAG_STORE or faiss)",
    )


def _add_embed(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--embed-model",
        help="sentence-transformers model id or local path "
        "(default: $RAG_EMBED_MODEL or the bundled multilingual-e5-small)",
    )


def _add_llm(p: argparse.ArgumentParser) -> None:
    p.add_argument("--llm-model", help="chat model name (default: $RAG_LLM_MODEL)")
    p.add_argument("--base-url", help="OpenAI-compatible endpoint (default: $OPENAI_BASE_URL)")
    p.add_argument("--api-key", help="API key (default: $OPENAI_API_KEY)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag", description="Question answering over Chinese news with verified citations."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="add files or directories to an index")
    p.add_argument("paths", nargs="+", help=".txt .md .html .pdf .docx files or directories")
    _add_index(p)
    _add_embed(p)
    p.add_argument("--prune", action="store_true", help="remove files not among the inputs")
    p.add_argument("--rebuild", action="store_true", help="re-process every file from scratch")
    p.add_argument(
        "--max-chars",
        type=int,
        help="chunk size in non-space characters (default: the index's own, else 400)",
    )
    p.add_argument(
        "--overlap",
        type=int,
        help="sentences repeated between adjacent chunks (default: the index's, else 1)",
    )
    p.add_argument(
        "--max-file-mb",
        type=float,
        help="skip files larger than this (default 20, $RAG_MAX_FILE_MB)",
    )
    p.add_argument(
        "--max-inflated-mb",
        type=float,
        help="skip DOCX files inflating to more than this (default 100, $RAG_MAX_INFLATED_MB)",
    )
    p.add_argument(
        "--max-depth",
        type=int,
        help="skip HTML nested deeper than this many elements (default 256, $RAG_MAX_DEPTH)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=_cmd_ingest)

    p = sub.add_parser("ask", help="answer a question with cited sentences")
    p.add_argument("question")
    _add_index(p)
    _add_embed(p)
    _add_llm(p)
    p.add_argument("--k", type=int, default=5, help="passages to retrieve (default 5)")
    p.add_argument("--mode", choices=["auto", "extractive", "llm"], default="auto")
    p.add_argument("--json", action="store_true", help="print the answer as UTF-8 JSON")
    p.set_defaults(handler=_cmd_ask)

    p = sub.add_parser(
        "chat",
        help="a conversation in the terminal (or one question per line of piped input)",
        description="Ask follow-up questions with the model kept loaded. Interactive: readline "
        "editing and history, /sources shows the last answer's quotes, /quit leaves. Piped: "
        "each line is a question, asked with the earlier ones as history.",
    )
    _add_index(p)
    _add_embed(p)
    _add_llm(p)
    p.add_argument("--k", type=int, default=5, help="passages to retrieve (default 5)")
    p.add_argument("--mode", choices=["auto", "extractive", "llm"], default="auto")
    p.set_defaults(handler=_cmd_chat)

    p = sub.add_parser("ui", help="start the chat page")
    _add_index(p)
    _add_embed(p)
    _add_llm(p)
    p.add_argument("--host", default="127.0.0.1", help="bind address (default: localhost only)")
    p.add_argument("--port", type=int, default=7860)
    p.set_defaults(handler=_cmd_ui)

    p = sub.add_parser("eval", help="measure retrieval, answers, citations and refusals")
    p.add_argument("--gold", help="gold Q&A JSONL (default: the bundled set for the demo corpus)")
    _add_index(p)
    _add_embed(p)
    _add_llm(p)
    p.add_argument("--out", default="artifacts/eval", help="report directory")
    p.add_argument(
        "--mode",
        choices=["auto", "extractive", "llm"],
        default="auto",
        help="auto: extractive, plus llm when one is configured",
    )
    p.add_argument("--split", choices=["all", "dev", "test"], default="all")
    p.add_argument("--limit", type=int, help="only the first N items (a quick look)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--shape",
        action="append",
        choices=["demo", "paragraphs", "markdown", "all"],
        help="run on the corpus in this shape (repeatable; 'all': every shape, side by side "
        "in shapes.md). demo is --index as is; the others are built under --shapes-dir",
    )
    p.add_argument("--corpus", default="data/corpus", help="corpus the shapes are made from")
    p.add_argument("--shapes-dir", default="data/shapes", help="where shaped corpora live")
    p.set_defaults(handler=_cmd_eval)

    p = sub.add_parser("serve", help="serve the assistant as an OpenAI-compatible API")
    _add_index(p)
    _add_embed(p)
    _add_llm(p)
    p.add_argument("--host", default="127.0.0.1", help="bind address (default: localhost only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--no-sources-block",
        action="store_true",
        help="do not append a Sources block to answer texts (citations stay in `citations`)",
    )
    p.add_argument(
        "--draft",
        action="store_true",
        help="while the LLM writes, stream its unverified draft as `reasoning_content`",
    )
    p.add_argument("--concurrency", type=int, help="answering steps at once (default 4)")
    p.add_argument(
        "--cors-origin",
        action="append",
        metavar="ORIGIN",
        help="let the web page at ORIGIN call the API from a browser (repeatable; '*': any)",
    )
    p.set_defaults(handler=_cmd_serve)

    p = sub.add_parser("info", help="show what an index holds")
    _add_index(p)
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    p.set_defaults(handler=_cmd_info)

    p = sub.add_parser("compact", help="merge an index's segments into one (no re-embedding)")
    _add_index(p)
    p.set_defaults(handler=_cmd_compact)

    p = sub.add_parser(
        "migrate", help="copy an index into Milvus, re-using its vectors (no re-embedding)"
    )
    p.add_argument(
        "--to",
        required=True,
        metavar="milvus://PATH_OR_URI",
        help="milvus://./data/milvus.db (a Milvus Lite file) or milvus://http://HOST:19530",
    )
    p.add_argument("--index", help="the index to copy (default: $RAG_INDEX or data/index)")
    p.set_defaults(handler=_cmd_migrate)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(
        index=getattr(args, "index", None),
        embed_model=getattr(args, "embed_model", None),
        llm_model=getattr(args, "llm_model", None),
        base_url=getattr(args, "base_url", None),
        api_key=getattr(args, "api_key", None),
        max_file_mb=getattr(args, "max_file_mb", None),
        max_inflated_mb=getattr(args, "max_inflated_mb", None),
        max_depth=getattr(args, "max_depth", None),
        store=getattr(args, "store", None),
    )


def _faiss_only(settings: Settings, command: str) -> None:
    if settings.store != "faiss":
        raise ConfigError(
            f"rag {command} works on the FAISS index directory; with RAG_STORE=milvus, "
            f"run it on the directory (--store faiss) and copy it with rag migrate"
        )


def _cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from rag.embed import SentenceTransformerEmbedder
    from rag.ingest.pipeline import chunk_params_for, ingest

    params = chunk_params_for(settings.target, max_chars=args.max_chars, overlap=args.overlap)
    bar = None if args.quiet else _TqdmProgress()
    try:
        report = ingest(
            args.paths,
            settings.target,  # the directory, or Milvus with --store milvus
            SentenceTransformerEmbedder(settings.embed),
            params,
            prune=args.prune,
            rebuild=args.rebuild,
            progress=bar,
            limits=settings.limits,
            on_estimate=_print_estimate,
            on_commit=None if args.quiet else _print_commit,
        )
    finally:
        if bar is not None:
            bar.close()
    print(_ingest_summary(report))
    return 0


def _print_estimate(work: WorkEstimate) -> None:
    if not work.texts:
        return
    reused = f", {work.reused:,} reused from an earlier run" if work.reused else ""
    print(
        f"to embed: {work.texts:,} texts from {work.files} file(s){reused}; about "
        f"{_duration(work.seconds)} at the {work.rate:.1f} texts/s measured here. Progress is "
        "committed as it goes: an interrupted run resumes where it stopped.",
        file=sys.stderr,
    )


def _print_commit(done: Committed) -> None:
    part = f" (and the first part of {done.partial})" if done.partial else ""
    print(
        f"committed: {done.files} complete file(s){part}, {done.chunks:,} chunks, "
        f"after {_duration(done.seconds)}",
        file=sys.stderr,
    )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class _TqdmProgress:
    """Adapts tqdm to a (done, total) progress callback; shows the rate."""

    def __init__(self, desc: str = "embedding", unit: str = "text") -> None:
        self._bar: Any = None
        self._desc = desc
        self._unit = unit

    def __call__(self, done: int, total: int) -> None:
        from tqdm import tqdm

        if self._bar is None:
            if total == 0:
                return
            self._bar = tqdm(total=total, unit=self._unit, desc=self._desc, file=sys.stderr)
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _ingest_summary(report: IngestReport) -> str:
    lines = [
        f"index: {report.index}",
        f"files: {report.files} in index  (added {len(report.added)}, updated "
        f"{len(report.updated)}, resumed {len(report.resumed)}, unchanged "
        f"{len(report.unchanged)}, removed {len(report.removed)})",
        f"articles: {report.articles}   chunks: {report.chunks}   embedded now: "
        f"{report.chunks_embedded}   duplicate chunks skipped: {report.duplicate_chunks}",
        f"time: {report.seconds:.1f} s  ({report.chunks_per_second:.1f} chunks/s overall, "
        f"embedding {report.embed_seconds:.1f} s)",
    ]
    if report.escaped:
        lines.append(f"indexed under an escaped name (not valid UTF-8) {len(report.escaped)}:")
        lines += [f"  {name}" for name in report.escaped]
    if report.skipped:
        lines.append(f"skipped {len(report.skipped)}:")
        lines += [f"  {s.source}: {s.reason}" for s in report.skipped]
    return "\n".join(lines)


def _cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from rag.ask import Assistant
    from rag.console import answer_text

    answer = Assistant(settings).ask(args.question, k=args.k, mode=args.mode)
    if args.json:
        print(json.dumps(asdict(answer), ensure_ascii=False, indent=2))
        return 0
    print(answer_text(answer))
    return 0


def _cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from rag.ask import Assistant
    from rag.console import HELP, ChatSession, run_chat, terminal_lines, tty_status

    interactive = sys.stdin.isatty()
    if interactive:
        print("loading the model and the index…", file=sys.stderr)
    assistant = Assistant(settings)
    assistant.warm()  # a missing or unusable index fails here, before the first question
    session = ChatSession(assistant, k=args.k, mode=args.mode)
    if not interactive:
        return run_chat(session, sys.stdin, sys.stdout, echo=True)
    print(HELP, file=sys.stderr)
    history = settings.embed.cache_dir / "chat_history"
    with contextlib.closing(terminal_lines("? ", history)) as lines:  # saves the history
        return run_chat(session, lines, sys.stdout, echo=False, status=tty_status(sys.stderr))


def _cmd_ui(args: argparse.Namespace, settings: Settings) -> int:
    from rag.ask import Assistant
    from rag.ui.app import check_port, launch

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"warning: serving on {args.host}: anyone who can reach it can ask and upload",
            file=sys.stderr,
        )
    check_port(args.host, args.port)  # before the slow part
    print("loading the model and the index…", file=sys.stderr)
    assistant = Assistant(settings)
    assistant.warm()  # the first question does not wait for the model
    launch(assistant, host=args.host, port=args.port)
    return 0


def _cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from rag.ask import Assistant
    from rag.evals import report
    from rag.evals.metrics import load_gold
    from rag.evals.run import DEFAULT_CONFIGS, default_gold_path, evaluate

    gold = Path(args.gold) if args.gold else default_gold_path()
    items = [i for i in load_gold(gold) if args.split in ("all", i.split)][: args.limit]
    assistant = Assistant(settings)
    modes = ["extractive", "llm"] if assistant.chat else ["extractive"]
    if args.mode != "auto":
        modes = [args.mode]
    configs = list(DEFAULT_CONFIGS)
    command = "rag " + " ".join(sys.argv[1:]) if sys.argv else "rag eval"
    shapes = _shapes(args.shape)
    summaries: dict[str, dict[str, Any]] = {}
    for shape in shapes or ["demo"]:
        shaped = assistant
        if shape != "demo":
            from rag.evals.shapes import build_shape_index

            print(f"shape {shape}: building its index under {args.shapes_dir}", file=sys.stderr)
            bar = None if args.quiet else _TqdmProgress(desc="embedding", unit="text")
            index = build_shape_index(
                Path(args.corpus), shape, Path(args.shapes_dir), assistant.embedder, bar
            )
            if bar is not None:
                bar.close()
            shaped = Assistant(settings.with_(index=index), embedder=assistant.embedder)
        asked = _askable(items, shaped) if shapes else items
        bar = None if args.quiet else _TqdmProgress(desc=f"evaluating {shape}", unit="question")
        started = time.perf_counter()
        results = evaluate(asked, shaped, DEFAULT_CONFIGS, modes, progress=bar)
        if bar is not None:
            bar.close()
        meta = {
            "gold": str(gold),
            "n_items": len(asked),
            "index": str(shaped.settings.index),
            "n_chunks": len(shaped.index),
            "model": settings.embed.model,
            "seconds": time.perf_counter() - started,
            "command": command,
            "store": type(shaped.index).__name__,
            "params": shaped.params.to_dict(),
            **({"shape": shape} if shapes else {}),
        }
        out = Path(args.out) / shape if shapes else Path(args.out)
        summaries[shape] = report.write(out, results, asked, configs, modes, meta)
        if shapes:
            print(f"shape {shape} ({len(asked)} items):")
        print(report.console_summary(summaries[shape], configs, modes))
        print(f"report: {out / 'report.md'}")
    if shapes:
        side = Path(args.out) / "shapes.md"
        meta = {"gold": str(gold), "command": command}
        side.write_text(report.shapes_markdown(summaries, configs, modes, meta), "utf-8")
        print(f"shapes side by side: {side}")
    return 0


def _shapes(requested: Sequence[str] | None) -> list[Shape]:
    from rag.evals.shapes import SHAPES

    if not requested:
        return []
    if "all" in requested:
        return list(SHAPES)
    return [s for s in SHAPES if s in requested]


def _askable(items: Sequence[GoldItem], assistant: Assistant) -> list[GoldItem]:
    from rag.evals.shapes import answerable_here

    store = assistant.index
    return answerable_here(items, (store.document(s) for s in store.sources()))


def _cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import os

    from rag.ask import Assistant
    from rag.server import MODEL, options_from_env, serve

    options = options_from_env(
        os.environ,
        sources_block=False if args.no_sources_block else None,
        concurrency=args.concurrency,
        draft=True if args.draft else None,
        cors_origins=tuple(args.cors_origin) if args.cors_origin else None,
    )
    if args.host not in ("127.0.0.1", "localhost", "::1") and options.api_key is None:
        print(
            f"warning: serving on {args.host} without RAG_API_KEY: anyone can ask", file=sys.stderr
        )
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"serving {MODEL} at http://{host}:{args.port}/v1 (Ctrl-C to stop)", file=sys.stderr)
    serve(Assistant(settings), options, args.host, args.port, access_log=args.verbose)
    return 0


def _cmd_info(args: argparse.Namespace, settings: Settings) -> int:
    from collections import Counter

    from rag.index import read_manifest

    if settings.store == "milvus":
        from rag.milvus_store import connect, read_milvus_manifest

        m = settings.milvus
        manifest = read_milvus_manifest(connect(m.uri, m.token), m.uri)
        settings = settings.with_(index=f"milvus://{m.uri}")
    else:
        manifest = read_manifest(settings.index)
    if args.json:
        print(manifest.to_json())
        return 0
    files = manifest.files
    print(
        f"index: {settings.index}  (format {manifest.format_version}, updated {manifest.updated})"
    )
    print(f"embedding model: {manifest.embed_model}  checksum {manifest.embed_checksum}")
    print(f"  dim {manifest.dim}, prompts {manifest.query_prompt!r} / {manifest.passage_prompt!r}")
    print(f"  backend {manifest.embed_backend}, sentence vectors {manifest.sentence_vectors}")
    print(f"chunker: {json.dumps(manifest.chunker)}   keyword: {manifest.keyword_tokenizer}")
    print(
        f"files: {len(files)}   articles: {sum(f.articles for f in files.values())}   "
        f"chunks: {manifest.n_chunks}   segments: {len(manifest.segments)} "
        "(`rag compact` merges them)"
    )
    layouts = Counter(rec.layout for rec in files.values())
    print(
        "cleaning: "
        + ", ".join(
            f"{n} {name} layout" if name else f"{n} not recorded (ingested by an earlier version)"
            for name, n in sorted(layouts.items())
        )
    )
    for source, rec in sorted(files.items()):
        partly = "" if rec.complete else "  INCOMPLETE: re-run the ingest to finish it"
        layout = f", {rec.layout} layout ({rec.layout_reason})" if rec.layout else ""
        print(
            f"  {source}  {rec.articles} articles, {rec.chunks} chunks, {rec.encoding}, "
            f"sha256 {rec.sha256[:12]}{layout}{partly}"
        )
    return 0


def _cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from rag.milvus_store import migrate, parse_uri

    uri = parse_uri(args.to)
    report = migrate(settings.index, uri, settings.milvus.token)
    print(
        f"migrated {settings.index} -> milvus://{report.uri}: {report.files} files, "
        f"{report.chunks} chunks, {report.sentences} sentences ({report.seconds:.1f} s). "
        f"Use it with RAG_STORE=milvus RAG_MILVUS_URI={report.uri}"
    )
    return 0


def _cmd_compact(args: argparse.Namespace, settings: Settings) -> int:
    from rag.index import compact, read_manifest, write_lock

    _faiss_only(settings, "compact")
    before = read_manifest(settings.index)  # a missing or damaged index: its own error
    started = time.perf_counter()
    with write_lock(settings.index):
        after = compact(settings.index)
    print(
        f"index: {settings.index}  segments: {len(before.segments)} -> {len(after.segments)}  "
        f"chunks: {after.n_chunks}  ({time.perf_counter() - started:.1f} s)"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    # A name from another locale arrives as lone surrogates; print it escaped, not crash.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    handler: Handler = args.handler
    try:
        code = handler(args, _settings(args))
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except (InvalidQuestionError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "interrupted: the index holds what was committed; run the same command again to resume",
            file=sys.stderr,
        )
        return 130
    except BrokenPipeError:
        # The reader went away (`rag info | head`): stop quietly, as other tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as exc:  # a bug: one line, the traceback only with -v
        if args.verbose:
            logging.getLogger("rag").error("unexpected error", exc_info=True)
        print(
            f"error: unexpected {type(exc).__name__}: {exc} (a bug: please report it; "
            "run with -v to see where it happened)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
