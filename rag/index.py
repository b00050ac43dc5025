"""The on-disk index: one directory, committed atomically through its manifest.

Layout::

    INDEX/
      manifest.json        the commit point: format version, model, parameters, files,
                           and the name + checksums of the data directory below
      data-<id>/
        vectors.faiss      normalised embeddings, inner product (exact search)
        keyword.npz        BM25 term counts (see rag.keyword)
        vocab.json
        chunks.jsonl       one chunk per line, same order as the vectors
        sentences.jsonl    [source, start, end] of every sentence of every chunk
        sentence_vectors.npy  their embeddings (answers and citations work per sentence)
        sentence_tags.jsonl   LAC words and tags of each sentence, same order (rag.tagger)
        documents.jsonl    the original decoded text of every file (for citations)

A writer builds a fresh `data-<id>/` next to the current one, then replaces
`manifest.json` with `os.replace` (atomic on POSIX). A crash at any moment leaves the
old manifest pointing at the old, untouched data directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Collection, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.errors import ConfigError, IndexCorruptError, IndexMismatchError, IndexNotFoundError
from rag.fsutil import exclusive_lock, fsync_dir, fsync_file, sha256_file, write_text_atomic
from rag.keyword import TOKENIZER_NAME, BM25Params, KeywordHits, KeywordIndex
from rag.tagger import TAGGER_NAME, Token
from rag.types import ArticleMeta, Chunk

if TYPE_CHECKING:
    import faiss

FORMAT_VERSION = 2  # 2: LAC word/entity tags of every sentence (sentence_tags.jsonl)
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class FileRecord:
    sha256: str
    encoding: str
    articles: int
    chunks: int
    complete: bool = True  # False: committed in part by an interrupted ingest
    layout: str = ""  # cleaning rules applied: "page" (PDF-like) or "prose" (rag.ingest.clean)
    layout_reason: str = ""  # the evidence, e.g. "12 of 80 lines broken mid-sentence"


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
    checksums: dict[str, str] = field(default_factory=dict)
    n_chunks: int = 0
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


# Every data directory holds these; the manifest must name a checksum for each.
DATA_FILES = frozenset(
    {
        "vectors.faiss",
        "keyword.npz",
        "vocab.json",
        "chunks.jsonl",
        "documents.jsonl",
        "sentences.jsonl",
        "sentence_vectors.npy",
    }
)
_DATA_DIR = re.compile(r"data-[0-9A-Za-z-]+")


SentenceKey = tuple[str, int, int]  # (source, start, end)


@dataclass(frozen=True)
class SentenceStore:
    keys: list[SentenceKey]
    vectors: np.ndarray  # (len(keys), dim) float32
    tags: list[tuple[Token, ...]] = field(default_factory=list)  # same order as keys


@dataclass(frozen=True)
class StoredDocument:
    source: str
    sha256: str
    encoding: str
    text: str


def chunk_id(chunk: Chunk) -> str:
    return f"{chunk.source}:{chunk.start}-{chunk.end}"


# Backends whose vectors are interchangeable for queries, declared by measurement: the int8
# ONNX export's vectors have mean cosine ≥ 0.99 to PyTorch's on every demo chunk
# (tests/test_onnx_backend.py asserts it; docs/benchmarks.md has the retrieval figures).
_QUERY_COMPATIBLE = frozenset({frozenset({"torch", "onnx-int8"})})


def query_compatible(built_with: str, querying_with: str) -> bool:
    return built_with == querying_with or (
        frozenset({built_with, querying_with}) in _QUERY_COMPATIBLE
    )


def _chunk_to_json(chunk: Chunk) -> str:
    record = asdict(chunk)
    record["id"] = chunk_id(chunk)
    return json.dumps(record, ensure_ascii=False)


def _chunk_from_json(line: str) -> Chunk:
    d = json.loads(line)
    d.pop("id", None)
    d["sentences"] = tuple(tuple(s) for s in d["sentences"])
    d["meta"] = ArticleMeta(**d["meta"])
    return Chunk(**d)


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
    """What types alone do not say: a data directory inside the index, a checksum per file."""
    if not _DATA_DIR.fullmatch(m.data_dir):
        raise ValueError(f"data_dir {m.data_dir!r} is not a data directory name")
    missing = sorted(DATA_FILES - set(m.checksums))
    if missing:
        raise ValueError(f"no checksum for {', '.join(missing)}")
    if m.dim <= 0 or m.n_chunks < 0:
        raise ValueError(f"dim {m.dim} / n_chunks {m.n_chunks} out of range")


class _DataVanished(Exception):
    """The manifest's data directory is gone: a concurrent commit, or damage."""


