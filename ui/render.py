"""HTML and Markdown for the chat page. Presentation only: every fact comes from an Answer."""

from __future__ import annotations

import html
import re

from rag.present import meta_line
from rag.types import Answer

_SENTENCE_END = "。！？；…!?;”」』）)"


def readable(text: str) -> str:
    """Original (PDF-extracted) text for display: rejoin broken lines, keep paragraphs."""
    lines = [ln.strip() for ln in text.splitlines()]
    out = ""
    for line in lines:
        if not line:
            continue
        if out and out[-1] not in _SENTENCE_END:
            sep = " " if out[-1].isascii() and line[0].isascii() else ""
            out += sep + line
        else:
            out += ("\n" if out else "") + line
    return out


def _badge(answer: Answer) -> str:
    mode = "LLM" if answer.mode == "llm" else "extractive (no LLM)"
    if not answer.answered:
        return f'<span class="rag-badge rag-refusal">not in the articles · {mode}</span>'
    return f'<span class="rag-badge">{mode}</span>'


def sources_html(answer: Answer | None, pending: bool = False) -> str:
    """The citation panel: mode, notice, and each [n] with title, publication and quote;
    the file and offsets on a detail line (and as data attributes, for checking tools)."""
    if pending:
        return '<div class="rag-sources rag-pending">Finding the sentences behind the answer…</div>'
    if answer is None:
        return '<div class="rag-sources rag-empty">Ask a question: its sources appear here.</div>'
    parts = [f'<div class="rag-sources">{_badge(answer)}']
    if answer.notice:
        parts.append(f'<div class="rag-notice">{html.escape(answer.notice)}</div>')
    if not answer.answered:
        parts.append('<div class="rag-related">Related passages:<ol>')
        parts += [
            f"<li><b>{html.escape(p.title or p.source)}</b> <code>{html.escape(p.source)}</code>"
            f"<br>{html.escape(p.text[:120])}…</li>"
            for p in answer.passages[:3]
        ]
        parts.append("</ol></div>")
    for c in answer.citations:
        css = "rag-cite" if c.supported else "rag-cite rag-unsupported"
        flag = "" if c.supported else '<span class="rag-flag">not supported by this sentence</span>'
        meta = meta_line(c.meta)
        parts.append(
            f'<div class="{css}" data-n="{c.n}" data-source="{html.escape(c.source)}" '
            f'data-start="{c.start}" data-end="{c.end}"><div class="rag-cite-head">[{c.n}] '
            f"<b>{html.escape(c.title or c.source)}</b> {flag}</div>"
            + (f'<div class="rag-meta">{html.escape(meta)}</div>' if meta else "")
            + f'<blockquote class="rag-quote">{html.escape(c.quote)}</blockquote>'
            f'<div class="rag-detail">file <code>{html.escape(c.source)}</code> · characters '
            f"{c.start}–{c.end}</div></div>"
        )
    parts.append("</div>")
    return "".join(parts)


def context_html(
    title: str, before: str, quote: str, after: str, supported: bool = True, window: int = 400
) -> str:
    """The article around a citation, quoted span highlighted (up to `window` chars each side)."""
    cls = "rag-hl" if supported else "rag-hl rag-unsupported"
    if len(before) > window:
        before = "…" + before[-window:]
    if len(after) > window:
        after = after[:window] + "…"
    body = (
        html.escape(readable(before))
        + f'<mark class="{cls}">{html.escape(readable(quote))}</mark>'
        + html.escape(readable(after))
    )
    body = body.replace("\n", "<br>")
    return f'<div class="rag-context"><h4>{html.escape(title)}</h4><p>{body}</p></div>'


def chat_text(answer: Answer) -> str:
    """What the chat bubble shows: the answer, visibly marked when it is a refusal."""
    text = answer.text
    if not answer.answered:
        text = "🚫 " + text
    flagged = {c.n for c in answer.citations if not c.supported}
    if flagged:
        # Unsupported citation markers are shown as [n⚠] in the bubble.
        text = re.sub(r"\[(\d+)\]", lambda m: f"[{m[1]}⚠]" if int(m[1]) in flagged else m[0], text)
    if answer.notice:
        text += f"\n\n_{answer.notice}_"
    return text


CSS = """
.rag-badge { display:inline-block; padding:2px 8px; border-radius:10px; background:#e0ecff;
  font-size:0.85em; margin-bottom:6px; }
.rag-badge.rag-refusal { background:#ffe3e3; }
.rag-notice { background:#fff7d6; padding:4px 8px; border-radius:6px; margin:4px 0; }
.rag-cite { border-left:3px solid #4a7bd0; padding:4px 8px; margin:6px 0; }
.rag-cite.rag-unsupported { border-left-color:#d04a4a; background:#fff0f0; }
.rag-flag { color:#b00020; font-weight:bold; }
.rag-quote { margin:4px 0 0 0; color:#333; }
.rag-meta { color:#555; font-size:0.9em; }
.rag-detail { color:#888; font-size:0.8em; }
.rag-pending { color:#777; font-style:italic; }
mark.rag-hl { background:#ffe066; padding:1px 2px; }
mark.rag-hl.rag-unsupported { background:#ffb3b3; }
.rag-context { max-height:420px; overflow-y:auto; line-height:1.7; }
"""
