"""The Gradio chat page. Thin: every answer comes from `Assistant.ask_stream`, every
upload goes through the ingest pipeline; this module only wires events and formats.

    rag ui --index data/index            # http://127.0.0.1:7860
"""

from __future__ import annotations

import logging
import shutil
import socket
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from rag.ask import Assistant, content_text
from rag.errors import RagError, ServeError
from rag.ingest.chunk import ChunkParams
from rag.ingest.pipeline import IngestReport, chunk_params_for, ingest
from rag.ingest.readers import SUPPORTED_SUFFIXES
from rag.llm import Message
from rag.present import citation_label
from rag.store import Store
from rag.types import Answer
from rag.ui.render import CSS, chat_text, context_html, sources_html

log = logging.getLogger(__name__)

EXAMPLES = [
    "湖州首次颁发的“生态鼎”中，哪个县捧获了生态文明冠军鼎？",
    "2023年浙江全省工业增加值是多少？",
    "绍兴的网上轻纺城去年撮合业务量有多少？",
    "Which county won the Ecological Civilization Champion Tripod in Huzhou?",
    "How many manufacturing companies from Zhejiang entered the Fortune Global 500 in 2023?",
]


@dataclass(frozen=True)
class UploadLimits:
    max_files: int = 20
    max_bytes: int = 20 * 1024 * 1024


# Shown while retrieval and reading run; the first streamed delta replaces it.
STATUS = "⏳ 正在检索并阅读相关文章… · Searching and reading the articles…"


@dataclass(frozen=True)
class Shown:
    """The answer on screen and the index version it came from: the context view reads
    that version, even after an upload has committed a newer one."""

    answer: Answer
    index: Store


Outputs = tuple[list[Message], str, str, Any, Shown | None]


def _error_text(exc: Exception) -> str:
    if isinstance(exc, RagError):
        return f"⚠️ {exc}"
    log.exception("unexpected error while answering")
    return f"⚠️ Something went wrong ({type(exc).__name__}: {exc}). The page is still usable."


def _prior_turns(history: Sequence[Any]) -> list[Message]:
    """Every earlier turn as text, whether Gradio hands content as a string or as parts."""
    turns: list[Message] = []
    for m in history:
        role = m.get("role") if isinstance(m, dict) else None
        text = content_text(m.get("content")) if role in ("user", "assistant") else None
        if text is not None:  # an empty question stays shown, next to its error
            turns.append({"role": role, "content": text})  # type: ignore[typeddict-item]
    return turns


class ChatPage:
    def __init__(self, assistant: Assistant, limits: UploadLimits | None = None) -> None:
        self.assistant = assistant
        self.limits = limits or UploadLimits()

    def respond(self, message: Any, history: list[Any], k: float, mode: str) -> Iterator[Outputs]:
        """A status line, then the answer streamed into the chat, then its citations."""
        question = content_text(message) or ""
        prior = _prior_turns(history or [])
        chat: list[Message] = [
            *prior,
            {"role": "user", "content": question},
            {"role": "assistant", "content": STATUS},
        ]
        no_choices = gr.update(choices=[], value=None)
        yield chat, "", sources_html(None, pending=True), no_choices, None
        try:
            index = self.assistant.index  # the one version this whole answer comes from
            streamed = ""
            for event in self.assistant.ask_stream(
                question,
                int(k),
                mode,  # type: ignore[arg-type]
                prior,
                index=index,
            ):
                if isinstance(event, Answer):
                    chat[-1]["content"] = chat_text(event)
                    labels = [(citation_label(c), str(c.n)) for c in event.citations]
                    choices = gr.update(choices=labels, value=None)
                    yield chat, "", sources_html(event), choices, Shown(event, index)
                else:
                    streamed += event
                    chat[-1]["content"] = streamed
                    yield chat, "", sources_html(None, pending=True), no_choices, None
        except Exception as exc:  # shown in the page, never as a traceback
            chat[-1]["content"] = _error_text(exc)
            yield chat, "", sources_html(None), no_choices, None

    def open_citation(self, choice: str | None, shown: Shown | None) -> str:
        """The article around citation `choice` (its number), from the answer's version."""
        if not choice or shown is None:
            return ""
        cite = next((c for c in shown.answer.citations if str(c.n) == str(choice)), None)
        if cite is None:
            return ""
        try:
            before, quote, after = shown.index.context(cite.source, cite.start, cite.end)
        except (RagError, KeyError) as exc:
            return f"<p>⚠️ cannot open the source: {exc}</p>"
        return context_html(cite.title, before, quote, after, cite.supported)

    def add_files(self, files: list[str] | None, progress: gr.Progress | None = None) -> str:
        if not files:
            return "Choose one or more files first."
        if self.assistant.settings.store != "faiss":  # uploads write the index directory
            return "Uploads need the FAISS store: ingest into the index directory, then migrate."
        rejected, accepted = self._check(files)
        if not accepted:
            return _upload_summary(None, rejected)
        staging = Path(tempfile.mkdtemp(prefix="rag-upload-"))
        try:
            for path in accepted:
                target = staging / "uploads" / Path(path).name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)

            def report_progress(done: int, total: int) -> None:
                if progress is not None and total:
                    progress((done, total), desc="embedding", unit="texts")

            report = ingest(
                [staging],
                self.assistant.settings.target,
                self.assistant.embedder,
                self._chunk_params(),
                progress=report_progress,
                limits=self.assistant.settings.limits,
            )
        except RagError as exc:
            return _upload_summary(None, rejected, error=str(exc))
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self.assistant.reload()
        return _upload_summary(report, rejected)

    def _check(self, files: Sequence[str]) -> tuple[list[str], list[str]]:
        rejected, accepted = [], []
        for i, path in enumerate(files):
            name = Path(path).name
            size = Path(path).stat().st_size
            if i >= self.limits.max_files:
                rejected.append(f"{name}: more than {self.limits.max_files} files at once")
            elif Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
                rejected.append(f"{name}: unsupported type (use {', '.join(SUPPORTED_SUFFIXES)})")
            elif size > self.limits.max_bytes:
                rejected.append(
                    f"{name}: {size / 2**20:.1f} MB is over the "
                    f"{self.limits.max_bytes / 2**20:.0f} MB limit"
                )
            else:
                accepted.append(path)
        return rejected, accepted

    def _chunk_params(self) -> ChunkParams:
        """Chunk new files like the rest of the index, so nothing gets re-chunked."""
        return chunk_params_for(self.assistant.settings.target)

    def header(self) -> str:
        try:
            m = self.assistant.index.manifest
            corpus = f"{len(m.files)} files · {m.n_chunks} passages"
        except RagError:
            corpus = "no index yet — add documents below"
        llm = self.assistant.settings.llm
        engine = f"LLM: {llm.model}" if llm else "no LLM configured: extractive answers"
        return f"# 浙江新闻问答 · Zhejiang news Q&A\n{corpus} · {engine}"


