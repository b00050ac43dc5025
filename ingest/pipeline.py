"""Ingest files into an index: read, parse, embed what changed, commit atomically.

Incremental: a file whose bytes are unchanged keeps its chunks and vectors; new and
changed files are parsed and embedded; files missing from the inputs are kept unless
`prune=True`. Exact duplicates (a file with the same bytes as another, a chunk whose
text is already indexed) are skipped. A file that cannot be read is skipped with its
reason; the run fails (and commits nothing) when none of its inputs could be ingested.

Large ingests are committed in batches: every `commit_every` seconds of embedding, the
files finished so far (and the finished prefix of the file being embedded, recorded as
incomplete) are committed atomically, as the final result is. An interrupted run keeps
what it committed; running it again re-parses incomplete files and embeds only the texts
that have no vector yet. Before the bulk of the embedding, `on_estimate` receives the work
left (texts to embed, and the time it takes at the rate measured on the first batch).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import scipy.sparse as sp

from rag import tagger
from rag.embed import ContextEmbedder, Embedder, SumEmbedder
from rag.errors import IngestError, RagError, UnreadableFileError
from rag.fsutil import sha256_file
from rag.index import (
    FileRecord,
    Manifest,
    SegmentData,
    SentenceKey,
    StoredDocument,
)
from rag.ingest.chunk import ChunkParams
from rag.ingest.limits import ReadLimits
from rag.ingest.parse import parse_document
from rag.ingest.readers import SUPPORTED_SUFFIXES, escape_name, read_document
from rag.keyword import KeywordIndex
from rag.segment import text_hash
from rag.store import StoreVersion, StoreWriter, open_writer
from rag.tagger import Token
from rag.text import join_lines, tokenize
from rag.types import Chunk

if TYPE_CHECKING:
    from rag.config import MilvusSettings

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]  # (texts embedded so far, texts to embed)
# texts -> the embedder's outputs for them, each (len(texts), dim)
EncodeFn = Callable[[list[str]], tuple[np.ndarray, ...]]
# (chunk texts, character spans of each) -> (chunk vectors, span vectors of each chunk)
SpansFn = Callable[[list[str], list[list[tuple[int, int]]]], tuple[np.ndarray, list[np.ndarray]]]
# How sentence (and chunk) vectors are made: "separate" embeds each chunk and each sentence
# on its own; "pooled" takes a sentence's vector as the mean of its tokens in its chunk's
# forward pass; "composed" embeds each sentence (and title) on its own and takes a chunk's
# vector as the mean of its sentences' and title's tokens from that pass, so the chunk costs
# no pass of its own (one pass for both in either case; docs/benchmarks.md).
SentenceVectors = Literal["separate", "pooled", "composed"]
SENTENCE_VECTORS: SentenceVectors = "composed"  # 0.38x today's ingest time at the same quality
EMBED_BATCH = 64
COMMIT_EVERY = 60.0  # seconds of embedding between two batch commits
_GROUP_TEXTS = 4 * EMBED_BATCH  # texts embedded between two looks at the clock


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str


@dataclass(frozen=True)
class WorkEstimate:
    """The embedding left to do, announced before doing the bulk of it."""

    files: int  # files with texts to embed
    texts: int  # chunks + sentences still without a vector
    reused: int  # vectors carried over from an earlier or interrupted run of these files
    rate: float  # texts per second, measured on this run's first batch (0: nothing to do)

    @property
    def seconds(self) -> float:
        return self.texts / self.rate if self.rate else 0.0


@dataclass(frozen=True)
class Committed:
    """One batch commit of an ingest still running."""

    files: int  # complete files in the committed version
    partial: str | None  # a file committed in part (resumed on the next run)
    chunks: int
    seconds: float  # since the ingest started


EstimateFn = Callable[[WorkEstimate], None]
CommitFn = Callable[[Committed], None]


@dataclass(frozen=True)
class IngestReport:
    index: str  # the directory, or the Milvus index as milvus://URI
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)  # completed after an interrupted run
    skipped: list[Skipped] = field(default_factory=list)
    escaped: list[str] = field(default_factory=list)  # names not valid UTF-8, as indexed
    files: int = 0  # files in the index after the run
    articles: int = 0
    chunks: int = 0
    chunks_embedded: int = 0
    sentences_embedded: int = 0
    vectors_reused: int = 0
    duplicate_chunks: int = 0
    commits: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0

    @property
    def chunks_per_second(self) -> float:
        return self.chunks_embedded / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class _Input:
    path: Path
    root: Path
    source: str  # POSIX path relative to root (escaped when the name is not UTF-8)


@dataclass
class _FilePart:
    """One file's contribution to the new index, embedded chunk by chunk."""

    document: StoredDocument
    record: FileRecord
    chunks: list[Chunk]
    sentence_keys: list[SentenceKey]  # in order of first appearance in the chunks
    vectors: np.ndarray  # (len(chunks), dim); a row is valid where `has_chunk` says so
    sentence_vectors: np.ndarray
    has_chunk: np.ndarray  # bool per chunk: its vector is filled in
    has_sentence: np.ndarray
    done: int = 0  # chunks [0, done) and their sentences are complete
    previous: _FilePart | None = None  # the version in the old index (a changed file)
    # LAC tags of sentences (rag.tagger), by key: carried over from the old index, filled
    # in for new sentences when the part is first committed.
    tags: dict[SentenceKey, tuple[Token, ...]] = field(default_factory=dict, repr=False)
    _positions: dict[tuple[int, int], int] | None = field(default=None, repr=False)

    @property
    def complete(self) -> bool:
        return self.done == len(self.chunks)

    def positions(self) -> dict[tuple[int, int], int]:
        """Row in `sentence_keys` of each sentence span."""
        if self._positions is None:
            self._positions = {key[1:]: i for i, key in enumerate(self.sentence_keys)}
        return self._positions

    def sentences_upto(self, n_chunks: int) -> int:
        """Sentences of chunks [0, n_chunks): a prefix of `sentence_keys` (reading order)."""
        if n_chunks == 0:
            return 0
        positions = self.positions()
        return max(positions[span] for span in self.chunks[n_chunks - 1].sentences) + 1

    def texts_missing(self) -> int:
        return int((~self.has_chunk).sum() + (~self.has_sentence).sum())


