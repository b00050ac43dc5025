"""The on-disk index: segments of chunks, committed atomically through a manifest.

Layout::

    INDEX/
      manifest.json        the commit point: format version, model, parameters, files (each
                           with the segment holding it), the data directory, its checksums
      data-<id>/
        seg-<id>/          one segment per ingest that embedded something (rag.segment)
        seg-<id>/          ...

A writer builds a fresh `data-<id>/` next to the current one: segments it keeps are hard
links to the current version's files (nothing is copied or re-read), the files it
(re-)embedded go into one new segment; then it replaces `manifest.json` with
`os.replace` (atomic on POSIX). A crash at any moment leaves the old manifest pointing at
the old, untouched data directory. A file's rows in an older segment are superseded when
the manifest names a newer segment for it (or drops it); `rag compact` rewrites all live
rows into one segment, and an ingest does so itself once there are MAX_SEGMENTS.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Collection, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ConfigError, IndexCorruptError, IndexMismatchError, IndexNotFoundError
from rag.fsutil import digest_file, exclusive_lock, fsync_dir, fsync_file, write_text_atomic
from rag.keyword import TOKENIZER_NAME, BM25Params, KeywordHits, KeywordIndex, bm25, idf
from rag.segment import (
    SEGMENT_FILES,
    Segment,
    SegmentData,
    SentenceKey,
    StoredDocument,
    chunk_id,
    write_segment,
)
from rag.store import article_context
from rag.tagger import TAGGER_NAME, Token
from rag.types import Chunk

log = logging.getLogger(__name__)

__all__ = [
    "FORMAT_VERSION", "MANIFEST", "FileRecord", "Index", "Manifest", "SegmentData",
    "SentenceKey", "StoredDocument", "chunk_id", "commit", "open_writer", "read_manifest",
    "write_lock",
]  # fmt: skip

FORMAT_VERSION = 3  # 3: segments; 2: LAC word/entity tags of every sentence
MANIFEST = "manifest.json"
MAX_SEGMENTS = 8  # an ingest that would leave more merges them into one (as `rag compact`)


@dataclass(frozen=True)
class FileRecord:
    sha256: str
    encoding: str
    articles: int
    chunks: int
    complete: bool = True  # False: committed in part by an interrupted ingest
    layout: str = ""  # cleaning rules applied: "page" (PDF-like) or "prose" (rag.ingest.clean)
    layout_reason: str = ""  # the evidence, e.g. "12 of 80 lines broken mid-sentence"
    segment: str = ""  # the segment holding this file's chunks


@dataclass(frozen=True)
class Manifest:
    embed_model: str
    embed_checksum: str
    dim: int
    query_prompt: str
    passage_prompt: str
    chunker: dict[str, Any]
    files: dict[str, FileRecord]
    data_dir: str = ""
    checksums: dict[str, str] = field(default_factory=dict)  # "seg-x/name" -> digest
    n_chunks: int = 0
    segments: list[str] = field(default_factory=list)  # oldest first
    # What ran the model (rag.embed). Absent in indexes written before backends existed,
    # which were all torch: the defaults read them as they were built (no format change).
    embed_backend: str = "torch"
    embed_backend_checksum: str = ""
    sentence_vectors: str = "separate"  # or "pooled" (rag.ingest.pipeline.SENTENCE_VECTORS)
    keyword_tokenizer: str = TOKENIZER_NAME
    sentence_tagger: str = TAGGER_NAME
    format_version: int = FORMAT_VERSION
    updated: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)

    @classmethod
    def from_json(cls, raw: str) -> Manifest:
        """Parse and type-check a manifest; raise ValueError on anything malformed."""
        from pydantic import TypeAdapter, ValidationError

        try:
            return TypeAdapter(cls).validate_json(raw, strict=True)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"]) or "manifest"
            raise ValueError(f"{where}: {first['msg']}") from None


_DATA_DIR = re.compile(r"data-[0-9A-Za-z-]+")
_SEGMENT = re.compile(r"seg-[0-9A-Za-z-]+")


# Backends whose vectors are interchangeable for queries, declared by measurement: the int8
# ONNX export's vectors have mean cosine ≥ 0.99 to PyTorch's on every demo chunk
# (tests/test_onnx_backend.py asserts it; docs/benchmarks.md has the retrieval figures).
_QUERY_COMPATIBLE = frozenset({frozenset({"torch", "onnx-int8"})})


def query_compatible(built_with: str, querying_with: str) -> bool:
    return built_with == querying_with or (
        frozenset({built_with, querying_with}) in _QUERY_COMPATIBLE
    )


def model_mismatch(m: Manifest, model_id: str, checksum: str, backend: str) -> str | None:
    """What keeps the configured model from querying an index built as `m` says: "model"
    (other weights), "backend" (vectors it does not reproduce), or None."""
    if m.embed_model != model_id or m.embed_checksum != checksum:
        return "model"
    return None if query_compatible(m.embed_backend, backend) else "backend"


def _rebuild_hint(path: Path) -> str:
    return f"Rebuild it: rm -r {path} && rag ingest DOCS --index {path}"


def read_manifest(path: Path) -> Manifest:
    """The committed manifest, checked: every malformed state is an IndexCorruptError."""
    file = path / MANIFEST
    if path.exists() and not path.is_dir():
        raise IndexNotFoundError(
            f"{path} is a file, not an index directory. Choose another --index (or RAG_INDEX)"
        )
    if not file.is_file():
        raise IndexNotFoundError(
            f"no index at {path} (missing {MANIFEST}). "
            f"Build one with: rag ingest DOCS --index {path}"
        )
    try:
        raw = file.read_text("utf-8")
        version = _format_version(raw)
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"{file} is unreadable ({exc}). {_rebuild_hint(path)}") from exc
    if version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index {path} has format version {version}; this version of rag "
            f"reads {FORMAT_VERSION}. {_rebuild_hint(path)}"
        )
    try:
        manifest = Manifest.from_json(raw)
        _check_manifest(manifest)
    except ValueError as exc:
        raise IndexCorruptError(f"{file} is malformed ({exc}). {_rebuild_hint(path)}") from exc
    return manifest


def stored_format(path: Path) -> tuple[int, list[str]]:
    """The format version of the index at `path` and the files its manifest lists, read
    without assuming this version's fields ((0, []) when it cannot be read)."""
    try:
        raw = (path / MANIFEST).read_text("utf-8")
        files = json.loads(raw).get("files")
        return _format_version(raw), list(files) if isinstance(files, dict) else []
    except (OSError, ValueError, AttributeError):
        return 0, []


