"""The store on Milvus: the same assistant over Milvus Lite (a local file) or a Milvus server.

Three collections (names prefixed ``rag_``), one row each per chunk, sentence and blob::

    rag_chunks      row (INT64 primary key = the protocol's row), file, source, vector,
                    chunk JSON, its sentence ids, doc_len, the text hash, and two keyword
                    fields:
                    `terms`  our BM25 (jieba search mode, rag.keyword) as a sparse vector of
                             per-chunk term weights; a query is the sparse vector of its terms'
                             idf, so Milvus' inner product *is* our BM25 score (with the
                             average chunk length of the commit that wrote the row);
                    `bm25`   Milvus' own BM25 function over `text` (jieba analyzer), for
                             `keyword="milvus"` and server-side hybrid search.
    rag_sentences   sid (primary key), file, source, vector, start, end, tags JSON, the
                    chunk rows holding it; a chunk without sentence vectors gets one entry
                    (start -1) carrying its chunk vector, so sentence search sees it as the
                    FAISS store's exhaustive scan does.
    rag_meta        blobs cut into parts: each version's Manifest JSON (`manifest:V`) and
                    state (`state:V`: commit number, keyword vocabulary with document
                    frequencies, the files it deleted), the documents (`doc:FILE`), the
                    writer's lease, and `head`: one row naming the committed version.

Versions. Commit n writes its files' rows with ids ``n << 32 | i`` and ``file`` = "g<n>/
<source>" (the file's `FileRecord.segment` is "g<n>"), so no commit touches another's rows.
A reader of version n sees the rows with ids below ``(n + 1) << 32`` whose file is not
among the state's deleted files — exactly the version's rows. The commit point is `head`,
a single-row upsert written after every row and blob the version needs; Milvus has no
transactions across collections, so these are the guarantees (tests/test_stores.py):

- a reader, and an ingest killed at any moment, sees the previous version or the new one,
  never a mix: uncommitted rows have higher ids than any committed version reads;
- a reader keeps reading exactly its version while it is the current or the previous one:
  the rows of files a commit deletes or replaces are removed by the *next* commit (and
  the blobs of versions older than the previous one with them); a reader two versions
  behind may find rows gone (each question re-checks `head`, `MilvusStore.current`);
- the next writer removes what a killed one left (rows above the head, its blobs).

One writer at a time: a Lite file is guarded by a lock file next to it (`<db>.lock`, as
an index directory is), a server by a lease row in `rag_meta` renewed on every commit.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rag.errors import ConfigError, IndexCorruptError, IndexMismatchError, IndexNotFoundError
from rag.fsutil import exclusive_lock
from rag.index import (
    FORMAT_VERSION,
    FileRecord,
    Index,
    Manifest,
    SentenceInfo,
    merged,
    model_mismatch,
)
from rag.keyword import BM25Params, KeywordHits, KeywordIndex, idf, search_words
from rag.keyword import bm25 as bm25_weights
from rag.segment import SegmentData, StoredDocument, chunk_from_json, chunk_to_json, text_hash
from rag.store import article_context, article_extents
from rag.tagger import Token
from rag.text import tokenize
from rag.types import Chunk

__all__ = [
    "SCHEME", "MigrateReport", "MilvusStore", "MilvusWriter", "lock_path", "migrate",
    "open_writer", "parse_uri", "stored_manifest",
]  # fmt: skip

SCHEME = "milvus://"
STORE_FORMAT = 2  # the layout above; 1: one version, rows 0..n-1 (rag migrate only)
CHUNKS, SENTENCES, META = "rag_chunks", "rag_sentences", "rag_meta"
_PART = 16_000  # characters per blob part: ≤ 48 KB of UTF-8, under VARCHAR's 65,535 bytes
_VARCHAR = 65_535
_MAX_LIMIT = 16_384  # Milvus' largest top-k
_BATCH = 500
_GEN = 32  # a row id is commit << _GEN | position in the commit
LEASE_SECONDS = 300.0  # a server writer's lease, renewed on every commit
KeywordMode = Literal["ours", "milvus"]
_clients: dict[tuple[str, str], Any] = {}
log = logging.getLogger(__name__)  # one client per database and token per process


def parse_uri(target: str) -> str:
    """`milvus://./data/milvus.db` → the local Lite file; `milvus://http://host:19530` (or a
    bare `http(s)://…`) → a server URI."""
    uri = target.removeprefix(SCHEME)
    if not uri:
        raise ConfigError(f"{target!r} names no Milvus database. Use milvus://./data/milvus.db")
    if _is_server(uri):
        return uri
    path = Path(uri).expanduser()
    if path.suffix != ".db":
        raise ConfigError(
            f"{uri!r}: a Milvus Lite database is a file ending in .db "
            "(e.g. milvus://./data/milvus.db), or give a server as milvus://http://HOST:19530"
        )
    return str(path)


def connect(uri: str, token: str = "") -> Any:
    """A MilvusClient for a Lite file (its directory is created) or a server: one per
    process, re-used (reopening a Lite file in the process that closed it can fail)."""
    cached = _clients.get((uri, token))
    if cached is not None:
        return cached
    try:
        from pymilvus import MilvusClient
    except ImportError as exc:  # the optional extra is not installed
        raise ConfigError(
            "the Milvus store needs pymilvus and milvus-lite: pip install -e '.[milvus]'"
        ) from exc
    if not _is_server(uri):
        try:
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create {Path(uri).parent} ({exc.strerror or exc})") from exc
    # Milvus Lite serves in-process: its gRPC stubs log calls it does not implement
    # (harmless) and its analyzer imports jieba, whose logger chatters at DEBUG.
    logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
    logging.getLogger("jieba").setLevel(logging.WARNING)
    try:
        client = MilvusClient(uri=uri, token=token) if token else MilvusClient(uri=uri)
        for name in set(client.list_collections()) & {CHUNKS, SENTENCES, META}:
            client.load_collection(name)  # a reopened collection starts released
        _clients[(uri, token)] = client
        return client
    except Exception as exc:  # pymilvus raises MilvusException and bare gRPC/OS errors
        busy = "" if _is_server(uri) else (
            ". A Milvus Lite database serves one process at a time: is another rag command "
            "using it? (Several processes need a Milvus server, docs/scale-out.md)"
        )  # fmt: skip
        raise ConfigError(f"cannot open Milvus at {uri} ({_reason(exc)}){busy}") from exc


def _is_server(uri: str) -> bool:
    return uri.startswith(("http://", "https://", "tcp://"))


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "message", "") or exc).splitlines()[0][:200]


# -- blobs ---------------------------------------------------------------------------------


def _write_blob(client: Any, name: str, text: str) -> None:
    parts = [text[i : i + _PART] for i in range(0, len(text), _PART)] or [""]
    rows = [
        {"key": f"{name}#{i}", "name": name, "part": i, "value": p, "dummy": [0.0, 0.0]}
        for i, p in enumerate(parts)
    ]
    for i in range(0, len(rows), _BATCH):
        client.upsert(META, rows[i : i + _BATCH])
    # a shorter new value leaves no stale tail behind
    client.delete(META, filter=f"name == {json.dumps(name)} and part >= {len(parts)}")


def _read_blob(client: Any, name: str) -> str | None:
    found = client.query(
        META, filter=f"name == {json.dumps(name)}", output_fields=["part", "value"]
    )
    if not found:
        return None
    return "".join(r["value"] for r in sorted(found, key=lambda r: r["part"]))


# -- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ChunkRecord:
    chunk: Chunk
    sentence_ids: tuple[int, ...]  # per Chunk.sentences; -1 where no vector was stored


class MilvusStore:
    """One committed version of an index in Milvus, read-only (rag.store.Store).

    `keyword="ours"` scores keywords exactly as the FAISS store does (same tokens, same
    BM25); `"milvus"` uses Milvus' BM25 function (its own jieba analyzer and statistics:
    other scores, see docs/benchmarks.md).
    """

    def __init__(
        self,
        client: Any,
        uri: str,
        manifest: Manifest,
        bm25: BM25Params | None = None,
        keyword: KeywordMode = "ours",
    ) -> None:
        self.client = client
        self.uri = uri
        self.path = Path(uri)
        self.manifest = manifest
        self.bm25 = bm25 or BM25Params()
        self.keyword = keyword
        self._chunks: dict[int, _ChunkRecord] = {}
        self._sentences: dict[int, SentenceInfo] = {}
        self._idf: dict[str, float] = {}
        raw = _read_blob(client, f"state:{self.version}")
        if raw is None:
            raise self._corrupt(f"the state of version {self.version} is missing")
        self.state = _State.from_json(raw)
        self._n = self.state.rows
        self._terms: dict[str, tuple[int, int]] = {
            t: (i, df) for i, (t, df) in enumerate(self.state.terms)
        }
        bound = (self.state.commit + 1) << _GEN
        dead = [key for key, _ in self.state.dead]
        alive = f" and file not in {json.dumps(dead, ensure_ascii=False)}" if dead else ""
        self._live = {CHUNKS: f"row < {bound}{alive}", SENTENCES: f"sid < {bound}{alive}"}

    @classmethod
    def open(
        cls,
        uri: str,
        token: str = "",
        bm25: BM25Params | None = None,
        keyword: KeywordMode = "ours",
    ) -> MilvusStore:
        client = connect(uri, token)
        return cls(client, uri, read_milvus_manifest(client, uri), bm25, keyword)

    def current(self) -> MilvusStore:
        """This store, or the newer version committed since it was opened (one one-row
        read per call: the `head` pointer)."""
        if _read_blob(self.client, "head") == self.version:
            return self
        manifest = read_milvus_manifest(self.client, self.uri)
        return MilvusStore(self.client, self.uri, manifest, self.bm25, self.keyword)

    def __len__(self) -> int:
        return self._n

    @property
    def version(self) -> str:
        return self.manifest.data_dir

    def _corrupt(self, what: str) -> IndexCorruptError:
        return IndexCorruptError(
            f"Milvus index {self.uri} is corrupt: {what}. {_remigrate(self.uri)}"
        )

    def check_model(self, model_id: str, checksum: str, backend: str = "torch") -> None:
        m = self.manifest
        mismatch = model_mismatch(m, model_id, checksum, backend)
        if mismatch is None:
            return
        if mismatch == "backend":
            raise IndexMismatchError(
                f"Milvus index {self.uri} was built with the {m.embed_backend} backend, "
                f"whose vectors {backend} does not reproduce. Set RAG_EMBED_BACKEND to "
                f"match, or {_remigrate(self.uri, 'm')}"
            )
        raise IndexMismatchError(
            f"Milvus index {self.uri} was built with embedding model {m.embed_model!r} "
            f"(checksum {m.embed_checksum}), but {model_id!r} (checksum {checksum}) is "
            f"configured. Use the same model (RAG_EMBED_MODEL), or re-ingest the FAISS index "
            f"with it (rag ingest) and {_remigrate(self.uri, 'm')}"
        )

    # -- fetch -----------------------------------------------------------------------

    def _records(self, rows: Sequence[int]) -> list[_ChunkRecord]:
        missing = sorted({int(r) for r in rows} - self._chunks.keys())
        for batch in _batches(missing):
            found = self.client.query(
                CHUNKS, ids=batch, output_fields=["row", "chunk", "sentence_ids"]
            )
            for rec in found:
                self._chunks[int(rec["row"])] = _ChunkRecord(
                    chunk_from_json(rec["chunk"]), tuple(json.loads(rec["sentence_ids"]))
                )
        try:
            return [self._chunks[int(r)] for r in rows]
        except KeyError as exc:
            raise IndexError(f"no chunk row {exc} in Milvus index {self.uri}") from None

    def chunk(self, row: int) -> Chunk:
        return self._records([row])[0].chunk

    def _sentence_infos(self, ids: Sequence[int]) -> dict[int, SentenceInfo]:
        missing = sorted({i for i in ids if i >= 0} - self._sentences.keys())
        for batch in _batches(missing):
            found = self.client.query(
                SENTENCES, ids=batch, output_fields=["sid", "start", "end", "vector", "tags"]
            )
            for rec in found:
                tags = _tags(rec["tags"])
                vec = np.asarray(rec["vector"], np.float32)
                self._sentences[int(rec["sid"])] = SentenceInfo(
                    int(rec["start"]), int(rec["end"]), vec, tags
                )
        return {i: self._sentences[i] for i in ids if i >= 0}

    def sentences_of(self, row: int) -> list[SentenceInfo]:
        rec = self._records([row])[0]
        infos = self._sentence_infos(rec.sentence_ids)
        return [
            infos[sid] if sid >= 0 else SentenceInfo(a, b, None, ())
            for (a, b), sid in zip(rec.chunk.sentences, rec.sentence_ids, strict=True)
        ]

    def _file(self, source: str) -> str:
        """The `file` key of the rows of a file in this version."""
        record = self.manifest.files.get(source)
        if record is None or not record.segment:
            raise KeyError(source)
        return f"{record.segment}/{source}"

    def document(self, source: str) -> str:
        text = _read_blob(self.client, f"doc:{self._file(source)}")
        if text is None:
            raise self._corrupt(f"the document {source} is missing")
        return text

    def sources(self) -> list[str]:
        return [s for s, r in self.manifest.files.items() if r.segment]

    def _file_rows(self, source: str, fields: list[str]) -> list[dict[str, Any]]:
        expr = f"file == {json.dumps(self._file(source), ensure_ascii=False)}"
        return sorted(self.client.query(CHUNKS, filter=expr, output_fields=["row", *fields]),
                      key=lambda r: int(r["row"]))  # fmt: skip

    def _file_chunks(self, source: str) -> list[Chunk]:
        return [
            r.chunk for r in self._records([int(r["row"]) for r in self._file_rows(source, [])])
        ]

    # -- what a writer carries over ----------------------------------------------------

    def file_data(self, source: str) -> SegmentData:
        """Everything stored for one file, for a writer re-using its vectors."""
        from rag.ingest.pipeline import indexed_text  # what BM25 saw: title and text

        found = self._file_rows(source, ["vector", "chunk"])
        chunks = [chunk_from_json(r["chunk"]) for r in found]
        expr = f"file == {json.dumps(self._file(source), ensure_ascii=False)} and start >= 0"
        sentences = sorted(
            self.client.query(SENTENCES, filter=expr,
                              output_fields=["sid", "start", "end", "vector", "tags"]),
            key=lambda r: int(r["sid"]),
        )  # fmt: skip
        record = self.manifest.files[source]
        keyword = KeywordIndex.build(tokenize(indexed_text(c)) for c in chunks)
        dim = self.manifest.dim
        return SegmentData(
            chunks=chunks,
            vectors=np.asarray([r["vector"] for r in found], np.float32).reshape(-1, dim),
            documents=[StoredDocument(source, record.sha256, record.encoding,
                                      self.document(source))],
            sentence_keys=[(source, int(r["start"]), int(r["end"])) for r in sentences],
            sentence_vectors=np.asarray([r["vector"] for r in sentences],
                                        np.float32).reshape(-1, dim),
            sentence_tags=[_tags(r["tags"]) for r in sentences],
            tf=keyword.tf,
            vocab=keyword.vocab,
        )  # fmt: skip

    def hashes(self, sources: Collection[str]) -> set[int]:
        keys = [self._file(s) for s in sources if self.manifest.files.get(s, None) is not None
                and self.manifest.files[s].segment]  # fmt: skip
        out: set[int] = set()
        for i in range(0, len(keys), _BATCH):
            expr = f"file in {json.dumps(keys[i : i + _BATCH], ensure_ascii=False)}"
            out.update(int(r["hash"]) & _MASK for r in
                       self.client.query(CHUNKS, filter=expr, output_fields=["hash"]))  # fmt: skip
        return out

    def context(self, source: str, start: int, end: int) -> tuple[str, str, str]:
        extents = article_extents(self._file_chunks(source))
        return article_context(self.document(source), extents, start, end)

    # -- search ----------------------------------------------------------------------

    def _search(self, collection: str, data: Any, field: str, metric: str, k: int,
                out: list[str]) -> list[dict[str, Any]]:  # fmt: skip
        if k <= 0 or not self._n:
            return []
        found = self.client.search(
            collection,
            data=[data],
            anns_field=field,
            limit=min(k, _MAX_LIMIT),
            output_fields=out,
            search_params={"metric_type": metric},
            filter=self._live[collection],
        )
        return list(found[0]) if found else []

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        q = np.asarray(vector, np.float32).ravel().tolist()
        hits = self._search(CHUNKS, q, "vector", "IP", min(k, self._n), ["row"])
        found = [(int(h["row"]), float(h["distance"])) for h in hits]
        found.sort(key=lambda t: (-t[1], t[0]))
        return found

    def search_sentences(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The chunks of the best sentences: Milvus returns sentences, several may share a
        chunk, so it asks for a few times k and keeps each chunk's best."""
        q = np.asarray(vector, np.float32).ravel().tolist()
        best: dict[int, float] = {}
        limit = 4 * k
        while True:
            hits = self._search(SENTENCES, q, "vector", "IP", limit, ["rows"])
            for h in hits:
                for row in json.loads(h["entity"]["rows"]):
                    best[int(row)] = max(best.get(int(row), -2.0), float(h["distance"]))
            if len(best) >= min(k, self._n) or len(hits) < limit or limit >= _MAX_LIMIT:
                break
            limit = min(4 * limit, _MAX_LIMIT)
        order = sorted(best.items(), key=lambda t: (-t[1], t[0]))
        return order[:k]

    def similarities(
        self, vector: np.ndarray, rows: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray]:
        q = np.asarray(vector, np.float32)
        if not len(rows):
            return np.zeros(0, np.float32), np.zeros(0, np.float32)
        vectors: dict[int, np.ndarray] = {}
        for batch in _batches(sorted({int(r) for r in rows})):
            for rec in self.client.query(CHUNKS, ids=batch, output_fields=["row", "vector"]):
                vectors[int(rec["row"])] = np.asarray(rec["vector"], np.float32)
        records = self._records(rows)
        infos = self._sentence_infos([i for r in records for i in r.sentence_ids])
        chunk = np.einsum("ij,j->i", np.vstack([vectors[int(r)] for r in rows]), q)
        best = chunk.copy()
        for i, rec in enumerate(records):
            members = [v for s in rec.sentence_ids if s >= 0 and (v := infos[s].vector) is not None]
            if members:
                best[i] = float(np.einsum("ij,j->i", np.vstack(members), q).max())
        return chunk.astype(np.float32), best.astype(np.float32)

    def keyword_search(self, query: str) -> KeywordHits:
        words = search_words(query, self.vocabulary)
        if self.keyword == "milvus":
            hits = self._search(CHUNKS, " ".join(words), "bm25", "BM25", 200, ["row"])
            # Milvus Lite reports BM25 as a negative distance, a server as a positive score
            pairs = {int(h["row"]): abs(float(h["distance"])) for h in hits}
        else:
            counts = Counter(w for w in words if self._terms.get(w, (0, 0))[1] > 0)
            if not counts:
                return KeywordHits.empty()
            sparse = {self._terms[w][0]: self.idf(w) * c for w, c in counts.items()}
            hits = self._search(CHUNKS, sparse, "terms", "IP", self._n, ["row"])
            pairs = {int(h["row"]): float(h["distance"]) for h in hits}
        rows = np.asarray(sorted(r for r, s in pairs.items() if s > 0), np.int64)
        return KeywordHits(rows, np.asarray([pairs[int(r)] for r in rows], np.float32))

    def idf(self, term: str) -> float:
        if term not in self._idf:
            self._idf[term] = idf(self._n, self._terms.get(term, (0, 0))[1])
        return self._idf[term]

    @cached_property
    def vocabulary(self) -> Collection[str]:
        return self._terms.keys()