def indexed_text(chunk: Chunk) -> str:
    """What the model and BM25 see for a chunk: its article title gives the context."""
    return f"{chunk.title}\n{chunk.text}" if chunk.title else chunk.text


def chunk_params_for(
    index_path: Path | MilvusSettings,
    *,
    max_chars: int | None = None,
    overlap: int | None = None,
) -> ChunkParams:
    """Chunk parameters for an ingest into `index_path`: what was asked for, else what the
    index was built with (so adding a file never re-chunks the others), else the defaults."""
    base = ChunkParams()
    with contextlib.suppress(RagError, TypeError):  # no index yet, or one ingest reports on
        base = ChunkParams(**_stored_chunker(index_path))
    return ChunkParams(
        max_chars=base.max_chars if max_chars is None else max_chars,
        overlap=base.overlap if overlap is None else overlap,
    )


def discover(paths: Sequence[str | Path]) -> tuple[list[_Input], list[Skipped]]:
    """Expand directories; sources are relative to the directory (or a file's parent)."""
    inputs: list[_Input] = []
    skipped: list[Skipped] = []
    for raw in paths:
        path = Path(raw)
        try:
            if path.is_dir():
                files = sorted(p for p in path.rglob("*") if p.is_file())
                root = path
            elif path.is_file():
                files, root = [path], path.parent
            else:
                skipped.append(Skipped(escape_name(str(raw)), "no such file or directory"))
                continue
        except OSError as exc:  # an unreadable directory, a loop of symlinks
            skipped.append(Skipped(escape_name(str(raw)), f"cannot list: {exc.strerror or exc}"))
            continue
        for f in files:
            rel = f.relative_to(root)
            name = escape_name(rel.as_posix())
            if any(part.startswith(".") for part in rel.parts):
                continue  # hidden files and directories (.git, editor swap files)
            if f.suffix.lower() not in SUPPORTED_SUFFIXES:
                shown = escape_name(f.suffix)
                skipped.append(Skipped(name, f"unsupported file type {shown!r}"))
                continue
            inputs.append(_Input(f, root, name))
    return inputs, skipped


def _stored_chunker(target: Path | MilvusSettings) -> dict[str, Any]:
    if isinstance(target, Path):
        from rag.index import read_manifest

        return read_manifest(target).chunker
    from rag.milvus_store import stored_manifest

    return stored_manifest(target.uri, target.token).chunker


