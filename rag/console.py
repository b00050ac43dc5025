"""The terminal's view of answers: `rag ask` output and the `rag chat` session.

Presentation only: answers come from `Assistant.ask`; this module formats them and keeps
the conversation (the history a follow-up question is rewritten with).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from rag.ask import AskMode, Assistant
from rag.errors import RagError
from rag.llm import Message
from rag.present import citation_label, meta_line
from rag.types import Answer

HELP = "Ask a question about the articles. /sources: the last answer's sources · /quit: leave"


def sources_text(answer: Answer) -> str:
    """Each citation: label, publication line, file and offsets, quote."""
    lines = []
    for c in answer.citations:
        flag = "" if c.supported else "  [NOT SUPPORTED by this sentence]"
        lines.append(f"[{c.n}] {c.title or c.source}{flag}")
        meta = meta_line(c.meta)
        if meta:
            lines.append(f"    {meta}")
        lines.append(f"    {c.source}, characters {c.start}-{c.end}")
        lines.append(f"    “{c.quote}”")
    return "\n".join(lines)


def answer_text(answer: Answer) -> str:
    """What `rag ask` prints: the answer, its sources, any notice, and the mode."""
    parts = [answer.text]
    if answer.citations:
        parts.append("Sources:\n" + sources_text(answer))
    if answer.notice:
        parts.append(f"note: {answer.notice}")
    parts.append(f"({answer.mode} answer{'' if answer.answered else ', not answered'})")
    return "\n\n".join(parts)


def brief_text(answer: Answer) -> str:
    """What a chat turn prints: the answer and one short label per citation."""
    parts = [answer.text]
    if answer.notice:
        parts.append(f"note: {answer.notice}")
    if answer.citations:
        parts.append("\n".join(citation_label(c) for c in answer.citations))
    return "\n".join(parts)


@dataclass
class ChatSession:
    """One conversation: every answered turn becomes history for the next question."""

    assistant: Assistant
    k: int = 5
    mode: AskMode = "auto"
    history: list[Message] = field(default_factory=list)
    last: Answer | None = None

    def ask(self, question: str) -> Answer:
        answer = self.assistant.ask(question, self.k, self.mode, self.history)
        self.history += [
            {"role": "user", "content": question.strip()},
            {"role": "assistant", "content": answer.text},
        ]
        self.last = answer
        return answer


def run_chat(
    session: ChatSession,
    lines: Iterable[str],
    out: IO[str],
    *,
    echo: bool,
    status: Callable[[str], None] | None = None,
) -> int:
    """Answer each line as a question until /quit or the end of input. Errors about one
    question are printed and the session goes on. `echo` repeats each question (for piped
    input, whose questions are not on the screen)."""
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if line in ("/quit", "/exit", "/q"):
            break
        if line in ("/sources", "/s"):
            last = session.last
            print(sources_text(last) if last and last.citations else "(no sources yet)", file=out)
            continue
        if line in ("/help", "/?"):
            print(HELP, file=out)
            continue
        if echo:
            print(f"> {line}", file=out)
        if status is not None:
            status("searching and reading the articles…")
        try:
            text = brief_text(session.ask(line))
        except RagError as exc:  # this question failed; the session goes on
            text = f"error: {exc}"
        if status is not None:
            status("")
        print(text + "\n", file=out, flush=True)
    return 0


def terminal_lines(prompt: str, history_file: Path | None) -> Generator[str, None, None]:
    """Lines typed at a prompt, with readline editing and a persistent history."""
    try:
        import readline
    except ImportError:  # not every Python has it; input() still works
        readline = None  # type: ignore[assignment]
    if readline is not None and history_file is not None:
        with contextlib.suppress(OSError):
            readline.read_history_file(history_file)
    try:
        while True:
            try:
                yield input(prompt)
            except EOFError:
                print(file=sys.stderr)
                return
    finally:
        if readline is not None and history_file is not None:
            try:
                history_file.parent.mkdir(parents=True, exist_ok=True)
                readline.set_history_length(1000)
                readline.write_history_file(history_file)
            except OSError:
                pass


def tty_status(stream: IO[str]) -> Callable[[str], None]:
    """A one-line status that the next output overwrites."""

    def show(text: str) -> None:
        stream.write("\r\033[K" + (f"… {text}" if text else ""))
        stream.flush()

    return show