_MASK = (1 << 64) - 1


def _tags(raw: str) -> tuple[Token, ...]:
    return tuple((int(a), int(b), str(t)) for a, b, t in json.loads(raw))


@dataclass(frozen=True)
class _State:
    """What a version holds besides its manifest (the `state:V` blob)."""

    commit: int  # this version's commit number: its rows have ids < (commit + 1) << _GEN
    rows: int  # live chunk rows
    avg_len: float  # mean BM25 length of the live rows
    terms: list[tuple[str, int]]  # the keyword vocabulary (term id = position), with df
    dead: list[tuple[str, int]]  # files deleted at this commit or the one before: (key, at)
    previous: str = ""  # the version before

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> _State:
        d = json.loads(raw)
        terms = [(str(t), int(n)) for t, n in d["terms"]]
        dead = [(str(k), int(a)) for k, a in d["dead"]]
        return cls(int(d["commit"]), int(d["rows"]), float(d["avg_len"]), terms, dead,
                   str(d.get("previous", "")))  # fmt: skip


def _batches(items: Sequence[int]) -> Iterator[list[int]]:
    for i in range(0, len(items), _BATCH):
        yield list(items[i : i + _BATCH])


def _remigrate(uri: str, m: str = "M") -> str:
    empty = "empty it" if _is_server(uri) else f"rm -r {uri}"
    return f"{m}igrate it again: {empty} && rag migrate --to milvus://{uri} --index DIR"