def _load_previous(
    writer: StoreWriter, manifest_expected: Manifest, sources: Collection[str]
) -> StoreVersion | None:
    """The current index if it can be extended; None when a full rebuild is needed."""
    old = writer.previous(sources)
    if old is None:
        return None
    old.check_model(manifest_expected.embed_model, manifest_expected.embed_checksum)
    if old.manifest.embed_backend != manifest_expected.embed_backend:
        # Compatible for queries, but one index holds one backend's vectors.
        log.info("embedding backend changed: re-embedding every file")
        return None
    if old.manifest.sentence_vectors != manifest_expected.sentence_vectors:
        log.info("sentence vector mode changed: re-embedding every file")
        return None
    if old.manifest.chunker != manifest_expected.chunker:
        log.info("chunker parameters changed: re-chunking every file")
        return None
    return old


def _previous_part(old: StoreVersion, source: str) -> _FilePart:
    """A file's stored version, loaded for re-use of its vectors."""
    data = old.file_data(source)
    record = old.manifest.files[source]
    keys = list(data.sentence_keys)
    return _FilePart(
        document=data.documents[0],
        record=record,
        chunks=list(data.chunks),
        sentence_keys=keys,
        vectors=np.asarray(data.vectors),
        sentence_vectors=np.asarray(data.sentence_vectors),
        has_chunk=np.ones(len(data.chunks), bool),
        has_sentence=np.ones(len(keys), bool),
        done=len(data.chunks),
        tags=dict(zip(keys, data.sentence_tags, strict=True)),
    )


def ingest(
    paths: Sequence[str | Path],
    index_path: Path | MilvusSettings,
    embedder: Embedder,
    params: ChunkParams,
    *,
    prune: bool = False,
    rebuild: bool = False,
    progress: ProgressFn | None = None,
    limits: ReadLimits | None = None,
    commit_every: float = COMMIT_EVERY,
    on_estimate: EstimateFn | None = None,
    on_commit: CommitFn | None = None,
    sentence_vectors: SentenceVectors = SENTENCE_VECTORS,
) -> IngestReport:
    started = time.perf_counter()
    inputs, skipped = discover(paths)
    if not inputs:
        raise _nothing_ingested(skipped)  # before the model loads: it takes seconds
    with open_writer(index_path) as writer:  # the directory (FAISS), or Milvus settings
        return _ingest_locked(
            inputs, skipped, writer, embedder, params, prune, rebuild, started,
            _Hooks(progress, limits, commit_every, on_estimate, on_commit), sentence_vectors,
        )  # fmt: skip


@dataclass(frozen=True)
class _Hooks:
    progress: ProgressFn | None
    limits: ReadLimits | None
    commit_every: float
    on_estimate: EstimateFn | None
    on_commit: CommitFn | None


def _ingest_locked(
    inputs: list[_Input],
    skipped: list[Skipped],
    writer: StoreWriter,
    embedder: Embedder,
    params: ChunkParams,
    prune: bool,
    rebuild: bool,
    started: float,
    hooks: _Hooks,
    sentence_vectors: SentenceVectors,
) -> IngestReport:
    expected = Manifest(
        embed_model=embedder.model_id,
        embed_checksum=embedder.checksum,
        dim=embedder.dim,
        query_prompt=embedder.prompt("query"),
        passage_prompt=embedder.prompt("passage"),
        chunker=asdict(params),
        files={},
        embed_backend=embedder.backend,
        embed_backend_checksum=getattr(embedder, "backend_checksum", ""),
        sentence_vectors=_mode(embedder, sentence_vectors),
    )
    sources = {i.source for i in inputs}
    old = None if rebuild else _load_previous(writer, expected, sources)
    parts, kept, changes = _collect(inputs, old, params, prune, skipped, hooks.limits, expected.dim)
    if not any(changes[k] for k in ("added", "updated", "unchanged", "resumed")):
        raise _nothing_ingested(skipped)
    committer = _Committer(writer, expected, parts, kept, old, started, hooks.on_commit)
    embed_seconds = _embed_missing(
        parts,
        embedder,
        hooks.progress,
        hooks.on_estimate,
        committer,
        hooks.commit_every,
        sentence_vectors,
    )
    final = committer.commit(final=True)
    if committer.current is not None:
        final = writer.tidy(committer.current)
    escaped = [i.source for i in inputs if i.source != i.path.relative_to(i.root).as_posix()]
    return IngestReport(
        index=writer.location,
        skipped=skipped,
        escaped=escaped,
        files=len(final.files),
        articles=sum(r.articles for r in final.files.values()),
        chunks=final.n_chunks,
        chunks_embedded=sum(len(p.chunks) for p in parts) - committer.reused_chunks,
        sentences_embedded=sum(len(p.sentence_keys) for p in parts)
        - (committer.reused - committer.reused_chunks),
        vectors_reused=committer.reused,
        duplicate_chunks=committer.duplicates,
        commits=committer.commits,
        seconds=time.perf_counter() - started,
        embed_seconds=embed_seconds,
        **changes,
    )


