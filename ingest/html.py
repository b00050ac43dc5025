"""HTML to plain text for the ingest: the readable body, one block element per line.

Scripts, styles and navigation are dropped. Inline whitespace collapses the way a browser
renders it; block elements (paragraphs, headings, list items, table cells, <br>) end a
line, so the cleaner sees the same line structure it sees in extracted PDF text. The
page title (<h1>, else <title>) is made the first line, where the segmenter looks for it.

Nesting deeper than `max_depth` elements is refused before a tree is built (a tree of a
million nested <div>s costs gigabytes), and the walk below is iterative, so no depth a
limit lets through can exhaust Python's recursion limit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

from bs4 import BeautifulSoup
from bs4.element import NavigableString, PageElement, Tag

from rag.errors import UnreadableFileError
from rag.ingest.limits import MARKUP_DEPTH


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
# Elements that never have content (html.parser reports no end tag for them).
_VOID = _words("area base br col embed hr img input link meta param source track wbr")
_SIBLINGS = _words("p li dt dd tr td th option")


def html_to_text(markup: str, max_depth: int = 256) -> str:
    check_depth(markup, max_depth)
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


class _TooDeep(Exception):
    pass


class _DepthProbe(HTMLParser):
    """Counts open elements the way BeautifulSoup's html.parser builder nests them."""

    def __init__(self, limit: int) -> None:
        super().__init__(convert_charrefs=False)
        self.limit = limit
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in _VOID:
            return
        if tag in _SIBLINGS and self.open and self.open[-1] == tag:
            return  # <p>a<p>b: old pages leave these open; a browser reads siblings
        self.open.append(tag)
        if len(self.open) > self.limit:
            raise _TooDeep

    def handle_endtag(self, tag: str) -> None:
        # An end tag closes the nearest open element of its name and everything inside it.
        for i in range(len(self.open) - 1, -1, -1):
            if self.open[i] == tag:
                del self.open[i:]
                return


def check_depth(markup: str, max_depth: int) -> None:
    """Raise `UnreadableFileError` when elements nest deeper than `max_depth`."""
    probe = _DepthProbe(max_depth)
    try:
        probe.feed(markup)
        probe.close()
    except _TooDeep:
        found = f"HTML elements nest more than {max_depth} levels deep"
        raise UnreadableFileError(MARKUP_DEPTH.exceeded(found)) from None


def _title(soup: BeautifulSoup) -> str:
    for tag in (soup.find("h1"), soup.find("title")):
        if isinstance(tag, Tag):
            text = _SPACES.sub(" ", tag.get_text()).strip()
            if text:
                return text
    return ""


def _collect(root: Tag, out: list[str]) -> None:
    """Append the text of `root`'s descendants to `out`, one block element per line."""
    # An explicit stack instead of recursion: (children still to visit, closing newline?).
    stack: list[tuple[Iterator[PageElement], bool]] = [(iter(root.children), False)]
    while stack:
        children, block = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if block:
                out.append("\n")
        elif isinstance(child, Tag):
            if child.name in _DROP:
                continue
            is_block = child.name in _BLOCK
            if is_block:
                out.append("\n")
            if child.name == "pre":
                out.append(child.get_text())  # preformatted text keeps its own line breaks
                if is_block:
                    out.append("\n")
            else:
                stack.append((iter(child.children), is_block))
        elif _is_text(child):
            out.append(_SPACES.sub(" ", str(child)))


def _is_text(element: PageElement) -> bool:
    # Comments, CDATA, doctypes and processing instructions subclass NavigableString too.
    return type(element) is NavigableString