def read_milvus_manifest(client: Any, uri: str) -> Manifest:
    """The committed manifest, checked as the FAISS store checks its own."""
    try:
        present = set(client.list_collections())
    except Exception as exc:
        raise ConfigError(f"cannot read Milvus at {uri} ({_reason(exc)})") from exc
    head = _read_blob(client, "head") if META in present else None
    raw = _read_blob(client, f"manifest:{head}") if head else None
    if raw is None:
        raise IndexNotFoundError(
            f"no index in Milvus at {uri}. Copy one there with: "
            f"rag migrate --to milvus://{uri} --index DIR"
        )
    layout = _read_blob(client, "store") or "{}"
    try:
        store_format = int(json.loads(layout).get("store_format", 0))
        version = int(json.loads(raw).get("format_version", 0))
    except (ValueError, TypeError, AttributeError) as exc:
        raise IndexCorruptError(
            f"Milvus index {uri} is unreadable ({exc}). {_remigrate(uri)}"
        ) from exc
    if version != FORMAT_VERSION or store_format != STORE_FORMAT:
        raise IndexMismatchError(
            f"Milvus index {uri} has format {version}/{store_format}; this version of rag "
            f"reads {FORMAT_VERSION}/{STORE_FORMAT}. {_remigrate(uri)}"
        )
    try:
        return Manifest.from_json(raw)
    except ValueError as exc:
        raise IndexCorruptError(
            f"Milvus index {uri} is malformed ({exc}). {_remigrate(uri)}"
        ) from exc