def _nothing_ingested(skipped: Sequence[Skipped]) -> IngestError:
    reasons = "; ".join(f"{s.source}: {s.reason}" for s in skipped[:10]) or "no input files"
    more = f" (and {len(skipped) - 10} more)" if len(skipped) > 10 else ""
    return IngestError(f"nothing was ingested ({reasons}{more}). The index is unchanged.")


class _Committer:
    """Writes the current state of an ingest as one atomic index version: the files it did
    not touch stay in their segments, the files it (re-)embedded go into one new segment."""

    def __init__(
        self,
        writer: StoreWriter,
        expected: Manifest,
        parts: Sequence[_FilePart],
        kept: dict[str, FileRecord],
        old: StoreVersion | None,
        started: float,
        on_commit: CommitFn | None,
    ) -> None:
        self.writer = writer
        self.expected = expected
        self.parts = parts
        self.kept = kept
        self.current = old  # the committed version new segments are linked from
        self.started = started
        self.on_commit = on_commit
        self.commits = 0
        self.duplicates = 0
        self.reused_chunks = sum(int(p.has_chunk.sum()) for p in parts)
        self.reused = self.reused_chunks + sum(int(p.has_sentence.sum()) for p in parts)
        self.last_cost = 0.0  # seconds the last commit took

    def commit(self, final: bool = False) -> Manifest:
        """Commit every complete file and the done prefix of others."""
        t0 = time.perf_counter()
        kept = dict(self.kept)
        snapshot: list[_FilePart] = []
        for part in self.parts:
            taken = _snapshot(part)
            if taken is not None:
                snapshot.append(taken)
            elif part.previous is not None and self._stored(part.document.source):
                # Not started yet: its old (or partly committed) version stays where it is.
                kept[part.document.source] = self._stored(part.document.source)  # type: ignore[assignment]
        if not snapshot and self.current is not None and kept == self.current.manifest.files:
            return self.current.manifest  # nothing changed: no new version to load
        seen = self.current.hashes(kept) if self.current is not None else set()
        data, n_dupes = _assemble(snapshot, seen, self.expected.dim)
        if not data.chunks and not kept:
            if final:
                raise IngestError("nothing was ingested (no text found). The index is unchanged.")
            return self.current.manifest if self.current else self.expected
        added = {p.document.source: p.record for p in snapshot}
        self.current = self.writer.commit(self.expected, self.current, kept, added, data)
        manifest = self.current.manifest
        self.commits += 1
        self.duplicates = n_dupes
        self.last_cost = time.perf_counter() - t0
        if self.on_commit and not final:
            partial = next((p.document.source for p in snapshot if not p.record.complete), None)
            complete = sum(1 for r in manifest.files.values() if r.complete)
            elapsed = time.perf_counter() - self.started
            self.on_commit(Committed(complete, partial, manifest.n_chunks, elapsed))
        return manifest

    def _stored(self, source: str) -> FileRecord | None:
        """The committed record of a file, if the current version holds it."""
        if self.current is None:
            return None
        record = self.current.manifest.files.get(source)
        return record if record is not None and record.segment else None


def _snapshot(part: _FilePart) -> _FilePart | None:
    """What of `part` goes into the new segment now: all of it, or its done prefix."""
    if part.complete:
        return part
    if part.done == 0:
        return None
    n_sent = part.sentences_upto(part.done)
    prefix = part.chunks[: part.done]
    return replace(
        part,
        record=replace(
            part.record,
            articles=len({c.article for c in prefix}),
            chunks=len(prefix),
            complete=False,
        ),
        chunks=prefix,
        sentence_keys=part.sentence_keys[:n_sent],
        vectors=part.vectors[: part.done],
        sentence_vectors=part.sentence_vectors[:n_sent],
        has_chunk=part.has_chunk[: part.done],
        has_sentence=part.has_sentence[:n_sent],
        previous=None,
        _positions=None,
    )


