"""Turn a `Document` into articles and chunks: clean, segment, chunk.

Every chunk satisfies the invariant other code relies on:
``squeeze(chunk.text) == squeeze(doc.text[chunk.start:chunk.end])``, and its `sentences`
are ordered, non-overlapping spans inside ``[chunk.start, chunk.end)``. Dropped material
(captions, furniture, tables of contents, lists, titles) never lies inside a chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rag.ingest.chunk import ChunkParams, ChunkSpan, Piece, chunk_pieces
from rag.ingest.clean import DROPPED, Kind, LayoutEvidence, clean
from rag.ingest.readers import Document
from rag.ingest.segment import Segment, segment_blocks
from rag.types import Article, Chunk


@dataclass(frozen=True)
class ParsedDocument:
    articles: list[Article]  # articles with at least one chunk, indexed from 0
    chunks: list[Chunk]  # in reading order
    layout: LayoutEvidence  # which cleaning rules applied, and why
    dropped: dict[Kind, int]  # lines left out of every chunk, by the rule that dropped them

    def why_empty(self) -> str:
        """One line for a document that gave no chunk: which rules removed its text."""
        if not self.dropped:
            return "no text found after cleaning"
        rules = ", ".join(f"{n} as {_RULE_NAMES[k]}" for k, n in sorted(self.dropped.items()))
        lines = "line" if sum(self.dropped.values()) == 1 else "lines"
        return f"no text left after cleaning ({lines} dropped: {rules})"


_RULE_NAMES = {
    Kind.FURNITURE: "page furniture",
    Kind.CAPTION: "photo caption",
    Kind.TOC: "table of contents",
    Kind.LIST: "masthead or list",
}
assert set(_RULE_NAMES) == DROPPED


def parse_document(doc: Document, params: ChunkParams | None = None) -> ParsedDocument:
    params = params or ChunkParams()
    articles: list[Article] = []
    chunks: list[Chunk] = []
    cleaned = clean(doc.text, doc.encoding)
    for seg in segment_blocks(cleaned):
        spans = chunk_pieces(doc.text, _pieces(seg), params)
        if not spans:
            continue
        article = replace(seg.article, index=len(articles))
        articles.append(article)
        chunks.extend(_chunk(doc, article, span) for span in spans)
    return ParsedDocument(articles, chunks, cleaned.layout, cleaned.dropped())


def _pieces(seg: Segment) -> list[Piece]:
    return [
        Piece(a, b, n, block.kind is Kind.HEADING)
        for n, block in enumerate(seg.content)
        for a, b in block.spans
    ]


def _chunk(doc: Document, article: Article, span: ChunkSpan) -> Chunk:
    return Chunk(
        source=doc.source,
        article=article.index,
        title=article.title,
        text=span.text,
        start=span.start,
        end=span.end,
        sentences=span.sentences,
        meta=article.meta,
    )