# -- writing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MigrateReport:
    uri: str
    files: int
    chunks: int
    sentences: int
    seconds: float


def _create(client: Any, dim: int, *, chunks: bool = True, meta: bool = True) -> None:
    from pymilvus import DataType, Function, FunctionType

    def collection(name: str, schema: Any, indexes: list[tuple[str, str, str]]) -> None:
        params = client.prepare_index_params()
        for field, kind, metric in indexes:
            params.add_index(field, index_type=kind, metric_type=metric)
        client.create_collection(
            name, schema=schema, index_params=params, consistency_level="Strong"
        )

    if meta:
        s = client.create_schema(auto_id=False)
        s.add_field("key", DataType.VARCHAR, is_primary=True, max_length=4096)
        s.add_field("name", DataType.VARCHAR, max_length=4096)
        s.add_field("part", DataType.INT64)
        s.add_field("value", DataType.VARCHAR, max_length=_VARCHAR)
        s.add_field("dummy", DataType.FLOAT_VECTOR, dim=2)  # a collection needs a vector
        collection(META, s, [("dummy", "FLAT", "L2")])
    if not chunks:
        return
    s = client.create_schema(auto_id=False)
    s.add_field("row", DataType.INT64, is_primary=True)
    s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    s.add_field("terms", DataType.SPARSE_FLOAT_VECTOR)
    s.add_field("text", DataType.VARCHAR, max_length=_VARCHAR, enable_analyzer=True,
                analyzer_params={"tokenizer": "jieba"})  # fmt: skip
    s.add_field("bm25", DataType.SPARSE_FLOAT_VECTOR)
    s.add_field("file", DataType.VARCHAR, max_length=4096)
    s.add_field("source", DataType.VARCHAR, max_length=2048)
    s.add_field("chunk", DataType.VARCHAR, max_length=_VARCHAR)
    s.add_field("sentence_ids", DataType.VARCHAR, max_length=_VARCHAR)
    s.add_field("doc_len", DataType.INT64)
    s.add_field("hash", DataType.INT64)
    s.add_function(Function(name="text_bm25", function_type=FunctionType.BM25,
                            input_field_names=["text"], output_field_names=["bm25"]))  # fmt: skip
    collection(CHUNKS, s, [("vector", "FLAT", "IP"), ("terms", "SPARSE_INVERTED_INDEX", "IP"),
                           ("bm25", "SPARSE_INVERTED_INDEX", "BM25")])  # fmt: skip

    s = client.create_schema(auto_id=False)
    s.add_field("sid", DataType.INT64, is_primary=True)
    s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    s.add_field("file", DataType.VARCHAR, max_length=4096)
    s.add_field("source", DataType.VARCHAR, max_length=2048)
    s.add_field("start", DataType.INT64)
    s.add_field("end", DataType.INT64)
    s.add_field("rows", DataType.VARCHAR, max_length=_VARCHAR)
    s.add_field("tags", DataType.VARCHAR, max_length=_VARCHAR)
    collection(SENTENCES, s, [("vector", "FLAT", "IP")])