def _collect(
    inputs: Iterable[_Input],
    old: StoreVersion | None,
    params: ChunkParams,
    prune: bool,
    skipped: list[Skipped],
    limits: ReadLimits | None,
    dim: int,
) -> tuple[list[_FilePart], dict[str, FileRecord], dict[str, list[str]]]:
    """Decide, file by file, what the new index holds: parts to (re-)embed, and the
    records of files that stay as they are in the old index."""
    fields: dict[str, list[str]] = {
        "added": [], "updated": [], "unchanged": [], "removed": [], "resumed": []
    }  # fmt: skip
    old_records = dict(old.manifest.files) if old is not None else {}
    parts: dict[str, _FilePart] = {}
    kept: dict[str, FileRecord] = {}
    seen_sha: dict[str, str] = {}
    for item in inputs:
        try:
            sha = sha256_file(item.path)
        except OSError as exc:
            skipped.append(Skipped(item.source, f"cannot read: {exc.strerror or exc}"))
            continue
        if sha in seen_sha:
            skipped.append(Skipped(item.source, f"duplicate of {seen_sha[sha]}"))
            continue
        record = old_records.get(item.source)
        if record is not None and record.sha256 == sha and record.complete:
            kept[item.source] = record
            fields["unchanged"].append(item.source)
        else:
            previous = None
            if old is not None and record is not None and record.segment:
                previous = _previous_part(old, item.source)
            part = _parse(item, params, skipped, limits, dim, previous)
            if part is None:
                continue
            parts[item.source] = part
            if record is None:
                fields["added"].append(item.source)
            elif record.sha256 == sha:
                fields["resumed"].append(item.source)
            else:
                fields["updated"].append(item.source)
        seen_sha[sha] = item.source
    for source, record in old_records.items():
        if source in parts or source in kept:
            continue
        if prune:
            fields["removed"].append(source)
        else:
            kept[source] = record  # not among this run's inputs: keep it
    return list(parts.values()), kept, fields


def _parse(
    item: _Input,
    params: ChunkParams,
    skipped: list[Skipped],
    limits: ReadLimits | None,
    dim: int,
    previous: _FilePart | None,
) -> _FilePart | None:
    try:
        doc = read_document(item.path, item.root, limits)
        parsed = parse_document(doc, params)
    except UnreadableFileError as exc:
        skipped.append(Skipped(item.source, str(exc)))
        return None
    except RagError:
        raise
    except Exception as exc:  # a parser bug on one file must not sink the whole run
        log.info("failed to parse %s", item.source, exc_info=True)  # traceback with -v
        skipped.append(Skipped(item.source, f"could not be parsed ({type(exc).__name__}: {exc})"))
        return None
    if not parsed.chunks:
        skipped.append(Skipped(item.source, parsed.why_empty()))
        return None
    spans = dict.fromkeys(span for c in parsed.chunks for span in c.sentences)
    keys = [(item.source, a, b) for a, b in spans]
    part = _FilePart(
        document=StoredDocument(item.source, doc.sha256, doc.encoding, doc.text),
        record=FileRecord(
            doc.sha256,
            doc.encoding,
            len(parsed.articles),
            len(parsed.chunks),
            layout=parsed.layout.layout.value,
            layout_reason=parsed.layout.reason,
        ),
        chunks=[replace(c, source=item.source) for c in parsed.chunks],
        sentence_keys=keys,
        vectors=np.zeros((len(parsed.chunks), dim), np.float32),
        sentence_vectors=np.zeros((len(keys), dim), np.float32),
        has_chunk=np.zeros(len(parsed.chunks), bool),
        has_sentence=np.zeros(len(keys), bool),
        previous=previous,
    )
    if previous is not None:
        _reuse(part, previous)
    return part


def _reuse(part: _FilePart, previous: _FilePart) -> None:
    """Take over the vectors of texts the file's earlier version already embedded."""
    old_text = previous.document.text
    chunk_rows = {indexed_text(c): i for i, c in enumerate(previous.chunks)}
    sentence_rows = {
        join_lines(old_text[a:b]): i for i, (_, a, b) in enumerate(previous.sentence_keys)
    }
    for i, chunk in enumerate(part.chunks):
        row = chunk_rows.get(indexed_text(chunk))
        if row is not None:
            part.vectors[i] = previous.vectors[row]
            part.has_chunk[i] = True
    text = part.document.text
    for i, (_, a, b) in enumerate(part.sentence_keys):
        row = sentence_rows.get(join_lines(text[a:b]))
        if row is not None:
            part.sentence_vectors[i] = previous.sentence_vectors[row]
            part.has_sentence[i] = True