def _upload_summary(report: IngestReport | None, rejected: Sequence[str], error: str = "") -> str:
    lines = []
    if report is not None:
        added = report.added + report.updated
        lines.append(
            f"**Added {len(added)} file(s)**, {report.chunks_embedded} new passages "
            f"({report.seconds:.1f} s). The index now holds {report.files} files, "
            f"{report.chunks} passages."
        )
        lines += [f"- added: `{s}`" for s in added]
        lines += [f"- unchanged: `{s}`" for s in report.unchanged if s.startswith("uploads/")]
        lines += [f"- skipped `{s.source}`: {s.reason}" for s in report.skipped]
    if error:
        lines.append(f"⚠️ Nothing was added: {error}")
    lines += [f"- rejected `{r}`" for r in rejected]
    return "\n".join(lines) or "Nothing to add."


def build(assistant: Assistant, limits: UploadLimits | None = None) -> gr.Blocks:
    page = ChatPage(assistant, limits)
    modes = ["auto", "extractive", "llm"] if assistant.chat else ["auto", "extractive"]
    # No usage analytics: the page must work, and stay quiet, on machines without a network.
    with gr.Blocks(title="Zhejiang news Q&A", analytics_enabled=False) as demo:
        header = gr.Markdown(page.header, elem_id="header")  # a callable: re-read per page load
        answer_state = gr.State(None)
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="Chat", height=520, elem_id="chat")
                with gr.Row():
                    box = gr.Textbox(
                        placeholder="用中文或英文提问 · Ask in Chinese or English",
                        show_label=False,
                        scale=5,
                        elem_id="question",
                    )
                    send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                gr.Examples(EXAMPLES, inputs=[box], label="Examples")
                with gr.Accordion("Settings", open=False):
                    k = gr.Slider(1, 10, value=5, step=1, label="Passages to retrieve (k)")
                    mode = gr.Radio(modes, value="auto", label="Mode", elem_id="mode")
                with gr.Accordion("Add documents", open=False):
                    files = gr.File(
                        file_count="multiple",
                        file_types=list(SUPPORTED_SUFFIXES),
                        label=f"{', '.join(SUPPORTED_SUFFIXES)} · up to "
                        f"{page.limits.max_files} files, "
                        f"{page.limits.max_bytes // 2**20} MB each",
                        elem_id="upload",
                    )
                    add = gr.Button("Add to index", elem_id="add")
                    added = gr.Markdown(elem_id="upload-summary")
            with gr.Column(scale=2):
                sources = gr.HTML(sources_html(None), elem_id="sources")
                cites = gr.Radio([], label="Open a citation", elem_id="citations")
                context = gr.HTML(elem_id="context")

        outputs = [chatbot, box, sources, cites, answer_state]
        inputs = [box, chatbot, k, mode]
        box.submit(page.respond, inputs, outputs, concurrency_limit=4)
        send.click(page.respond, inputs, outputs, concurrency_limit=4)
        cites.change(page.open_citation, [cites, answer_state], [context])
        add.click(page.add_files, [files], [added], concurrency_limit=1).then(
            page.header, None, [header]
        )
    return demo


def launch(
    assistant: Assistant,
    host: str = "127.0.0.1",
    port: int = 7860,
    *,
    block: bool = True,
    quiet: bool = False,
) -> gr.Blocks:
    """Start the page; with block=False it returns once the server is up (for tests)."""
    check_port(host, port)
    demo = build(assistant)
    try:
        _launch(demo, host, port, block=block, quiet=quiet)
    except OSError as exc:
        if "port" not in str(exc).lower():
            raise
        raise _port_taken(host, port, exc) from None  # lost a race for it after the check
    return demo


def _launch(demo: gr.Blocks, host: str, port: int, *, block: bool, quiet: bool) -> None:
    demo.queue(default_concurrency_limit=4).launch(
        server_name=host,
        server_port=port,
        css=CSS,
        quiet=quiet,
        show_error=False,
        footer_links=["api"],
        prevent_thread_lock=not block,
        max_file_size=UploadLimits().max_bytes,
    )


def check_port(host: str, port: int) -> None:
    """Fail with what to do, before Gradio tries and prints a traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise _port_taken(host, port, exc) from None


def _port_taken(host: str, port: int, exc: OSError) -> ServeError:
    reason = exc.strerror or str(exc)
    return ServeError(
        f"cannot serve the chat page on {host}:{port} ({reason}): stop whatever uses that "
        f"port, or choose another with --port (e.g. rag ui --port {port + 1})"
    )
