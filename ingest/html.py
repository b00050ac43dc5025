"""HTML to plain text for the ingest: the readable body, one block element per line.

Scripts, styles and navigation are dropped. Inline whitespace collapses the way a browser
renders it; block elements (paragraphs, headings, list items, table cells, <br>) end a
line, so the cleaner sees the same line structure it sees in extracted PDF text. The
page title (<h1>, else <title>) is made the first line, where the segmenter looks for it.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup
from bs4.element import NavigableString, PageElement, Tag


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_DROP = frozenset({"script", "style", "nav", "noscript", "template", "svg", "head", "iframe"})
_BLOCK = _words(
    "p div section article header footer "
    "main aside h1 h2 h3 h4 h5 h6 li ul ol "
    "dl dt dd table tr td th thead tbody "
    "tfoot caption blockquote pre figure "
    "figcaption address hr br form fieldset "
    "details summary"
)
_SPACES = re.compile(r"\s+")


def html_to_text(markup: str) -> str:
    soup = BeautifulSoup(markup, "html.parser")
    title = _title(soup)
    root: Tag = soup.body or soup
    pieces: list[str] = []
    _collect(root, pieces)
    lines = [line.strip() for line in "".join(pieces).split("\n")]
    lines = [line for line in lines if line]
    if title and (not lines or lines[0] != title):
        lines.insert(0, title)
    return "\n".join(lines)


def _title(soup: BeautifulSoup) -> str:
    for tag in (soup.find("h1"), soup.find("title")):
        if isinstance(tag, Tag):
            text = _SPACES.sub(" ", tag.get_text()).strip()
            if text:
                return text
    return ""


def _collect(node: Tag, out: list[str]) -> None:
    for child in node.children:
        if isinstance(child, Tag):
            _collect_tag(child, out)
        elif _is_text(child):
            out.append(_SPACES.sub(" ", str(child)))


def _collect_tag(tag: Tag, out: list[str]) -> None:
    if tag.name in _DROP:
        return
    block = tag.name in _BLOCK
    if block:
        out.append("\n")
    if tag.name == "pre":
        out.append(tag.get_text())  # preformatted text keeps its own line breaks
    else:
        _collect(tag, out)
    if block:
        out.append("\n")


def _is_text(element: PageElement) -> bool:
    # Comments, CDATA, doctypes and processing instructions subclass NavigableString too.
    return type(element) is NavigableString