def _embed_missing(
    parts: Sequence[_FilePart],
    embedder: Embedder,
    progress: ProgressFn | None,
    on_estimate: EstimateFn | None,
    committer: _Committer,
    commit_every: float,
    sentence_vectors: SentenceVectors,
) -> float:
    """Embed every text without a vector, chunk group by chunk group, committing as we go."""
    todo = [p for p in parts if not p.complete]
    total = sum(p.texts_missing() for p in todo)
    done = 0
    started = last_commit = time.perf_counter()
    estimated = on_estimate is None
    if progress:
        progress(0, total)

    def encode(texts: list[str], fn: EncodeFn) -> tuple[np.ndarray, ...]:
        """fn over the distinct texts, longest first, EMBED_BATCH at a time (so that the
        embedder's batches hold texts of similar length), scattered back to `texts`."""
        nonlocal done, estimated
        index: dict[str, int] = {}
        where = [index.setdefault(t, len(index)) for t in texts]
        counts = np.bincount(np.array(where, np.int64), minlength=len(index))
        distinct = sorted(index, key=len, reverse=True)
        outputs: list[list[np.ndarray]] = []
        for i in range(0, len(distinct), EMBED_BATCH):
            t0 = time.perf_counter()
            results = fn(distinct[i : i + EMBED_BATCH])
            outputs = outputs or [[] for _ in results]
            for kept, result in zip(outputs, results, strict=True):
                kept.append(result)
            done += int(sum(counts[index[t]] for t in distinct[i : i + EMBED_BATCH]))
            # The rate of the second batch: the first one pays the model's warm-up.
            if not estimated and (done > EMBED_BATCH or done == total):
                estimated = True
                rate = len(results[0]) / max(time.perf_counter() - t0, 1e-9)
                assert on_estimate is not None
                on_estimate(WorkEstimate(len(todo), total - done, committer.reused, rate))
            if progress:
                progress(min(done, total), total)
        if not outputs:
            return (np.zeros((0, embedder.dim), np.float32),) * 2
        rank = np.array([index[t] for t in distinct], np.int64).argsort()  # row of each text
        return tuple(np.vstack(kept)[rank[where]] for kept in outputs)

    def embed(texts: list[str]) -> np.ndarray:
        return encode(texts, lambda batch: (embedder.embed(batch, "passage"),))[0]

    def with_sums(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        assert isinstance(embedder, SumEmbedder)
        vectors, sums = encode(texts, embedder.embed_with_sums)
        return vectors, sums

    if not total and on_estimate is not None:
        on_estimate(WorkEstimate(0, 0, committer.reused, 0.0))

    def in_context(
        texts: list[str], spans: list[list[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        nonlocal done
        assert isinstance(embedder, ContextEmbedder)
        vectors, pooled = embedder.embed_in_context(texts, spans)
        done += len(texts) + sum(map(len, spans))
        if progress:
            progress(done, total)
        return vectors, pooled

    def maybe_commit() -> None:
        nonlocal last_commit
        if time.perf_counter() - last_commit >= max(commit_every, 10 * committer.last_cost):
            committer.commit()
            last_commit = time.perf_counter()

    mode = _mode(embedder, sentence_vectors)
    if mode == "composed":
        # Groups of several files are embedded in one call, so that short files still make
        # batches of similar length (0.6x the time of file-by-file on 60 one-article files).
        sums: dict[int, dict[object, np.ndarray]] = {}  # per part: sentence/title token sums
        pending = list(todo)
        while pending:
            plans: list[tuple[_FilePart, _ComposedPlan]] = []
            n_texts = 0
            while pending and n_texts < _GROUP_TEXTS:
                part = pending[0]
                plan = _plan_composed(part, sums.setdefault(id(part), {}), _GROUP_TEXTS - n_texts)
                plans.append((part, plan))
                n_texts += len(plan.texts)
                if part.complete:
                    pending.pop(0)
            vectors, new_sums = with_sums([t for _, plan in plans for t in plan.texts])
            offset = 0
            for part, plan in plans:
                width = len(plan.texts)
                done += _apply_composed(
                    part, plan, vectors[offset : offset + width],
                    new_sums[offset : offset + width], sums[id(part)],
                )  # fmt: skip
                offset += width
                if part.complete:
                    del sums[id(part)]
            if progress:
                progress(min(done, total), total)
            maybe_commit()
        return time.perf_counter() - started
    for part in todo:
        while not part.complete:
            _embed_group(part, embed, in_context if mode == "pooled" else None)
            maybe_commit()
    return time.perf_counter() - started


def _mode(embedder: Embedder, mode: SentenceVectors) -> SentenceVectors:
    """What the embedder can do of `mode`: pooled sentence vectors need token states in
    context (the ONNX backend), composed chunk vectors token sums; else "separate"."""
    if mode == "pooled" and isinstance(embedder, ContextEmbedder) and embedder.backend != "torch":
        return "pooled"
    if mode == "composed" and isinstance(embedder, SumEmbedder):
        return "composed"
    return "separate"


def _embed_group(
    part: _FilePart, embed: Callable[[list[str]], np.ndarray], in_context: SpansFn | None
) -> None:
    """Embed the next chunks of `part` (about _GROUP_TEXTS texts) and their sentences.

    With `in_context` (SENTENCE_VECTORS "pooled"), a sentence's vector is pooled from its
    tokens in the forward pass of the first chunk that holds it; sentences of reused chunks,
    and any whose text is not found in its chunk, are embedded on their own.
    """
    start = part.done
    end, n_texts = start, 0
    while end < len(part.chunks) and (end == start or n_texts < _GROUP_TEXTS):
        n_texts += 1 + len(part.chunks[end].sentences)
        end += 1
    first_sentence, last_sentence = part.sentences_upto(start), part.sentences_upto(end)
    rows = [i for i in range(start, end) if not part.has_chunk[i]]
    srows = [i for i in range(first_sentence, last_sentence) if not part.has_sentence[i]]
    text = part.document.text
    keys = part.sentence_keys
    if rows and in_context is not None:
        _embed_in_context(part, rows, set(srows), in_context)
        srows = [i for i in srows if not part.has_sentence[i]]
    elif rows:
        part.vectors[rows] = embed([indexed_text(part.chunks[i]) for i in rows])
        part.has_chunk[rows] = True
    if srows:
        part.sentence_vectors[srows] = embed(
            [join_lines(text[keys[i][1] : keys[i][2]]) for i in srows]
        )
        part.has_sentence[srows] = True
    part.done = end


def _embed_in_context(part: _FilePart, rows: list[int], wanted: set[int], fn: SpansFn) -> None:
    """Chunk vectors of `rows`, and vectors of the `wanted` sentences pooled inside them."""
    text, keys = part.document.text, part.sentence_keys
    position = {key[1:]: i for i, key in enumerate(keys)}
    texts, spans, owners = [], [], []
    for i in rows:
        chunk = part.chunks[i]
        body = indexed_text(chunk)
        offset, cursor = len(body) - len(chunk.text), 0
        chunk_spans, chunk_owners = [], []
        for span in chunk.sentences:
            row = position[span]
            found = chunk.text.find(join_lines(text[span[0] : span[1]]), cursor)
            if row not in wanted or found < 0:
                continue
            cursor = found + len(join_lines(text[span[0] : span[1]]))
            chunk_spans.append((offset + found, offset + cursor))
            chunk_owners.append(row)
            wanted.discard(row)  # the first chunk holding a sentence pools it
        texts.append(body)
        spans.append(chunk_spans)
        owners.append(chunk_owners)
    vectors, span_vectors = fn(texts, spans)
    part.vectors[rows] = vectors
    part.has_chunk[rows] = True
    for chunk_owners, pooled in zip(owners, span_vectors, strict=True):
        for row, vector in zip(chunk_owners, pooled, strict=True):
            if np.any(vector):  # a span truncated away has no tokens: embedded apart
                part.sentence_vectors[row] = vector
                part.has_sentence[row] = True


@dataclass(frozen=True)
class _ComposedPlan:
    """The next chunks of a part to compose, and the texts to embed for them."""

    start: int
    end: int
    rows: list[int]  # chunks [start, end) without a vector
    srows: list[int]  # sentence rows to embed (no token sums yet)
    titles: list[str]  # titles to embed (no token sums yet)
    texts: list[str]  # the sentences of `srows`, then `titles`


def _plan_composed(part: _FilePart, sums: dict[object, np.ndarray], budget: int) -> _ComposedPlan:
    """The next chunks of `part` (about `budget` sentences, at least one chunk), composed:
    every sentence of a chunk without a vector, and its title, are embedded on their own
    unless `sums` (by sentence row and by title) already holds their token sums; the chunk's
    vector is their summed tokens, normalised (`_apply_composed`). Advances `part.done`."""
    start = part.done
    end, n_texts = start, 0
    while end < len(part.chunks) and (end == start or n_texts < budget):
        n_texts += len(part.chunks[end].sentences)
        end += 1
    text, keys = part.document.text, part.sentence_keys
    position = part.positions()
    rows = [i for i in range(start, end) if not part.has_chunk[i]]
    needed = {position[span] for i in rows for span in part.chunks[i].sentences}
    needed |= {i for i in range(part.sentences_upto(start), part.sentences_upto(end))
               if not part.has_sentence[i]}  # fmt: skip
    srows = sorted(i for i in needed if i not in sums)
    titles = sorted({part.chunks[i].title for i in rows} - {""} - set(sums))
    texts = [join_lines(text[keys[i][1] : keys[i][2]]) for i in srows] + titles
    part.done = end
    return _ComposedPlan(start, end, rows, srows, titles, texts)


def _apply_composed(
    part: _FilePart,
    plan: _ComposedPlan,
    vectors: np.ndarray,
    new_sums: np.ndarray,
    sums: dict[object, np.ndarray],
) -> int:
    """Fill in `plan`'s sentence vectors and compose its chunk vectors from the embedded
    texts' outputs (rows of `vectors`/`new_sums` in the order of `plan.texts`). Returns the
    number of chunk vectors composed."""
    position = part.positions()
    for k, i in enumerate(plan.srows):
        sums[i] = new_sums[k]
        if not part.has_sentence[i]:
            part.sentence_vectors[i] = vectors[k]
            part.has_sentence[i] = True
    for k, title in enumerate(plan.titles, len(plan.srows)):
        sums[title] = new_sums[k]
    for i in plan.rows:
        chunk = part.chunks[i]
        total = sum(sums[position[span]] for span in chunk.sentences)
        total = total + sums[chunk.title] if chunk.title else total
        part.vectors[i] = total / max(float(np.linalg.norm(total)), 1e-12)
        part.has_chunk[i] = True
    if plan.end < len(part.chunks):  # the next chunk may start with the last one's sentences
        keep = {position[span] for span in part.chunks[plan.end - 1].sentences}
        for key in [k for k in sums if isinstance(k, int) and k not in keep]:
            del sums[key]
    return len(plan.rows)


def _assemble(parts: Sequence[_FilePart], seen: set[int], dim: int) -> tuple[SegmentData, int]:
    """The parts as one segment, dropping chunks whose text is already in the index."""
    seen = set(seen)
    chunks: list[Chunk] = []
    vector_blocks: list[np.ndarray] = [np.zeros((0, dim), np.float32)]
    tf_parts = []
    dupes = 0
    for part in parts:
        keep = []
        for i, chunk in enumerate(part.chunks):
            key = text_hash(chunk.text)
            if key in seen:
                dupes += 1
                continue
            seen.add(key)
            keep.append(i)
        chunks.extend(part.chunks[i] for i in keep)
        vector_blocks.append(part.vectors[keep])
        tf_parts.append(_term_rows(part, keep))
    keyword = KeywordIndex.merge(tf_parts)
    data = SegmentData(
        chunks=chunks,
        vectors=np.vstack(vector_blocks),
        documents=[p.document for p in parts],
        sentence_keys=[k for p in parts for k in p.sentence_keys],
        sentence_vectors=np.vstack(
            [np.zeros((0, dim), np.float32), *(p.sentence_vectors for p in parts)]
        ),
        sentence_tags=[t for p in parts for t in _tags(p)],
        tf=keyword.tf,
        vocab=keyword.vocab,
    )
    return data, dupes


def _tags(part: _FilePart) -> list[tuple[Token, ...]]:
    """LAC tags of the part's sentences, tagging those not seen before (the reading
    stage's input; a few milliseconds per sentence)."""
    text = part.document.text
    for key in part.sentence_keys:
        if key not in part.tags:
            _, a, b = key
            part.tags[key] = tagger.tag(join_lines(text[a:b]))
    return [part.tags[k] for k in part.sentence_keys]


def _term_rows(part: _FilePart, keep: list[int]) -> tuple[sp.csr_matrix, dict[str, int]]:
    built = KeywordIndex.build(tokenize(indexed_text(part.chunks[i])) for i in keep)
    return built.tf, built.vocab