def _signed(h: int) -> int:
    return h - (1 << 64) if h >= 1 << 63 else h


def stored_manifest(uri: str, token: str = "") -> Manifest:
    """The manifest of the committed version at `uri` (IndexNotFoundError if none)."""
    return read_milvus_manifest(connect(uri, token), uri)


@contextlib.contextmanager
def open_writer(
    uri: str, token: str = "", bm25: BM25Params | None = None
) -> Iterator[MilvusWriter]:
    """The writer of the Milvus index at `uri`, holding its lock for the block: a lock
    file next to a Lite database (taken before opening it), a lease row on a server."""
    if _is_server(uri):
        client = connect(uri, token)
        with _lease(client, uri):
            yield MilvusWriter(client, uri, bm25)
        return
    lock = lock_path(uri)
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {lock.parent} ({exc.strerror or exc})") from exc
    with exclusive_lock(lock, "writing this index"):
        yield MilvusWriter(connect(uri, token), uri, bm25)


def lock_path(uri: str) -> Path:
    """The lock file of a Milvus Lite database: next to it, `<name>.db.lock`."""
    return Path(uri).with_name(Path(uri).name + ".lock")


@contextlib.contextmanager
def _lease(client: Any, uri: str, seconds: float = LEASE_SECONDS) -> Iterator[None]:
    """One writer per server index: a `lease` blob naming its owner until it expires.
    Milvus has no compare-and-swap: a writer takes a free (or expired) lease, waits a
    moment and reads it back; of two that raced, the one whose write landed last owns it."""
    if META not in set(client.list_collections()):
        _create(client, 0, chunks=False)
    owner = uuid.uuid4().hex
    told = False
    while True:
        raw = _read_blob(client, "lease")
        held = json.loads(raw) if raw else None
        if held is None or held["owner"] == owner or held["until"] < time.time():
            _write_blob(client, "lease", json.dumps({"owner": owner,
                                                     "until": time.time() + seconds}))  # fmt: skip
            time.sleep(0.5)
            raw = _read_blob(client, "lease")
            if raw and json.loads(raw)["owner"] == owner:
                break
        if not told:
            log.info("waiting for another process writing this index (%s)", uri)
            told = True
        time.sleep(1.0)
    try:
        yield
    finally:
        raw = _read_blob(client, "lease")
        if raw and json.loads(raw)["owner"] == owner:
            client.delete(META, filter='name == "lease"')


