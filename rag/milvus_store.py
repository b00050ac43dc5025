"""The store on Milvus: the same assistant over Milvus Lite (a local file) or a Milvus server.

Three collections (names prefixed ``rag_``), one row each per chunk, sentence and blob::

    rag_chunks      row (INT64 primary key = the protocol's row), vector, source, chunk JSON,
                    its sentence ids, doc_len, the text hash, and two keyword fields:
                    `terms`  our BM25 (jieba search mode, rag.keyword) as a sparse vector of
                             per-chunk term weights; a query is the sparse vector of its terms'
                             idf, so Milvus' inner product *is* our BM25 score (the average
                             chunk length is the one the weights were written with);
                    `bm25`   Milvus' own BM25 function over `text` (jieba analyzer), for
                             `keyword="milvus"` and server-side hybrid search.
    rag_sentences   sid (primary key), vector, source, start, end, tags JSON, the chunk rows
                    holding it; a chunk without sentence vectors gets one entry (start -1)
                    carrying its chunk vector, so sentence search sees it as the FAISS
                    store's exhaustive scan does.
    rag_meta        blobs cut into parts: each version's Manifest JSON, the keyword
                    vocabulary with document frequencies, the documents, and `head`: one
                    row naming the committed version (the commit point, written last).

A version is what `rag migrate` (or a writer) committed: `manifest.data_dir` names it, and
`head` is written after every row it describes, in one single-row upsert, so a reader that
finds a head finds its manifest and rows. The manifest's guarantees (format version, model
checksum, chunk parameters) are checked on open with the default store's errors.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rag.errors import ConfigError, IndexCorruptError, IndexMismatchError, IndexNotFoundError
from rag.index import FORMAT_VERSION, Index, Manifest, SentenceInfo, model_mismatch
from rag.keyword import BM25Params, KeywordHits, idf, search_words
from rag.keyword import bm25 as bm25_weights
from rag.segment import chunk_from_json, chunk_to_json, text_hash
from rag.store import article_context
from rag.types import Chunk

__all__ = ["SCHEME", "MigrateReport", "MilvusStore", "migrate", "parse_uri"]

SCHEME = "milvus://"
STORE_FORMAT = 1  # the layout of the collections above
CHUNKS, SENTENCES, META = "rag_chunks", "rag_sentences", "rag_meta"
_PART = 16_000  # characters per blob part: ≤ 48 KB of UTF-8, under VARCHAR's 65,535 bytes
_VARCHAR = 65_535
_MAX_LIMIT = 16_384  # Milvus' largest top-k
_BATCH = 500
KeywordMode = Literal["ours", "milvus"]


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
    """A MilvusClient for a Lite file (its directory is created) or a server."""
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
        self._n = manifest.n_chunks
        self._chunks: dict[int, _ChunkRecord] = {}
        self._sentences: dict[int, SentenceInfo] = {}
        self._idf: dict[str, float] = {}
        stats = _read_blob(client, "keyword")
        if stats is None:
            raise self._corrupt("its keyword statistics are missing")
        raw = json.loads(stats)
        self._terms: dict[str, tuple[int, int]] = {
            t: (i, int(df)) for i, (t, df) in enumerate(raw["terms"])
        }
        self._avg_len = float(raw["avg_len"])

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
        for r in missing:
            if not 0 <= r < self._n:
                raise IndexError(r)
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
            raise self._corrupt(f"chunk row {exc} is missing") from None

    def chunk(self, row: int) -> Chunk:
        return self._records([row])[0].chunk

    def _sentence_infos(self, ids: Sequence[int]) -> dict[int, SentenceInfo]:
        missing = sorted({i for i in ids if i >= 0} - self._sentences.keys())
        for batch in _batches(missing):
            found = self.client.query(
                SENTENCES, ids=batch, output_fields=["sid", "start", "end", "vector", "tags"]
            )
            for rec in found:
                tags = tuple((int(a), int(b), str(t)) for a, b, t in json.loads(rec["tags"]))
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

    def document(self, source: str) -> str:
        if source not in self.manifest.files:
            raise KeyError(source)
        text = _read_blob(self.client, f"doc:{self.version}:{source}")
        if text is None:
            raise self._corrupt(f"the document {source} is missing")
        return text

    def sources(self) -> list[str]:
        return [s for s, r in self.manifest.files.items() if r.segment]

    def _file_chunks(self, source: str) -> list[Chunk]:
        found = self.client.query(
            CHUNKS, filter=f"source == {json.dumps(source)}", output_fields=["row"]
        )
        rows = sorted(int(r["row"]) for r in found)
        return [r.chunk for r in self._records(rows)]

    def context(self, source: str, start: int, end: int) -> tuple[str, str, str]:
        return article_context(self.document(source), self._file_chunks(source), start, end)

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


# -- writing: migrate ----------------------------------------------------------------------


@dataclass(frozen=True)
class MigrateReport:
    uri: str
    files: int
    chunks: int
    sentences: int
    seconds: float


def _create(client: Any, dim: int) -> None:
    from pymilvus import DataType, Function, FunctionType

    def collection(name: str, schema: Any, indexes: list[tuple[str, str, str]]) -> None:
        params = client.prepare_index_params()
        for field, kind, metric in indexes:
            params.add_index(field, index_type=kind, metric_type=metric)
        client.create_collection(
            name, schema=schema, index_params=params, consistency_level="Strong"
        )

    s = client.create_schema(auto_id=False)
    s.add_field("row", DataType.INT64, is_primary=True)
    s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    s.add_field("terms", DataType.SPARSE_FLOAT_VECTOR)
    s.add_field("text", DataType.VARCHAR, max_length=_VARCHAR, enable_analyzer=True,
                analyzer_params={"tokenizer": "jieba"})  # fmt: skip
    s.add_field("bm25", DataType.SPARSE_FLOAT_VECTOR)
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
    s.add_field("source", DataType.VARCHAR, max_length=2048)
    s.add_field("start", DataType.INT64)
    s.add_field("end", DataType.INT64)
    s.add_field("rows", DataType.VARCHAR, max_length=_VARCHAR)
    s.add_field("tags", DataType.VARCHAR, max_length=_VARCHAR)
    collection(SENTENCES, s, [("vector", "FLAT", "IP")])

    s = client.create_schema(auto_id=False)
    s.add_field("key", DataType.VARCHAR, is_primary=True, max_length=4096)
    s.add_field("name", DataType.VARCHAR, max_length=4096)
    s.add_field("part", DataType.INT64)
    s.add_field("value", DataType.VARCHAR, max_length=_VARCHAR)
    s.add_field("dummy", DataType.FLOAT_VECTOR, dim=2)  # a collection needs a vector field
    collection(META, s, [("dummy", "FLAT", "L2")])


def _signed(h: int) -> int:
    return h - (1 << 64) if h >= 1 << 63 else h


def migrate(
    index_dir: Path, uri: str, token: str = "", bm25: BM25Params | None = None
) -> MigrateReport:
    """Copy the FAISS index at `index_dir` into Milvus at `uri`, re-using its stored vectors
    (nothing is re-embedded). The target must hold no index yet (its collections are
    created here); the manifest is written last, so an interrupted copy is no index."""
    began = time.perf_counter()
    index = Index.load(index_dir, bm25)
    params = index.bm25
    client = connect(uri, token)
    present = set(client.list_collections()) & {CHUNKS, SENTENCES, META}
    if present:
        if META in present and _read_blob(client, "head") is not None:
            raise ConfigError(
                f"Milvus at {uri} already holds an index. Choose another target, or remove "
                f"it first (for a Lite file: rm -r {uri})"
            )
        for name in present:  # the leftovers of an interrupted copy
            client.drop_collection(name)
    _create(client, index.manifest.dim)
    version = f"data-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"

    terms = sorted(index.vocabulary)
    term_id = {t: i for i, t in enumerate(terms)}
    df = np.zeros(len(terms), np.int64)
    sources = index.sources()
    # the FAISS store's statistics: the mean length of the live chunks
    avg_len = sum(float(index.file_data(s).tf.sum()) for s in sources) / max(len(index), 1)
    row = 0
    sid = 0
    n_sentences = 0
    for source in sources:
        data = index.file_data(source)
        columns = np.asarray([term_id[t] for t in sorted(data.vocab, key=data.vocab.__getitem__)],
                             dtype=np.int64)  # fmt: skip
        tf = data.tf.tocsr()
        doc_len = np.asarray(tf.sum(axis=1)).ravel()
        np.add.at(df, columns[tf.indices], 1)  # one per (chunk, term)
        base = sid
        key_id: dict[tuple[int, int], int] = {}
        sentence_rows: list[dict[str, Any]] = []
        for (src, a, b), vec, tags in zip(
            data.sentence_keys, data.sentence_vectors, data.sentence_tags, strict=True
        ):
            key_id[(a, b)] = sid
            sentence_rows.append({
                "sid": sid, "vector": np.asarray(vec, np.float32).tolist(), "source": src,
                "start": a, "end": b, "rows": [],
                "tags": json.dumps([list(t) for t in tags], ensure_ascii=False),
            })  # fmt: skip
            sid += 1
        chunk_rows: list[dict[str, Any]] = []
        for i, chunk in enumerate(data.chunks):
            ids = [key_id.get((a, b), -1) for a, b in chunk.sentences]
            for s in ids:
                if s >= 0:
                    sentence_rows[s - base]["rows"].append(row)
            lo, hi = tf.indptr[i], tf.indptr[i + 1]
            weights = bm25_weights(tf.data[lo:hi].astype(np.float64), np.full(hi - lo, doc_len[i]),
                           1.0, avg_len, params)  # fmt: skip
            record = chunk_to_json(chunk)
            if len(record.encode()) > _VARCHAR or len(chunk.text.encode()) > _VARCHAR:
                raise ConfigError(f"a chunk of {source} is too long for Milvus ({len(record)})")
            chunk_rows.append({
                "row": row, "vector": np.asarray(data.vectors[i], np.float32).tolist(),
                "terms": {int(columns[c]): float(w) for c, w in zip(tf.indices[lo:hi], weights,
                                                                    strict=True)},
                "text": chunk.text, "source": source, "chunk": record,
                "sentence_ids": json.dumps(ids), "doc_len": int(doc_len[i]),
                "hash": _signed(text_hash(chunk.text)),
            })  # fmt: skip
            if not any(s >= 0 for s in ids):  # it stands for itself in sentence search
                sentence_rows.append({
                    "sid": sid, "vector": chunk_rows[-1]["vector"], "source": source,
                    "start": -1, "end": -1, "rows": [row], "tags": "[]",
                })  # fmt: skip
                sid += 1
            row += 1
        for r in sentence_rows:
            r["rows"] = json.dumps(r["rows"])
        n_sentences += len(data.sentence_keys)
        for i in range(0, len(chunk_rows), _BATCH):
            client.insert(CHUNKS, chunk_rows[i : i + _BATCH])
        for i in range(0, len(sentence_rows), _BATCH):
            client.insert(SENTENCES, sentence_rows[i : i + _BATCH])
        _write_blob(client, f"doc:{version}:{source}", index.document(source))
    if row != len(index):
        raise IndexCorruptError(f"index {index_dir} has {len(index)} rows but {row} were copied")
    _write_blob(client, "keyword", json.dumps(
        {"avg_len": avg_len, "terms": [[t, int(d)] for t, d in zip(terms, df, strict=True)]},
        ensure_ascii=False))  # fmt: skip
    _write_blob(client, "store", json.dumps({"store_format": STORE_FORMAT}))
    manifest = replace(index.manifest, data_dir=version, checksums={}, segments=[], n_chunks=row)
    _write_blob(client, f"manifest:{version}", manifest.to_json())
    _write_blob(client, "head", version)  # the commit: one row, replaced at once
    return MigrateReport(uri, len(sources), row, n_sentences, time.perf_counter() - began)
