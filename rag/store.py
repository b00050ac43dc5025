"""The store seam: the few operations retrieval, reading and the chat page need.

A store holds one committed version of an index: chunks (rows 0..len-1), their vectors,
the vectors and word tags of their sentences, a keyword index, and the original text of
every file. Everything above it (`rag.retrieve.Retriever`, `rag.evidence`, `rag.ask`, the
page's context view, `rag eval`) goes through this protocol only, so another backend is a
new class rather than edits in five modules. The embedded default is `rag.index.Index`
(FAISS + BM25 + files in one directory).

Vectors are L2-normalised float32; every similarity is an inner product (cosine).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from rag.config import MilvusSettings
    from rag.index import FileRecord, Manifest, SegmentData, SentenceInfo
    from rag.keyword import KeywordHits
    from rag.types import Chunk


@runtime_checkable
class Store(Protocol):
    path: Path
    manifest: Manifest  # what built it: model, parameters, files (rag.index.Manifest)

    def __len__(self) -> int:
        """Number of chunks (rows)."""
        ...

    @property
    def version(self) -> str:
        """Identity of the committed version: equal versions hold equal rows."""
        ...

    def check_model(self, model_id: str, checksum: str, backend: str = "torch") -> None:
        """Raise IndexMismatchError unless the configured model can query this store."""
        ...

    # -- search ----------------------------------------------------------------------

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k rows whose chunk vector is closest to `vector`: (row, cosine), best first."""
        ...

    def search_sentences(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k rows holding the sentences closest to `vector`: (row, best sentence cosine),
        best first. A store that cannot afford it at its size returns []; retrieval then
        scores the sentences of the chunk candidates only (`similarities`)."""
        ...

    def similarities(
        self, vector: np.ndarray, rows: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """For each row: the cosine of its chunk vector, and the best cosine of its
        sentences (the chunk's own when it has no sentence vectors)."""
        ...

    def keyword_search(self, query: str) -> KeywordHits:
        """BM25 scores of the rows matching a term of the query (rag.keyword)."""
        ...

    def idf(self, term: str) -> float: ...

    @property
    def vocabulary(self) -> Collection[str]:
        """Every keyword term the store knows (English questions are translated into it)."""
        ...

    # -- fetch -----------------------------------------------------------------------

    def chunk(self, row: int) -> Chunk: ...

    def sentences_of(self, row: int) -> list[SentenceInfo]:
        """The chunk's stored sentences, in the order of its `sentences`: offsets, vector
        (None if none was stored) and LAC tags (rag.tagger)."""
        ...

    def document(self, source: str) -> str:
        """The original decoded text of a file (citations are offsets into it)."""
        ...

    def sources(self) -> list[str]:
        """Every file the store holds."""
        ...

    def context(self, source: str, start: int, end: int) -> tuple[str, str, str]:
        """(before, quote, after): the original text of the article around a quote."""
        ...


def article_extents(chunks: Iterable[Chunk]) -> dict[int, tuple[int, int]]:
    """{article index: (start, end)} of a file's articles, as its chunks cover them."""
    out: dict[int, tuple[int, int]] = {}
    for c in chunks:
        a, b = out.get(c.article, (c.start, c.end))
        out[c.article] = (min(a, c.start), max(b, c.end))
    return out


def article_context(
    text: str, extents: Mapping[int, tuple[int, int]], start: int, end: int
) -> tuple[str, str, str]:
    """(before, quote, after) of a quote in a file's `text`: the extent of the article
    holding the quote (`article_extents` of the file's chunks; `Store.context`)."""
    owner = next((e for e in extents.values() if e[0] <= start < e[1]), (start, end))
    a_start, a_end = min(owner[0], start), max(owner[1], end)
    return text[a_start:start], text[start:end], text[end:a_end]


# -- the write side ----------------------------------------------------------------------


class StoreVersion(Protocol):
    """A committed version, as a writer reads it back to extend it."""

    manifest: Manifest

    def check_model(self, model_id: str, checksum: str, backend: str = "torch") -> None: ...

    def file_data(self, source: str) -> SegmentData:
        """Everything stored for one file (chunks, vectors, sentences, tags, document), for
        a writer re-using its vectors."""
        ...

    def hashes(self, sources: Collection[str]) -> set[int]:
        """Text hashes of the live chunks of some files (rag.segment.text_hash)."""
        ...


class StoreWriter(Protocol):
    """The one writer of an index, holding its write lock (`open_writer`).

    A commit publishes a new version atomically: `kept` files stay as they are in
    `previous`, the files of `added` are (re-)written from `data` (upsert), and every file
    of `previous` in neither is deleted (prune). Readers see the previous version or the
    new one, never a mix (each implementation says how exactly).
    """

    location: str  # the index, as messages name it

    def previous(self, sources: Collection[str]) -> StoreVersion | None:
        """The committed version to extend; None when there is none, or when it must be
        rebuilt from `sources` (an older format). IndexMismatchError when it cannot be."""
        ...

    def commit(
        self,
        manifest: Manifest,
        previous: StoreVersion | None,
        kept: dict[str, FileRecord],
        added: dict[str, FileRecord],
        data: SegmentData | None,
    ) -> StoreVersion:
        """Publish a version; returns it, loaded."""
        ...

    def tidy(self, version: StoreVersion) -> Manifest:
        """Housekeeping after the last commit of an ingest (the FAISS store merges its
        segments once there are too many); returns the manifest then current."""
        ...


def open_writer(target: Path | MilvusSettings) -> AbstractContextManager[StoreWriter]:
    """The writer of an index directory (FAISS) or of a Milvus index, locked for the
    block: a second writer waits for the first, as `rag ingest` always has."""
    if isinstance(target, Path):
        from rag.index import open_writer as faiss_writer

        return faiss_writer(target)
    from rag.milvus_store import open_writer as milvus_writer

    return milvus_writer(target.uri, target.token)