class Index:
    """A loaded index: chunks, their vectors and the keyword index, read-only. The
    embedded default store (rag.store.Store)."""

    def __init__(self, path: Path, manifest: Manifest, bm25: BM25Params | None = None) -> None:
        self.path = path
        self.manifest = manifest
        self.data = path / manifest.data_dir
        self._layout: _SentenceLayout | None = None
        self._verify()
        try:
            self.chunks = self._read_chunks()
            self.vectors = self._read_vectors()
            self.keyword = KeywordIndex.load(self.data, bm25)
            self.documents = self._read_documents()
            self.sentence_vectors, self.sentence_rows = self._read_sentences()
            self.sentence_tags = self._read_tags()
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
        if self.vectors.ntotal != len(self.chunks) or len(self.keyword) != len(self.chunks):
            raise self._corrupt("vector, keyword and chunk counts disagree")
        if self.vectors.d != manifest.dim:
            raise self._corrupt(
                f"vectors have {self.vectors.d} dimensions, manifest says {manifest.dim}"
            )

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
        if m.embed_model == model_id and m.embed_checksum == checksum:
            if not query_compatible(m.embed_backend, backend):
                raise IndexMismatchError(
                    f"index {self.path} was built with the {m.embed_backend} backend, whose "
                    f"vectors {backend} does not reproduce. Set RAG_EMBED_BACKEND to match, or "
                    f"rebuild: rm -r {self.path} && rag ingest DOCS --index {self.path}"
                )
            return
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
            if sha256_file(file) != expected:
                raise self._corrupt(f"{name} does not match its checksum")

    def _read_chunks(self) -> list[Chunk]:
        with (self.data / "chunks.jsonl").open(encoding="utf-8") as fh:
            return [_chunk_from_json(line) for line in fh if line.strip()]

    def _read_vectors(self) -> faiss.Index:
        import faiss

        return faiss.read_index(str(self.data / "vectors.faiss"))

    def _read_documents(self) -> dict[str, StoredDocument]:
        docs: dict[str, StoredDocument] = {}
        with (self.data / "documents.jsonl").open(encoding="utf-8") as fh:
            for line in fh:
                doc = StoredDocument(**json.loads(line))
                docs[doc.source] = doc
        return docs

    def _read_sentences(self) -> tuple[np.ndarray, dict[SentenceKey, int]]:
        with (self.data / "sentences.jsonl").open(encoding="utf-8") as fh:
            keys = [tuple(json.loads(line)) for line in fh if line.strip()]
        vectors = np.load(self.data / "sentence_vectors.npy", allow_pickle=False)
        if len(vectors) != len(keys):
            raise self._corrupt("sentence vectors and sentence list disagree")
        return vectors, {(str(k[0]), int(k[1]), int(k[2])): i for i, k in enumerate(keys)}

    def _read_tags(self) -> list[tuple[Token, ...]]:
        with (self.data / "sentence_tags.jsonl").open(encoding="utf-8") as fh:
            try:
                tags = [
                    tuple((int(a), int(b), str(t)) for a, b, t in json.loads(line))
                    for line in fh
                    if line.strip()
                ]
            except (ValueError, TypeError) as exc:
                raise self._corrupt(f"sentence_tags.jsonl: {exc}") from exc
        if len(tags) != len(self.sentence_rows):
            raise self._corrupt("sentence tags and sentence list disagree")
        return tags

    def tags_of(self, source: str, start: int, end: int) -> tuple[Token, ...]:
        """LAC words and tags of a stored sentence (offsets into its display text)."""
        row = self.sentence_rows.get((source, start, end))
        return () if row is None else self.sentence_tags[row]

    def sentence_vector(self, source: str, start: int, end: int) -> np.ndarray | None:
        row = self.sentence_rows.get((source, start, end))
        return None if row is None else self.sentence_vectors[row]

    def article_span(self, source: str, article: int) -> tuple[int, int]:
        """Extent of an article in its file, as covered by its chunks."""
        spans = [
            (c.start, c.end) for c in self.chunks if c.source == source and c.article == article
        ]
        if not spans:
            raise KeyError((source, article))
        return min(s for s, _ in spans), max(e for _, e in spans)

    def context(self, source: str, start: int, end: int) -> tuple[str, str, str]:
        """(before, quote, after): the original text of the article around a quote."""
        text = self.documents[source].text
        owner = next(
            (c for c in self.chunks if c.source == source and c.start <= start < c.end), None
        )
        a_start, a_end = self.article_span(source, owner.article) if owner else (start, end)
        a_start, a_end = min(a_start, start), max(a_end, end)
        return text[a_start:start], text[start:end], text[end:a_end]

    def all_vectors(self) -> np.ndarray:
        return self.vectors.reconstruct_n(0, self.vectors.ntotal)

    # -- the store protocol (rag.store.Store) -------------------------------------------

    def __len__(self) -> int:
        return len(self.chunks)

    @property
    def version(self) -> str:
        return self.manifest.data_dir

    def chunk(self, row: int) -> Chunk:
        return self.chunks[row]

    def document(self, source: str) -> str:
        return self.documents[source].text

    def sources(self) -> list[str]:
        return list(self.documents)

    def keyword_search(self, query: str) -> KeywordHits:
        return self.keyword.search(query)

    def idf(self, term: str) -> float:
        return self.keyword.idf(term)

    @property
    def vocabulary(self) -> Collection[str]:
        return self.keyword.vocab

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        k = min(k, len(self.chunks))
        if k <= 0:
            return []
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        sims, rows = self.vectors.search(query, k)
        return [(int(r), float(s)) for r, s in zip(rows[0], sims[0], strict=True) if r >= 0]

    def search_sentences(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Exact: every sentence is compared, while there are at most SENTENCE_SCAN_LIMIT
        (a few milliseconds); above it, [] (retrieval then scores candidates only)."""
        if not self.chunks or len(self.sentence_rows) > SENTENCE_SCAN_LIMIT:
            return []
        best = self._sentence_layout().best_sentence(np.asarray(vector, np.float32))
        k = min(k, len(best))
        top = np.argpartition(-best, k - 1)[:k] if k < len(best) else np.arange(len(best))
        order = top[np.lexsort((top, -best[top]))]
        return [(int(r), float(best[r])) for r in order]

    def similarities(
        self, vector: np.ndarray, rows: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray]:
        q = np.asarray(vector, np.float32)
        if not len(rows):
            return np.zeros(0, np.float32), np.zeros(0, np.float32)
        ids = np.asarray(rows, dtype=np.int64)
        chunk_vectors = self.vectors.reconstruct_batch(ids)
        # einsum, not `@`: see _SentenceLayout.best_sentence.
        chunk = np.einsum("ij,j->i", chunk_vectors, q)
        best = np.empty(len(ids), np.float32)
        for i, row in enumerate(ids):
            c = self.chunks[int(row)]
            found = [self.sentence_rows.get((c.source, a, b)) for a, b in c.sentences]
            members = [r for r in found if r is not None]
            # A chunk without stored sentence vectors stands in for its own sentence.
            best[i] = (
                float(np.einsum("ij,j->i", self.sentence_vectors[members], q).max())
                if members
                else chunk[i]
            )
        return chunk, best

    def _sentence_layout(self) -> _SentenceLayout:
        if self._layout is None:
            self._layout = _SentenceLayout.build(self)
        return self._layout


# Above this many sentences the exhaustive sentence scan (about 4 ms per 100,000 sentences
# on 2 cores) gives way to scoring the sentences of the chunk candidates only.
SENTENCE_SCAN_LIMIT = 500_000


@dataclass(frozen=True)
class _SentenceLayout:
    """Every chunk's sentence vectors side by side, for the exhaustive sentence scan."""

    member_vectors: np.ndarray  # vectors of chunk 0's sentences, then chunk 1's, ...
    starts: np.ndarray  # offset of each chunk's first sentence in `member_vectors`

    @classmethod
    def build(cls, index: Index) -> _SentenceLayout:
        chunk_vectors = index.all_vectors()
        parts: list[np.ndarray] = []
        starts: list[int] = []
        size = 0
        for row, c in enumerate(index.chunks):
            found = [index.sentence_rows.get((c.source, a, b)) for a, b in c.sentences]
            rows = [r for r in found if r is not None]
            # A chunk without stored sentence vectors stands in for its own sentence.
            block = index.sentence_vectors[rows] if rows else chunk_vectors[row : row + 1]
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


def write_index(
    path: Path,
    manifest: Manifest,
    chunks: Sequence[Chunk],
    vectors: np.ndarray,
    keyword: KeywordIndex,
    documents: Sequence[StoredDocument],
    sentences: SentenceStore,
) -> Manifest:
    """Write a complete new version and commit it. Call under `write_lock(path)`."""
    import faiss

    data_name = f"data-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
    tmp = path / f".tmp-{data_name}"
    tmp.mkdir(parents=True)
    index = faiss.IndexFlatIP(manifest.dim)
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    faiss.write_index(index, str(tmp / "vectors.faiss"))
    names = [
        "vectors.faiss",
        *keyword.save(tmp),
        "chunks.jsonl",
        "documents.jsonl",
        "sentences.jsonl",
        "sentence_vectors.npy",
        "sentence_tags.jsonl",
    ]
    with (tmp / "sentences.jsonl").open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(list(k), ensure_ascii=False) + "\n" for k in sentences.keys)
    if len(sentences.tags) != len(sentences.keys):
        raise ValueError("every sentence needs its tags")
    with (tmp / "sentence_tags.jsonl").open("w", encoding="utf-8") as fh:
        fh.writelines(
            json.dumps([list(t) for t in tags], ensure_ascii=False) + "\n"
            for tags in sentences.tags
        )
    np.save(tmp / "sentence_vectors.npy", np.ascontiguousarray(sentences.vectors, np.float32))
    with (tmp / "chunks.jsonl").open("w", encoding="utf-8") as fh:
        fh.writelines(_chunk_to_json(c) + "\n" for c in chunks)
    with (tmp / "documents.jsonl").open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(asdict(d), ensure_ascii=False) + "\n" for d in documents)
    for name in names:
        fsync_file(tmp / name)
    checksums = {name: sha256_file(tmp / name) for name in names}
    final = replace(
        manifest,
        data_dir=data_name,
        checksums=checksums,
        n_chunks=len(chunks),
        updated=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    os.replace(tmp, path / data_name)
    fsync_dir(path)
    write_text_atomic(path / MANIFEST, final.to_json())  # the commit
    fsync_dir(path)
    remove_stale(path, keep=data_name)
    return final


def remove_stale(path: Path, keep: str) -> None:
    """Delete data directories no manifest points to (old versions, crashed writes)."""
    for child in path.iterdir():
        if child.is_dir() and child.name != keep and child.name.startswith(("data-", ".tmp-")):
            shutil.rmtree(child, ignore_errors=True)