def _format_version(raw: str) -> int:
    # Read first and on its own: another version may have other fields.
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, found {json.dumps(data)[:20]}")
    version = data.get("format_version", FORMAT_VERSION)
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValueError(f"format_version {version!r} is not a number")
    return version


def _check_manifest(m: Manifest) -> None:
    """What types alone do not say: a data directory inside the index, segments inside it
    with a checksum per file, and every file in one of them."""
    if not _DATA_DIR.fullmatch(m.data_dir):
        raise ValueError(f"data_dir {m.data_dir!r} is not a data directory name")
    for name in m.segments:
        if not _SEGMENT.fullmatch(name):
            raise ValueError(f"segment {name!r} is not a segment name")
        missing = [f for f in SEGMENT_FILES if f"{name}/{f}" not in m.checksums]
        if missing:
            raise ValueError(f"no checksum for {name}/{', '.join(missing)}")
    # "" is a file none of whose chunks were kept (all duplicates of other files' chunks)
    stray = sorted({r.segment for r in m.files.values()} - {"", *m.segments})
    if stray:
        raise ValueError(f"files are in segment {stray[0]!r}, which the manifest does not list")
    if m.dim <= 0 or m.n_chunks < 0:
        raise ValueError(f"dim {m.dim} / n_chunks {m.n_chunks} out of range")


class _DataVanished(Exception):
    """The manifest's data directory is gone: a concurrent commit, or damage."""


