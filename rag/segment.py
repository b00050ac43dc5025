"""One segment of an index: the chunks of some files, written once and never changed.

An index version (rag.index) is a list of segments; an ingest adds one holding the files
it (re-)embedded, and older segments are carried over by hard link, so adding a file costs
its own size, not the archive's. Opening a segment reads almost nothing: vectors and
offsets are memory-mapped, and a chunk, a document or a sentence's tags are parsed from
their line only when asked for.

Layout of ``seg-<id>/`` (rows are the segment's chunks, in order)::

    vectors.faiss          chunk vectors: exact inner product, or an inverted file (IVF)
                           from ANN_ROWS rows
    chunks.jsonl           one chunk per line    + chunks.idx.npy (byte offset of each line)
    chunk_source.npy       int32: the source (index into sources.json) of each row
    chunk_hash.npy         uint64: hash of each chunk's whitespace-free text (duplicates)
    sources.json           the files of the segment
    documents.jsonl        their original text, same order  + documents.idx.npy
    sentences.npy          int64 (n, 3): source, start, end of every sentence of those files
    sentence_vectors.npy   float32 (n, dim)
    sentence_tags.jsonl    LAC words of each sentence (rag.tagger)  + sentence_tags.idx.npy
    chunk_sentences.indptr.npy, chunk_sentences.rows.npy
                           each chunk's sentence rows, in the order of Chunk.sentences
    terms.indptr.npy, terms.rows.npy, terms.counts.npy, doc_len.npy, vocab.json
                           keyword postings (CSC term counts: one column per term)
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import mmap
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from rag.store import article_extents
from rag.tagger import Token
from rag.text import squeeze
from rag.types import ArticleMeta, Chunk

if TYPE_CHECKING:
    import faiss

SentenceKey = tuple[str, int, int]  # (source, start, end)

SEGMENT_FILES = (
    "vectors.faiss",
    "chunks.jsonl",
    "chunks.idx.npy",
    "chunk_source.npy",
    "chunk_hash.npy",
    "sources.json",
    "documents.jsonl",
    "documents.idx.npy",
    "sentences.npy",
    "sentence_vectors.npy",
    "sentence_tags.jsonl",
    "sentence_tags.idx.npy",
    "chunk_sentences.indptr.npy",
    "chunk_sentences.rows.npy",
    "terms.indptr.npy",
    "terms.rows.npy",
    "terms.counts.npy",
    "doc_len.npy",
    "vocab.json",
)
# From this many rows a segment's chunk vectors are searched through an inverted file
# (FAISS IVF-Flat: k-means cells, the query's nearest cells scanned exactly) instead of
# exhaustively. Chosen over HNSW by measurement at 1M chunks: top-10 recall 0.96 against
# HNSW's 0.78 at ef 96, and a build of 7 minutes instead of 20 (docs/benchmarks.md,
# `python -m rag.evals.bench scale`).
ANN_ROWS = 200_000
IVF_TRAIN_PER_LIST = 128  # k-means training rows per cell (fewer gave worse cells)
HNSW_EF_SEARCH = 96  # segments written with an HNSW graph by earlier versions still load


def ivf_lists(n: int) -> int:
    """Cells of an n-row inverted file: about 4·sqrt(n), a power of two, and at least 39
    rows per cell (FAISS's k-means floor)."""
    target = 2 ** round(np.log2(max(1.0, 4 * np.sqrt(n))))
    return int(max(1, min(target, n // 39)))


def ivf_probes(n_lists: int) -> int:
    """Cells a query scans: a 20th of them (at least 16, or all of a small file)."""
    return int(max(min(n_lists, 16), n_lists // 20))


@dataclass(frozen=True)
class StoredDocument:
    source: str
    sha256: str
    encoding: str
    text: str


@dataclass(frozen=True)
class SegmentData:
    """What a writer hands over: chunks with their vectors, the files' sentences, and the
    term counts of each chunk (rows of `tf`, columns named by `vocab`)."""

    chunks: Sequence[Chunk]
    vectors: np.ndarray  # (len(chunks), dim)
    documents: Sequence[StoredDocument]
    sentence_keys: Sequence[SentenceKey]
    sentence_vectors: np.ndarray  # (len(sentence_keys), dim)
    sentence_tags: Sequence[tuple[Token, ...]]
    tf: sp.csr_matrix  # (len(chunks), len(vocab)) term counts
    vocab: dict[str, int]


def chunk_id(chunk: Chunk) -> str:
    return f"{chunk.source}:{chunk.start}-{chunk.end}"


def text_hash(text: str) -> int:
    """A 64-bit hash of the whitespace-free text: equal chunks are indexed once."""
    return int.from_bytes(hashlib.blake2b(squeeze(text).encode(), digest_size=8).digest(), "little")


def chunk_to_json(chunk: Chunk) -> str:
    record = asdict(chunk)
    record["id"] = chunk_id(chunk)
    return json.dumps(record, ensure_ascii=False)


def chunk_from_json(line: bytes | str) -> Chunk:
    d = json.loads(line)
    d.pop("id", None)
    d["sentences"] = tuple(tuple(s) for s in d["sentences"])
    d["meta"] = ArticleMeta(**d["meta"])
    return Chunk(**d)


def _write_lines(path: Path, lines: Sequence[str]) -> None:
    """A JSON-lines file and, next to it, the byte offset of every line (n + 1 of them)."""
    offsets = np.zeros(len(lines) + 1, dtype=np.int64)
    with path.open("wb") as fh:
        for i, line in enumerate(lines):
            raw = line.encode("utf-8") + b"\n"
            fh.write(raw)
            offsets[i + 1] = offsets[i] + len(raw)
    np.save(path.with_name(path.name.removesuffix(".jsonl") + ".idx.npy"), offsets)


def write_segment(directory: Path, data: SegmentData, dim: int) -> None:
    """Write every file of a segment into `directory` (which must exist)."""
    import faiss

    n = len(data.chunks)
    if len(data.vectors) != n or data.tf.shape[0] != n:
        raise ValueError("chunks, vectors and term rows disagree")
    if len(data.sentence_tags) != len(data.sentence_keys):
        raise ValueError("every sentence needs its tags")
    vectors = np.ascontiguousarray(data.vectors, dtype=np.float32).reshape(n, dim)
    index = inverted_file(faiss, vectors, dim) if n >= ANN_ROWS else faiss.IndexFlatIP(dim)
    if n:
        with _threads(faiss, 0):  # assigning rows to cells does use every core
            index.add(vectors)
    faiss.write_index(index, str(directory / "vectors.faiss"))

    sources = [d.source for d in data.documents]
    source_id = {s: i for i, s in enumerate(sources)}
    (directory / "sources.json").write_text(json.dumps(sources, ensure_ascii=False), "utf-8")
    _write_lines(
        directory / "documents.jsonl",
        [json.dumps(asdict(d), ensure_ascii=False) for d in data.documents],
    )
    _write_lines(directory / "chunks.jsonl", [chunk_to_json(c) for c in data.chunks])
    np.save(
        directory / "chunk_source.npy",
        np.asarray([source_id[c.source] for c in data.chunks], dtype=np.int32),
    )
    np.save(
        directory / "chunk_hash.npy",
        np.asarray([text_hash(c.text) for c in data.chunks], dtype=np.uint64),
    )

    keys = np.asarray(
        [(source_id[s], a, b) for s, a, b in data.sentence_keys], dtype=np.int64
    ).reshape(-1, 3)
    np.save(directory / "sentences.npy", keys)
    np.save(
        directory / "sentence_vectors.npy",
        np.ascontiguousarray(data.sentence_vectors, dtype=np.float32).reshape(-1, dim),
    )
    _write_lines(
        directory / "sentence_tags.jsonl",
        [json.dumps([list(t) for t in tags], ensure_ascii=False) for tags in data.sentence_tags],
    )
    row_of = {(int(s), int(a), int(b)): i for i, (s, a, b) in enumerate(keys)}
    indptr = np.zeros(n + 1, dtype=np.int64)
    members: list[int] = []
    for i, c in enumerate(data.chunks):
        sid = source_id[c.source]
        members += [row_of.get((sid, a, b), -1) for a, b in c.sentences]
        indptr[i + 1] = len(members)
    np.save(directory / "chunk_sentences.indptr.npy", indptr)
    np.save(directory / "chunk_sentences.rows.npy", np.asarray(members, dtype=np.int64))

    tf = data.tf.tocsc()
    tf.sort_indices()
    np.save(directory / "terms.indptr.npy", tf.indptr.astype(np.int64))
    np.save(directory / "terms.rows.npy", tf.indices.astype(np.int32))
    np.save(directory / "terms.counts.npy", tf.data.astype(np.int32))
    np.save(directory / "doc_len.npy", np.asarray(data.tf.sum(axis=1), dtype=np.int32).ravel())
    terms = sorted(data.vocab, key=data.vocab.__getitem__)
    (directory / "vocab.json").write_text(json.dumps(terms, ensure_ascii=False), "utf-8")


def inverted_file(faiss: Any, vectors: np.ndarray, dim: int) -> Any:
    """An empty IVF-Flat index whose cells are trained on a fixed sample of `vectors`."""
    n_lists = ivf_lists(len(vectors))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, n_lists, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = 0
    n_train = min(len(vectors), IVF_TRAIN_PER_LIST * n_lists)
    sample = np.sort(np.random.default_rng(0).choice(len(vectors), n_train, replace=False))
    with _threads(faiss, 0):
        index.train(vectors[sample])
    index.set_direct_map_type(faiss.DirectMap.Array)  # reconstruct(row) for compaction
    index.nprobe = ivf_probes(n_lists)
    return index


@contextlib.contextmanager
def _threads(faiss: Any, n: int) -> Iterator[None]:
    """FAISS's OpenMP thread count for a block (0: one per core)."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n or (os.cpu_count() or 1))
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


class _Lines:
    """A JSON-lines file read line by line through mmap, by the offsets beside it."""

    def __init__(self, path: Path) -> None:
        self.offsets = np.load(path.with_name(path.name.removesuffix(".jsonl") + ".idx.npy"))
        size = path.stat().st_size
        if len(self.offsets) == 0 or int(self.offsets[-1]) != size:
            raise ValueError(f"{path.name}: its offsets do not match its size")
        self._mm: mmap.mmap | bytes = b""
        if size:
            with path.open("rb") as fh:
                self._mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> bytes:
        return self._mm[int(self.offsets[i]) : int(self.offsets[i + 1])]


class Segment:
    """A segment opened read-only. Rows are local (0..n-1)."""

    def __init__(self, directory: Path, dim: int) -> None:
        import faiss

        # Queries search one vector at a time: FAISS's OpenMP threads only spin (a search
        # of 10,000 vectors took 26 ms with 2 threads on a busy 2-core machine, 2 ms with 1).
        faiss.omp_set_num_threads(1)
        self.directory = directory
        self.name = directory.name
        self.vectors: faiss.Index = faiss.read_index(str(directory / "vectors.faiss"))
        if isinstance(self.vectors, faiss.IndexHNSWFlat):
            self.vectors.hnsw.efSearch = HNSW_EF_SEARCH
        elif isinstance(self.vectors, faiss.IndexIVF):
            self.vectors.nprobe = ivf_probes(self.vectors.nlist)
        self.sources: list[str] = json.loads((directory / "sources.json").read_text("utf-8"))
        self.source_id = {s: i for i, s in enumerate(self.sources)}
        self._chunks = _Lines(directory / "chunks.jsonl")
        self._documents = _Lines(directory / "documents.jsonl")
        self._tags = _Lines(directory / "sentence_tags.jsonl")
        self._document_cached = functools.lru_cache(maxsize=32)(self._document)
        self.article_extents = functools.lru_cache(maxsize=256)(self._article_extents)
        load = self._load
        self.chunk_source = load("chunk_source.npy")
        self.chunk_hash = load("chunk_hash.npy")
        self.sentence_keys = load("sentences.npy")
        self.sentence_vectors = load("sentence_vectors.npy")
        self.member_ptr = load("chunk_sentences.indptr.npy")
        self.member_rows = load("chunk_sentences.rows.npy")
        self.term_ptr = load("terms.indptr.npy")
        self.term_rows = load("terms.rows.npy")
        self.term_counts = load("terms.counts.npy")
        self.doc_len = load("doc_len.npy")
        terms = json.loads((directory / "vocab.json").read_text("utf-8"))
        self.vocab: dict[str, int] = {t: i for i, t in enumerate(terms)}
        self.n = len(self._chunks)
        self._check(dim)

    def _load(self, name: str) -> np.ndarray:
        """Memory-mapped, as a plain ndarray view (np.memmap's indexing is slow)."""
        return np.load(self.directory / name, mmap_mode="r", allow_pickle=False).view(np.ndarray)

    def _check(self, dim: int) -> None:
        n, m = self.n, len(self.sentence_keys)
        problems = [
            (self.vectors.ntotal != n, "vector and chunk counts disagree"),
            (self.vectors.d != dim, f"vectors have {self.vectors.d} dimensions, not {dim}"),
            (len(self.chunk_source) != n or len(self.chunk_hash) != n, "chunk arrays disagree"),
            (len(self._documents) != len(self.sources), "documents and sources disagree"),
            (self.sentence_vectors.shape != (m, dim), "sentence vectors and sentences disagree"),
            (len(self._tags) != m, "sentence tags and sentences disagree"),
            (len(self.member_ptr) != n + 1, "chunk sentences and chunks disagree"),
            (len(self.term_ptr) != len(self.vocab) + 1, "keyword postings and vocabulary disagree"),
            (len(self.doc_len) != n, "keyword lengths and chunks disagree"),
        ]
        for bad, what in problems:
            if bad:
                raise ValueError(what)

    # -- fetch -----------------------------------------------------------------------

    def chunk(self, row: int) -> Chunk:
        return chunk_from_json(self._chunks[row])

    def document(self, source: str) -> StoredDocument:
        # A question reads the same few documents several times (evidence, citations).
        return self._document_cached(source)

    def _document(self, source: str) -> StoredDocument:
        return StoredDocument(**json.loads(self._documents[self.source_id[source]]))

    def _article_extents(self, source: str) -> dict[int, tuple[int, int]]:
        """Where each article of a file lies, as its chunks cover it: {article: (start, end)}."""
        return article_extents(self.chunk(int(r)) for r in self.rows_of(source))

    def rows_of(self, source: str) -> np.ndarray:
        sid = self.source_id.get(source)
        return np.zeros(0, np.int64) if sid is None else np.flatnonzero(self.chunk_source == sid)

    def sentence_rows(self, row: int) -> np.ndarray:
        """Sentence rows of a chunk, in the order of its `sentences` (-1: none stored)."""
        return np.asarray(self.member_rows[self.member_ptr[row] : self.member_ptr[row + 1]])

    def tags(self, sentence_row: int) -> tuple[Token, ...]:
        return self._parsed_tags(sentence_row)

    @functools.cached_property
    def _parsed_tags(self) -> Callable[[int], tuple[Token, ...]]:
        """Parsing a sentence's tags cost ~2 ms a question when done on every read: the
        most recent 50,000 are kept (a segment is immutable once written)."""

        @functools.lru_cache(maxsize=50_000)
        def parse(sentence_row: int) -> tuple[Token, ...]:
            raw = json.loads(self._tags[sentence_row])
            return tuple((int(a), int(b), str(t)) for a, b, t in raw)

        return parse

    def sentence_key(self, sentence_row: int) -> SentenceKey:
        sid, a, b = (int(x) for x in self.sentence_keys[sentence_row])
        return self.sources[sid], a, b

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows, counts) of the chunks holding `term`."""
        col = self.vocab.get(term)
        if col is None:
            return np.zeros(0, np.int32), np.zeros(0, np.int32)
        a, b = int(self.term_ptr[col]), int(self.term_ptr[col + 1])
        return np.asarray(self.term_rows[a:b]), np.asarray(self.term_counts[a:b])

    def term_counts_of(self, rows: np.ndarray) -> tuple[sp.csr_matrix, dict[str, int]]:
        """Term-count rows of some chunks, for a writer carrying them into a new segment."""
        csc = sp.csc_matrix(
            (np.asarray(self.term_counts), np.asarray(self.term_rows), np.asarray(self.term_ptr)),
            shape=(self.n, max(len(self.vocab), 1)),
        )
        return csc.tocsr()[rows], self.vocab

    @cached_property
    def ann(self) -> str:
        import faiss

        if isinstance(self.vectors, faiss.IndexIVF):
            return "ivf"
        return "hnsw" if isinstance(self.vectors, faiss.IndexHNSWFlat) else "exact"

    def search_params(self, selector: Any) -> Any:
        """FAISS search parameters that keep only the rows `selector` admits."""
        import faiss

        if self.ann == "ivf":
            probes: int = self.vectors.nprobe  # type: ignore[attr-defined]
            return faiss.SearchParametersIVF(sel=selector, nprobe=probes)  # type: ignore[call-arg]
        if self.ann == "hnsw":
            return faiss.SearchParametersHNSW(sel=selector, efSearch=HNSW_EF_SEARCH)  # type: ignore[attr-defined]
        return faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "chunks": self.n, "sentences": len(self.sentence_keys)}