def _renew_lease(client: Any, seconds: float = LEASE_SECONDS) -> None:
    raw = _read_blob(client, "lease")
    if raw:
        held = json.loads(raw)
        _write_blob(client, "lease", json.dumps({**held, "until": time.time() + seconds}))


def _quoted(items: Collection[str]) -> str:
    return json.dumps(sorted(items), ensure_ascii=False)


class MilvusWriter:
    """The writer of a Milvus index (rag.store.StoreWriter); see the module docstring for
    what a commit writes and in which order."""

    def __init__(self, client: Any, uri: str, bm25: BM25Params | None = None) -> None:
        self.client = client
        self.uri = uri
        self._bm25 = bm25 or BM25Params()
        self.location = f"{SCHEME}{uri}"
        self._cleaned = False

    def previous(self, sources: Collection[str]) -> MilvusStore | None:
        try:
            store = MilvusStore(self.client, self.uri, read_milvus_manifest(self.client, self.uri))
        except IndexNotFoundError:
            return None
        if not self._cleaned:
            self._clean(store)
        return store

    def _clean(self, store: MilvusStore) -> None:
        """Remove what a killed writer left: rows above the head, blobs of no version."""
        n = store.state.commit
        self.client.delete(CHUNKS, filter=f"row >= {(n + 1) << _GEN}")
        self.client.delete(SENTENCES, filter=f"sid >= {(n + 1) << _GEN}")
        self.client.delete(META, filter=f'name like "doc:g{n + 1}/%"')
        self._drop_versions(keep={store.version, store.state.previous})
        self._cleaned = True

    def _drop_versions(self, keep: set[str]) -> None:
        found = self.client.query(
            META, filter='part == 0 and (name like "manifest:%" or name like "state:%")',
            output_fields=["name"],
        )  # fmt: skip
        stale = {r["name"] for r in found} - {f"{k}:{v}" for k in ("manifest", "state")
                                              for v in keep}  # fmt: skip
        if stale:
            self.client.delete(META, filter=f"name in {_quoted(stale)}")

    def _delete_files(self, keys: Collection[str]) -> None:
        if keys:
            where = f"file in {_quoted(keys)}"
            self.client.delete(CHUNKS, filter=where)
            self.client.delete(SENTENCES, filter=where)
            self.client.delete(META, filter=f"name in {_quoted({'doc:' + k for k in keys})}")

    def commit(
        self,
        manifest: Manifest,
        previous: Any,
        kept: dict[str, FileRecord],
        added: dict[str, FileRecord],
        data: SegmentData | None,
    ) -> MilvusStore:
        prev: MilvusStore | None = previous
        if prev is None:
            self._fresh(manifest.dim)
        n = prev.state.commit + 1 if prev is not None else 0
        gen = f"g{n}"
        files = dict(kept)
        has_rows = data is not None and bool(data.chunks)
        files.update({s: replace(r, segment=gen if has_rows else "") for s, r in added.items()})
        old_files = prev.manifest.files if prev is not None else {}
        gone = {  # the files this commit deletes or replaces
            f"{r.segment}/{s}"
            for s, r in old_files.items()
            if r.segment and (s not in files or files[s].segment != r.segment)
        }
        terms, df, total, rows = self._statistics(prev, gone)
        if has_rows:
            assert data is not None
            total, rows = self._insert(n, data, terms, df, total, rows)
        dead_before = prev.state.dead if prev is not None else []
        # the previous commit's deletions of two commits ago: re-done before the head moves
        # (idempotent; a killed writer may have left them)
        self._delete_files([k for k, at in dead_before if at < n - 1])
        state = _State(
            commit=n,
            rows=rows,
            avg_len=total / rows if rows else 0.0,
            terms=list(zip(terms, df, strict=True)),
            dead=[(k, n) for k in sorted(gone)] + [(k, at) for k, at in dead_before if at == n - 1],
            previous=prev.version if prev is not None else "",
        )
        version = f"v{n}-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
        final = replace(
            manifest,
            files=files,
            data_dir=version,
            checksums={},
            segments=[],
            n_chunks=sum(r.chunks for r in files.values()),
            updated=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        )
        _write_blob(self.client, "store", json.dumps({"store_format": STORE_FORMAT}))
        _write_blob(self.client, f"state:{version}", state.to_json())
        _write_blob(self.client, f"manifest:{version}", final.to_json())
        if _is_server(self.uri):
            _renew_lease(self.client)
        _write_blob(self.client, "head", version)  # the commit: one row, replaced at once
        # Readers of this version and the previous one need none of these any more.
        self._delete_files([k for k, at in dead_before if at == n - 1])
        self._drop_versions(keep={version, state.previous})
        return MilvusStore(self.client, self.uri, final)

    def tidy(self, version: Any) -> Manifest:
        m: Manifest = version.manifest
        return m  # nothing to merge: a commit writes rows in place

    def _fresh(self, dim: int) -> None:
        """Collections for a first commit (the leftovers of a killed first one dropped)."""
        present = set(self.client.list_collections())
        for name in present & {CHUNKS, SENTENCES}:
            self.client.drop_collection(name)
        if META in present:
            self.client.delete(META, filter='name != "lease"')
        _create(self.client, dim, meta=META not in present)

    def _statistics(
        self, prev: MilvusStore | None, gone: set[str]
    ) -> tuple[list[str], list[int], float, int]:
        """The previous version's vocabulary, document frequencies, total length and rows,
        less the files `gone`."""
        if prev is None:
            return [], [], 0.0, 0
        terms = [t for t, _ in prev.state.terms]
        df = [d for _, d in prev.state.terms]
        total, rows = prev.state.avg_len * prev.state.rows, prev.state.rows
        keys = sorted(gone)
        for i in range(0, len(keys), _BATCH):
            where = f"file in {_quoted(keys[i : i + _BATCH])}"
            for r in self.client.query(CHUNKS, filter=where, output_fields=["terms", "doc_len"]):
                for t in _sparse_keys(r["terms"]):
                    df[t] -= 1
                total -= int(r["doc_len"])
                rows -= 1
        return terms, df, total, rows

    def _insert(
        self, n: int, data: SegmentData, terms: list[str], df: list[int], total: float, rows: int
    ) -> tuple[float, int]:
        """Write commit `n`'s rows; update the statistics in place, return (total, rows)."""
        term_id = {t: i for i, t in enumerate(terms)}
        for t in sorted(data.vocab, key=data.vocab.__getitem__):
            if t not in term_id:
                term_id[t] = len(terms)
                terms.append(t)
                df.append(0)
        columns = np.asarray(
            [term_id[t] for t in sorted(data.vocab, key=data.vocab.__getitem__)], np.int64
        )
        tf = data.tf.tocsr()
        doc_len = np.asarray(tf.sum(axis=1)).ravel()
        for c in columns[tf.indices]:  # one per (chunk, term)
            df[int(c)] += 1
        total += float(doc_len.sum())
        rows += len(data.chunks)
        avg_len = total / rows
        base = n << _GEN
        gen = f"g{n}"
        sid_of: dict[tuple[str, int, int], int] = {}
        sentence_rows: list[dict[str, Any]] = []
        for (src, a, b), vec, tags in zip(
            data.sentence_keys, data.sentence_vectors, data.sentence_tags, strict=True
        ):
            sid_of[(src, a, b)] = base + len(sentence_rows)
            sentence_rows.append({
                "sid": base + len(sentence_rows), "vector": np.asarray(vec, np.float32).tolist(),
                "file": f"{gen}/{src}", "source": src, "start": a, "end": b, "rows": [],
                "tags": json.dumps([list(t) for t in tags], ensure_ascii=False),
            })  # fmt: skip
        chunk_rows: list[dict[str, Any]] = []
        for i, chunk in enumerate(data.chunks):
            row = base + i
            ids = [sid_of.get((chunk.source, a, b), -1) for a, b in chunk.sentences]
            for s in ids:
                if s >= 0:
                    sentence_rows[s - base]["rows"].append(row)
            lo, hi = tf.indptr[i], tf.indptr[i + 1]
            weights = bm25_weights(tf.data[lo:hi].astype(np.float64), np.full(hi - lo, doc_len[i]),
                                   1.0, avg_len, self._bm25)  # fmt: skip
            record = chunk_to_json(chunk)
            if len(record.encode()) > _VARCHAR or len(chunk.text.encode()) > _VARCHAR:
                raise ConfigError(f"a chunk of {chunk.source} is too long for Milvus")
            chunk_rows.append({
                "row": row, "vector": np.asarray(data.vectors[i], np.float32).tolist(),
                "terms": {int(columns[c]): float(w) for c, w in zip(tf.indices[lo:hi], weights,
                                                                    strict=True)},
                "text": chunk.text, "file": f"{gen}/{chunk.source}", "source": chunk.source,
                "chunk": record, "sentence_ids": json.dumps(ids), "doc_len": int(doc_len[i]),
                "hash": _signed(text_hash(chunk.text)),
            })  # fmt: skip
            if not any(s >= 0 for s in ids):  # it stands for itself in sentence search
                sentence_rows.append({
                    "sid": base + len(sentence_rows), "vector": chunk_rows[-1]["vector"],
                    "file": f"{gen}/{chunk.source}", "source": chunk.source,
                    "start": -1, "end": -1, "rows": [row], "tags": "[]",
                })  # fmt: skip
        for r in sentence_rows:
            r["rows"] = json.dumps(r["rows"])
        for i in range(0, len(chunk_rows), _BATCH):
            self.client.insert(CHUNKS, chunk_rows[i : i + _BATCH])
        for i in range(0, len(sentence_rows), _BATCH):
            self.client.insert(SENTENCES, sentence_rows[i : i + _BATCH])
        for doc in data.documents:
            _write_blob(self.client, f"doc:{gen}/{doc.source}", doc.text)
        return total, rows