@dataclass(frozen=True)
class SentenceInfo:
    """A stored sentence of a chunk: its vector (None if none was stored) and LAC tags."""

    start: int
    end: int
    vector: np.ndarray | None
    tags: tuple[Token, ...]


@dataclass
class _Live:
    """The rows of one segment that the manifest still points to."""

    rows: np.ndarray  # live local rows, ascending
    position: np.ndarray  # local row -> position among the live rows, -1 if superseded
    selector: Any = None  # faiss IDSelector of `rows`, when some rows are superseded
    bitmap: np.ndarray | None = None  # the selector's bits (it reads them, not a copy)


class Index:
    """A loaded index version, read-only: the embedded default store (rag.store.Store).

    Rows are numbered over the live chunks of every segment, oldest segment first.
    """

    def __init__(self, path: Path, manifest: Manifest, bm25: BM25Params | None = None) -> None:
        self.path = path
        self.manifest = manifest
        self.data = path / manifest.data_dir
        self.bm25 = bm25 or BM25Params()
        self._layout: _SentenceLayout | None = None
        self._last_best: tuple[bytes, np.ndarray] | None = None  # (query vector, its scan)
        self._idf: dict[str, float] = {}
        self._verify()
        try:
            self.segments = [Segment(self.data / name, manifest.dim) for name in manifest.segments]
            self._live = [self._live_rows(seg) for seg in self.segments]
        except (
            OSError,
            ValueError,
            TypeError,
            KeyError,
            IndexError,
            AttributeError,
            RuntimeError,
            EOFError,
        ) as exc:
            # Checksums matched, yet the content does not parse: written by a buggy or
            # foreign tool. Every such state is the same problem for the user.
            raise self._corrupt(f"{type(exc).__name__}: {exc}") from exc
        sizes = [len(live.rows) for live in self._live]
        self._bases = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64).tolist()
        self._n = int(self._bases[-1])
        lengths = [
            np.asarray(seg.doc_len)[live.rows]
            for seg, live in zip(self.segments, self._live, strict=True)
        ]
        total = float(sum(int(x.sum()) for x in lengths))
        self._avg_len = total / self._n if self._n else 1.0

    @classmethod
    def load(cls, path: str | Path, bm25: BM25Params | None = None) -> Index:
        path = Path(path)
        for _ in range(3):
            manifest = read_manifest(path)
            try:
                return cls(path, manifest, bm25)
            except _DataVanished:
                # A writer committed and removed the old data between our two reads.
                time.sleep(0.05)
                if read_manifest(path).data_dir == manifest.data_dir:
                    break  # no newer commit: the directory is really missing
        raise IndexCorruptError(
            f"index {path} is corrupt: its data directory {manifest.data_dir} is missing. "
            f"{_rebuild_hint(path)}"
        )

    def check_model(self, model_id: str, checksum: str, backend: str = "torch") -> None:
        """The configured model can query this index: same weights, and a backend whose
        vectors match the index's (`query_compatible`)."""
        m = self.manifest
        mismatch = model_mismatch(m, model_id, checksum, backend)
        if mismatch is None:
            return
        if mismatch == "backend":
            raise IndexMismatchError(
                f"index {self.path} was built with the {m.embed_backend} backend, whose "
                f"vectors {backend} does not reproduce. Set RAG_EMBED_BACKEND to match, or "
                f"rebuild: rm -r {self.path} && rag ingest DOCS --index {self.path}"
            )
        raise IndexMismatchError(
            f"index {self.path} was built with embedding model {m.embed_model!r} "
            f"(checksum {m.embed_checksum}), but {model_id!r} (checksum {checksum}) is "
            f"configured. Use the same model (RAG_EMBED_MODEL) or rebuild: "
            f"rm -r {self.path} && rag ingest DOCS --index {self.path}"
        )

    def _corrupt(self, what: str) -> IndexCorruptError:
        return IndexCorruptError(
            f"index {self.path} is corrupt: {what}. {_rebuild_hint(self.path)}"
        )

    def _verify(self) -> None:
        if not self.data.is_dir():
            raise _DataVanished(self.data)
        for name, expected in self.manifest.checksums.items():
            file = self.data / name
            if not file.is_file():
                if not self.data.is_dir():
                    raise _DataVanished(self.data)
                raise self._corrupt(f"{name} is missing")
            if digest_file(file) != expected:
                raise self._corrupt(f"{name} does not match its checksum")

    def _live_rows(self, seg: Segment) -> _Live:
        import faiss

        here = [seg.source_id[s] for s, r in self.manifest.files.items() if r.segment == seg.name]
        mask = np.isin(np.asarray(seg.chunk_source), np.asarray(here, dtype=np.int32))
        rows = np.flatnonzero(mask).astype(np.int64)
        position = np.full(seg.n, -1, dtype=np.int64)
        position[rows] = np.arange(len(rows))
        if len(rows) == seg.n:
            return _Live(rows, position)
        # A bitmap answers "is this row live?" in constant time however many rows a large
        # segment keeps (a batch selector hashes every kept row).
        bitmap = np.packbits(mask, bitorder="little")
        selector = faiss.IDSelectorBitmap(seg.n, faiss.swig_ptr(bitmap))
        return _Live(rows, position, selector, bitmap)

    # -- rows ------------------------------------------------------------------------

    def _locate(self, row: int) -> tuple[int, int]:
        """(segment number, local row) of a global row."""
        if not 0 <= row < self._n:
            raise IndexError(row)
        s = bisect.bisect_right(self._bases, row) - 1
        return s, int(self._live[s].rows[row - self._bases[s]])

    def _global(self, s: int, local: np.ndarray) -> np.ndarray:
        return self._live[s].position[local] + self._bases[s]

    def __len__(self) -> int:
        return self._n

    @property
    def version(self) -> str:
        return self.manifest.data_dir

    def chunk(self, row: int) -> Chunk:
        s, local = self._locate(row)
        return self.segments[s].chunk(local)

    @property
    def chunks(self) -> list[Chunk]:
        """Every live chunk, in row order (parses them all: for small indexes and tests)."""
        return [self.chunk(r) for r in range(self._n)]

    def _segment_of(self, source: str) -> Segment:
        record = self.manifest.files.get(source)
        if record is None:
            raise KeyError(source)
        return self.segments[self.manifest.segments.index(record.segment)]

    def stored_document(self, source: str) -> StoredDocument:
        return self._segment_of(source).document(source)

    def document(self, source: str) -> str:
        return self.stored_document(source).text

    def sources(self) -> list[str]:
        return [s for s, r in self.manifest.files.items() if r.segment]

    def file_rows(self, source: str) -> list[int]:
        """Global rows of a file's chunks, in order."""
        seg = self._segment_of(source)
        s = self.segments.index(seg)
        return [int(r) for r in self._global(s, seg.rows_of(source))]

    # -- keyword search ----------------------------------------------------------------

    def _live_postings(self, term: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(global rows, counts, doc lengths) of the live chunks holding `term`."""
        rows, counts, lengths = [], [], []
        for s, seg in enumerate(self.segments):
            local, c = seg.postings(term)
            if not len(local):
                continue
            glob = self._live[s].position[local]
            keep = glob >= 0
            rows.append(glob[keep] + self._bases[s])
            counts.append(c[keep])
            lengths.append(np.asarray(seg.doc_len)[local[keep]])
        if not rows:
            empty = np.zeros(0, np.int64)
            return empty, empty, empty
        return np.concatenate(rows), np.concatenate(counts), np.concatenate(lengths)

    def keyword_search(self, query: str) -> KeywordHits:
        """BM25 over the live chunks of every segment, with collection statistics (number
        of chunks, mean length, document frequency) of the live chunks: the figures do not
        depend on how the index is split into segments."""
        from rag.keyword import search_words

        found_rows, found_weights = [], []
        for term in search_words(query, self.vocabulary):
            rows, counts, lengths = self._live_postings(term)
            if not len(rows):
                continue
            weight = bm25(counts, lengths, idf(self._n, len(rows)), self._avg_len, self.bm25)
            found_rows.append(rows)
            found_weights.append(weight)
        if not found_rows:
            return KeywordHits.empty()
        rows, weights = np.concatenate(found_rows), np.concatenate(found_weights)
        if 8 * len(rows) > self._n:  # long postings (common words): sum into every row
            total = np.bincount(rows, weights=weights, minlength=self._n)
            hit = np.flatnonzero(total)
            return KeywordHits(hit.astype(np.int64), total[hit].astype(np.float32))
        unique, inverse = np.unique(rows, return_inverse=True)
        sums = np.bincount(inverse, weights=weights, minlength=len(unique))
        return KeywordHits(unique.astype(np.int64), sums.astype(np.float32))

    def idf(self, term: str) -> float:
        """Inverse document frequency; a term never seen counts as rare as possible."""
        if term not in self._idf:
            self._idf[term] = idf(self._n, len(self._live_postings(term)[0]))
        return self._idf[term]

    @cached_property
    def vocabulary(self) -> Collection[str]:
        if len(self.segments) == 1:
            return self.segments[0].vocab.keys()
        return frozenset(t for seg in self.segments for t in seg.vocab)

    # -- vector search -----------------------------------------------------------------

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        found: list[tuple[int, float]] = []
        for s, seg in enumerate(self.segments):
            live = self._live[s]
            kk = min(k, len(live.rows))
            if kk <= 0:
                continue
            params = None
            if live.selector is not None:  # skip the rows of superseded files
                params = seg.search_params(live.selector)
            sims, ids = seg.vectors.search(query, kk, params=params)
            ok = ids[0] >= 0
            rows = self._global(s, ids[0][ok])
            found += [(int(r), float(x)) for r, x in zip(rows, sims[0][ok], strict=True)]
        found.sort(key=lambda t: (-t[1], t[0]))
        return found[:k]

    def _chunk_vectors(self, rows: Sequence[int]) -> np.ndarray:
        out = np.zeros((len(rows), self.manifest.dim), np.float32)
        where = [self._locate(int(row)) for row in rows]
        for s in {s for s, _ in where}:  # one batch per segment
            at = [i for i, (t, _) in enumerate(where) if t == s]
            local = np.asarray([where[i][1] for i in at], dtype=np.int64)
            out[at] = self.segments[s].vectors.reconstruct_batch(local)
        return out

    def all_vectors(self) -> np.ndarray:
        """Every live chunk vector, in row order."""
        blocks = [
            seg.vectors.reconstruct_batch(live.rows)
            if len(live.rows)
            else np.zeros((0, self.manifest.dim), np.float32)
            for seg, live in zip(self.segments, self._live, strict=True)
        ]
        return np.vstack(blocks) if blocks else np.zeros((0, self.manifest.dim), np.float32)

    def sentences_of(self, row: int) -> list[SentenceInfo]:
        """The chunk's sentences, in the order of its `sentences`, with vector and tags."""
        s, local = self._locate(row)
        seg = self.segments[s]
        spans = seg.chunk(local).sentences
        out = []
        for (a, b), srow in zip(spans, seg.sentence_rows(local), strict=True):
            if srow < 0:
                out.append(SentenceInfo(a, b, None, ()))
            else:
                out.append(
                    SentenceInfo(a, b, np.asarray(seg.sentence_vectors[srow]), seg.tags(int(srow)))
                )
        return out

    def _member_vectors(self, s: int, local: int) -> np.ndarray:
        seg = self.segments[s]
        members = seg.sentence_rows(local)
        members = members[members >= 0]
        return (
            np.asarray(seg.sentence_vectors[np.sort(members)])
            if len(members)
            else np.zeros((0, self.manifest.dim), np.float32)
        )

    def similarities(
        self, vector: np.ndarray, rows: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray]:
        q = np.asarray(vector, np.float32)
        if not len(rows):
            return np.zeros(0, np.float32), np.zeros(0, np.float32)
        # einsum, not `@`: see _SentenceLayout.best_sentence.
        chunk = np.einsum("ij,j->i", self._chunk_vectors(rows), q)
        scanned = self._best_sentences(q)
        if scanned is not None:  # the sentence scan of this query (search_sentences) holds it
            return chunk, scanned[np.asarray(rows, dtype=np.intp)]
        best = chunk.copy()  # a chunk without stored sentence vectors stands for itself
        for i, row in enumerate(rows):
            members = self._member_vectors(*self._locate(int(row)))
            if len(members):
                best[i] = float(np.einsum("ij,j->i", members, q).max())
        return chunk, best

    def sentence_keys(self) -> list[SentenceKey]:
        """(source, start, end) of every stored sentence of the files the index holds."""
        out: list[SentenceKey] = []
        for seg in self.segments:
            here = {seg.source_id[s] for s in self.sources() if s in seg.source_id}
            here = {i for i in here if self.manifest.files[seg.sources[i]].segment == seg.name}
            keys = np.asarray(seg.sentence_keys)
            for row in np.flatnonzero(np.isin(keys[:, 0], list(here))) if len(keys) else []:
                out.append(seg.sentence_key(int(row)))
        return out

    @cached_property
    def n_sentences(self) -> int:
        return sum(len(seg.sentence_keys) for seg in self.segments)

    def _best_sentences(self, q: np.ndarray) -> np.ndarray | None:
        """Best sentence cosine of every chunk (the exhaustive scan), or None above
        SENTENCE_SCAN_LIMIT. The last query's scan is kept: retrieval searches sentences,
        then asks the similarities of its candidates, with one vector."""
        if not self._n or self.n_sentences > SENTENCE_SCAN_LIMIT:
            return None
        key = q.tobytes()
        last = self._last_best
        if last is not None and last[0] == key:
            return last[1]
        if self._layout is None:
            self._layout = _SentenceLayout.build(self)
        best = self._layout.best_sentence(q)
        self._last_best = (key, best)
        return best

    def search_sentences(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Exact: every sentence is compared, while there are at most SENTENCE_SCAN_LIMIT
        (a few milliseconds); above it, [] (retrieval then scores candidates only)."""
        best = self._best_sentences(np.asarray(vector, np.float32))
        if best is None:
            return []
        k = min(k, len(best))
        top = np.argpartition(-best, k - 1)[:k] if k < len(best) else np.arange(len(best))
        order = top[np.lexsort((top, -best[top]))]
        return [(int(r), float(best[r])) for r in order]

    # -- articles ----------------------------------------------------------------------

    def context(self, source: str, start: int, end: int) -> tuple[str, str, str]:
        """(before, quote, after): the original text of the article around a quote."""
        extents = self._segment_of(source).article_extents(source)
        return article_context(self.document(source), extents, start, end)

    # -- what a writer carries over ----------------------------------------------------

    def file_data(self, source: str) -> SegmentData:
        """Everything stored for one file, for a writer re-using its vectors."""
        seg = self._segment_of(source)
        rows = seg.rows_of(source)
        sid = seg.source_id[source]
        srows = (
            np.flatnonzero(np.asarray(seg.sentence_keys)[:, 0] == sid)
            if len(seg.sentence_keys)
            else np.zeros(0, np.int64)
        )
        tf, vocab = seg.term_counts_of(rows)
        dim = self.manifest.dim
        return SegmentData(
            chunks=[seg.chunk(int(r)) for r in rows],
            vectors=seg.vectors.reconstruct_batch(rows)
            if len(rows)
            else np.zeros((0, dim), np.float32),
            documents=[seg.document(source)],
            sentence_keys=[seg.sentence_key(int(r)) for r in srows],
            sentence_vectors=np.asarray(seg.sentence_vectors[srows]).reshape(-1, dim),
            sentence_tags=[seg.tags(int(r)) for r in srows],
            tf=tf,
            vocab=vocab,
        )

    def hashes(self, sources: Collection[str]) -> set[int]:
        """Hashes of the text of the live chunks of some files (rag.segment.text_hash)."""
        out: set[int] = set()
        for seg, live in zip(self.segments, self._live, strict=True):
            ids = [seg.source_id[s] for s in sources if s in seg.source_id]
            if not ids:
                continue
            rows = live.rows[np.isin(np.asarray(seg.chunk_source)[live.rows], ids)]
            out.update(int(h) for h in np.asarray(seg.chunk_hash)[rows])
        return out


# Above this many sentences the exhaustive sentence scan (about 25 ms per 100,000
# sentences on a busy 2-core machine) gives way to scoring the sentences of the chunk
# candidates only (`rag eval` reports both on the demo: hybrid-candidate-sentences).
SENTENCE_SCAN_LIMIT = 100_000


@dataclass(frozen=True)
class _SentenceLayout:
    """Every chunk's sentence vectors side by side, for the exhaustive sentence scan."""

    member_vectors: np.ndarray  # vectors of chunk 0's sentences, then chunk 1's, ...
    starts: np.ndarray  # offset of each chunk's first sentence in `member_vectors`

    @classmethod
    def build(cls, index: Index) -> _SentenceLayout:
        parts: list[np.ndarray] = []
        starts: list[int] = []
        size = 0
        for s, live in enumerate(index._live):
            seg = index.segments[s]
            for local in live.rows:
                block = index._member_vectors(s, int(local))
                if not len(block):  # a chunk without sentence vectors stands for itself
                    block = np.asarray(seg.vectors.reconstruct(int(local))).reshape(1, -1)
                starts.append(size)
                parts.append(block)
                size += len(block)
        return cls(np.vstack(parts), np.asarray(starts, dtype=np.intp))

    def best_sentence(self, qvec: np.ndarray) -> np.ndarray:
        """Best sentence cosine of every chunk: (n_chunks,)."""
        # einsum, not `@`: a BLAS matrix-vector product wakes OpenBLAS's thread pool, whose
        # spinning threads then slow the next query's embedding ~6x on a 2-core machine.
        sims = np.einsum("ij,j->i", self.member_vectors, qvec)
        return np.maximum.reduceat(sims, self.starts)


# -- writing -----------------------------------------------------------------------------


@contextlib.contextmanager
def write_lock(path: Path) -> Iterator[None]:
    """One writer at a time per index directory."""
    if path.exists() and not path.is_dir():
        raise ConfigError(
            f"{path} is a file, not an index directory. Choose another --index (or RAG_INDEX)"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the index directory {path} ({exc.strerror or exc}). "
            "Choose another --index (or RAG_INDEX)"
        ) from exc
    with exclusive_lock(path / ".lock", "writing this index"):
        yield


class FaissWriter:
    """The writer of an index directory (rag.store.StoreWriter), under its write lock:
    `commit` and `compact` above, on today's layout."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = str(path)

    def previous(self, sources: Collection[str]) -> Index | None:
        if not (self.path / MANIFEST).exists():
            return None
        try:
            return Index.load(self.path)
        except IndexMismatchError:
            version, files = stored_format(self.path)
            if version >= FORMAT_VERSION:
                raise  # a newer format: never overwrite what a newer version wrote
            missing = sorted(set(files) - set(sources))
            if missing:  # rebuilding from these inputs alone would drop those files
                shown = ", ".join(missing[:3]) + (" …" if len(missing) > 3 else "")
                raise IndexMismatchError(
                    f"index {self.path} has format version {version} and holds files not "
                    f"among these inputs ({shown}). Rebuild it from all its files: "
                    f"rag ingest DOCS --index {self.path} --rebuild"
                ) from None
            log.warning("the index has an older format: re-embedding every file")
            return None

    def commit(
        self,
        manifest: Manifest,
        previous: Any,
        kept: dict[str, FileRecord],
        added: dict[str, FileRecord],
        data: SegmentData | None,
    ) -> Index:
        commit(self.path, manifest, previous, kept, added, data)
        return Index.load(self.path)

    def tidy(self, version: Any) -> Manifest:
        m: Manifest = version.manifest
        return compact(self.path) if len(m.segments) > MAX_SEGMENTS else m


@contextlib.contextmanager
def open_writer(path: Path) -> Iterator[FaissWriter]:
    """The writer of the index directory `path`, holding its write lock for the block."""
    with write_lock(path):
        yield FaissWriter(path)


def _new_name(prefix: str) -> str:
    return f"{prefix}-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"


def commit(
    path: Path,
    manifest: Manifest,
    previous: Index | None,
    kept: dict[str, FileRecord],
    added: dict[str, FileRecord],
    new: SegmentData | None,
) -> Manifest:
    """Write and commit a version: the files of `kept` stay in their segments of `previous`
    (hard-linked), the files of `added` go into one new segment written from `new`.
    Call under `write_lock(path)`; returns the committed manifest."""
    data_name = _new_name("data")
    tmp = path / f".tmp-{data_name}"
    tmp.mkdir(parents=True)
    checksums: dict[str, str] = {}
    segments: list[str] = []
    in_use = {r.segment for r in kept.values()}
    if previous is not None:
        for name in previous.manifest.segments:
            if name not in in_use:
                continue  # every file of it was superseded or removed
            (tmp / name).mkdir()
            for f in SEGMENT_FILES:
                os.link(previous.data / name / f, tmp / name / f)
                checksums[f"{name}/{f}"] = previous.manifest.checksums[f"{name}/{f}"]
            segments.append(name)
    files = dict(kept)
    if new is not None and new.chunks:
        name = _new_name("seg")
        (tmp / name).mkdir()
        write_segment(tmp / name, new, manifest.dim)
        for f in SEGMENT_FILES:
            fsync_file(tmp / name / f)
            checksums[f"{name}/{f}"] = digest_file(tmp / name / f)
        fsync_dir(tmp / name)
        segments.append(name)
        files.update({s: replace(r, segment=name) for s, r in added.items()})
    else:
        files.update({s: replace(r, segment="") for s, r in added.items()})
    final = replace(
        manifest,
        files=files,
        data_dir=data_name,
        checksums=checksums,
        segments=segments,
        n_chunks=sum(r.chunks for r in files.values()),
        updated=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    os.replace(tmp, path / data_name)
    fsync_dir(path)
    write_text_atomic(path / MANIFEST, final.to_json())  # the commit
    fsync_dir(path)
    remove_stale(path, keep=data_name)
    return final


def merged(index: Index, sources: Sequence[str] | None = None) -> SegmentData:
    """The stored data of some files (default: all) as one segment's worth."""
    parts = [index.file_data(s) for s in (sources if sources is not None else index.sources())]
    dim = index.manifest.dim
    keyword = KeywordIndex.merge([(p.tf, p.vocab) for p in parts])
    return SegmentData(
        chunks=[c for p in parts for c in p.chunks],
        vectors=np.vstack([p.vectors for p in parts]) if parts else np.zeros((0, dim), np.float32),
        documents=[d for p in parts for d in p.documents],
        sentence_keys=[k for p in parts for k in p.sentence_keys],
        sentence_vectors=(
            np.vstack([p.sentence_vectors for p in parts])
            if parts
            else np.zeros((0, dim), np.float32)
        ),
        sentence_tags=[t for p in parts for t in p.sentence_tags],
        tf=keyword.tf,
        vocab=keyword.vocab,
    )


def compact(path: Path) -> Manifest:
    """Rewrite every live row into one segment (no re-embedding). Call under write_lock."""
    index = Index.load(path)
    files = index.manifest.files
    return commit(path, index.manifest, index, {}, dict(files), merged(index))


def remove_stale(path: Path, keep: str) -> None:
    """Delete data directories no manifest points to (old versions, crashed writes)."""
    for child in path.iterdir():
        if child.is_dir() and child.name != keep and child.name.startswith(("data-", ".tmp-")):
            shutil.rmtree(child, ignore_errors=True)