def _sparse_keys(vector: Any) -> list[int]:
    """The term ids of a sparse vector as pymilvus returns it (a dict, or a CSR row)."""
    if isinstance(vector, dict):
        return [int(k) for k in vector]
    return [int(k) for k in vector.indices]


def migrate(
    index_dir: Path, uri: str, token: str = "", bm25: BM25Params | None = None
) -> MigrateReport:
    """Copy the FAISS index at `index_dir` into Milvus at `uri`, re-using its stored vectors
    (nothing is re-embedded): one commit of every file, as an ingest would write it. The
    target must hold no index yet."""
    began = time.perf_counter()
    index = Index.load(index_dir, bm25)
    with open_writer(uri, token, index.bm25) as writer:
        if writer.previous(()) is not None:
            raise ConfigError(
                f"Milvus at {uri} already holds an index. Choose another target, or remove "
                f"it first (for a Lite file: rm -r {uri})"
            )
        data = merged(index)
        version = writer.commit(index.manifest, None, {}, dict(index.manifest.files), data)
    if len(version) != len(index):
        raise IndexCorruptError(
            f"index {index_dir} has {len(index)} rows but {len(version)} were copied"
        )
    return MigrateReport(uri, len(index.sources()), len(version), len(data.sentence_keys),
                         time.perf_counter() - began)  # fmt: skip
