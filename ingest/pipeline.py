"""Ingest files into an index: read, parse, embed what changed, commit atomically.

Incremental: a file whose bytes are unchanged keeps its chunks and vectors; new and
changed files are parsed and embedded; files missing from the inputs are kept unless
`prune=True`. Exact duplicates (a file with the same bytes as another, a chunk whose
text is already indexed) are skipped. A file that cannot be read is skipped with its
reason; the run fails only when the resulting index would be empty.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from rag import tagger
from rag.embed import Embedder
from rag.errors import IngestError, RagError, UnreadableFileError
from rag.fsutil import sha256_file
from rag.index import (
    MANIFEST,
    FileRecord,
    Index,
    Manifest,
    SentenceKey,
    SentenceStore,
    StoredDocument,
    write_index,
    write_lock,
)
from rag.ingest.chunk import ChunkParams
from rag.ingest.parse import parse_document
from rag.ingest.readers import SUPPORTED_SUFFIXES, read_document
from rag.keyword import KeywordIndex
from rag.tagger import Token
from rag.text import join_lines, squeeze, tokenize
from rag.types import Chunk

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]  # (chunks embedded so far, chunks to embed)
EMBED_BATCH = 64


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str


@dataclass(frozen=True)
class IngestReport:
    index: Path
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    files: int = 0  # files in the index after the run
    articles: int = 0
    chunks: int = 0
    chunks_embedded: int = 0
    sentences_embedded: int = 0
    duplicate_chunks: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0

    @property
    def chunks_per_second(self) -> float:
        return self.chunks_embedded / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class _Input:
    path: Path
    root: Path
    source: str  # POSIX path relative to root


@dataclass
class _FilePart:
    """One file's contribution to the new index."""

    document: StoredDocument
    record: FileRecord
    chunks: list[Chunk]
    sentence_keys: list[SentenceKey]
    vectors: np.ndarray | None = None  # None: still to embed
    sentence_vectors: np.ndarray | None = None
    sentence_tags: list[tuple[Token, ...]] | None = None  # None: still to tag
    # Term counts and their vocabulary, carried over from the old index (None: fresh file).
    tf_rows: tuple[sp.csr_matrix, dict[str, int]] | None = None


def indexed_text(chunk: Chunk) -> str:
    """What the model and BM25 see for a chunk: its article title gives the context."""
    return f"{chunk.title}\n{chunk.text}" if chunk.title else chunk.text


def discover(paths: Sequence[str | Path]) -> tuple[list[_Input], list[Skipped]]:
    """Expand directories; sources are relative to the directory (or a file's parent)."""
    inputs: list[_Input] = []
    skipped: list[Skipped] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file())
            root = path
        elif path.is_file():
            files, root = [path], path.parent
        else:
            skipped.append(Skipped(str(raw), "no such file or directory"))
            continue
        for f in files:
            rel = f.relative_to(root)
            if any(part.startswith(".") for part in rel.parts):
                continue  # hidden files and directories (.git, editor swap files)
            if f.suffix.lower() not in SUPPORTED_SUFFIXES:
                skipped.append(Skipped(rel.as_posix(), f"unsupported file type {f.suffix!r}"))
                continue
            inputs.append(_Input(f, root, rel.as_posix()))
    return inputs, skipped


def _load_previous(path: Path, manifest_expected: Manifest) -> Index | None:
    """The current index if it can be extended; None when a full rebuild is needed."""
    if not (path / MANIFEST).exists():
        return None
    old = Index.load(path)  # format version problems surface as IndexMismatchError
    old.check_model(manifest_expected.embed_model, manifest_expected.embed_checksum)
    if old.manifest.chunker != manifest_expected.chunker:
        log.info("chunker parameters changed: re-chunking every file")
        return None
    return old


def _old_parts(old: Index) -> dict[str, _FilePart]:
    vectors = old.all_vectors()
    by_source: dict[str, list[int]] = {}
    for i, c in enumerate(old.chunks):
        by_source.setdefault(c.source, []).append(i)
    sentence_rows: dict[str, list[int]] = {}
    for key, row in old.sentence_rows.items():
        sentence_rows.setdefault(key[0], []).append(row)
    keys_by_row = {row: key for key, row in old.sentence_rows.items()}
    parts = {}
    for source, record in old.manifest.files.items():
        rows = by_source.get(source, [])
        srows = sorted(sentence_rows.get(source, []))
        parts[source] = _FilePart(
            document=old.documents[source],
            record=record,
            chunks=[old.chunks[i] for i in rows],
            sentence_keys=[keys_by_row[r] for r in srows],
            vectors=vectors[rows],
            sentence_vectors=old.sentence_vectors[srows],
            sentence_tags=[old.sentence_tags[r] for r in srows],
            tf_rows=(old.keyword.tf[rows], old.keyword.vocab),
        )
    return parts


def ingest(
    paths: Sequence[str | Path],
    index_path: Path,
    embedder: Embedder,
    params: ChunkParams,
    *,
    prune: bool = False,
    rebuild: bool = False,
    progress: ProgressFn | None = None,
) -> IngestReport:
    started = time.perf_counter()
    inputs, skipped = discover(paths)
    expected = Manifest(
        embed_model=embedder.model_id,
        embed_checksum=embedder.checksum,
        dim=embedder.dim,
        query_prompt=embedder.prompt("query"),
        passage_prompt=embedder.prompt("passage"),
        chunker=asdict(params),
        files={},
    )
    with write_lock(index_path):
        old = None if rebuild else _load_previous(index_path, expected)
        old_parts = _old_parts(old) if old else {}
        parts, changes = _collect(inputs, old_parts, params, prune, skipped)
        embed_seconds = _embed_missing(parts, embedder, progress)
        _tag_missing(parts)
        chunks, vectors, keyword, sentences, n_dupes = _assemble(parts)
        if not chunks:
            reasons = "; ".join(f"{s.source}: {s.reason}" for s in skipped[:10]) or "no inputs"
            raise IngestError(f"nothing was ingested ({reasons}). The index is unchanged.")
        files = {p.document.source: p.record for p in parts}
        manifest = replace(expected, files=files)
        documents = [p.document for p in parts]
        write_index(index_path, manifest, chunks, vectors, keyword, documents, sentences)
    return IngestReport(
        index=index_path,
        skipped=skipped,
        files=len(parts),
        articles=sum(p.record.articles for p in parts),
        chunks=len(chunks),
        chunks_embedded=sum(len(p.chunks) for p in parts if p.tf_rows is None),
        sentences_embedded=sum(len(p.sentence_keys) for p in parts if p.tf_rows is None),
        duplicate_chunks=n_dupes,
        seconds=time.perf_counter() - started,
        embed_seconds=embed_seconds,
        **changes,
    )


def _collect(
    inputs: Iterable[_Input],
    old_parts: dict[str, _FilePart],
    params: ChunkParams,
    prune: bool,
    skipped: list[Skipped],
) -> tuple[list[_FilePart], dict[str, list[str]]]:
    """Decide, file by file, what the new index holds."""
    fields: dict[str, list[str]] = {"added": [], "updated": [], "unchanged": [], "removed": []}
    parts: dict[str, _FilePart] = {}
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
        previous = old_parts.get(item.source)
        if previous is not None and previous.record.sha256 == sha:
            parts[item.source] = previous
            fields["unchanged"].append(item.source)
        else:
            part = _parse(item, params, skipped)
            if part is None:
                continue
            parts[item.source] = part
            fields["updated" if previous else "added"].append(item.source)
        seen_sha[sha] = item.source
    for source, part in old_parts.items():
        if source in parts:
            continue
        if prune:
            fields["removed"].append(source)
        else:
            parts[source] = part  # not among this run's inputs: keep it
    return list(parts.values()), fields


def _parse(item: _Input, params: ChunkParams, skipped: list[Skipped]) -> _FilePart | None:
    try:
        doc = read_document(item.path, item.root)
        parsed = parse_document(doc, params)
    except UnreadableFileError as exc:
        skipped.append(Skipped(item.source, str(exc)))
        return None
    except RagError:
        raise
    except Exception as exc:  # a parser bug on one file must not sink the whole run
        log.exception("failed to parse %s", item.source)
        skipped.append(Skipped(item.source, f"could not be parsed ({type(exc).__name__}: {exc})"))
        return None
    if not parsed.chunks:
        skipped.append(Skipped(item.source, "no text found after cleaning"))
        return None
    spans = dict.fromkeys(span for c in parsed.chunks for span in c.sentences)
    return _FilePart(
        document=StoredDocument(doc.source, doc.sha256, doc.encoding, doc.text),
        record=FileRecord(doc.sha256, doc.encoding, len(parsed.articles), len(parsed.chunks)),
        chunks=list(parsed.chunks),
        sentence_keys=[(doc.source, a, b) for a, b in spans],
    )


def _embed_missing(
    parts: Sequence[_FilePart], embedder: Embedder, progress: ProgressFn | None
) -> float:
    """Embed the chunks and sentences of new and changed files, in batches."""
    todo = [p for p in parts if p.vectors is None]
    total = sum(len(p.chunks) + len(p.sentence_keys) for p in todo)
    done = 0
    started = time.perf_counter()
    if progress:
        progress(0, total)

    def run(texts: list[str]) -> np.ndarray:
        nonlocal done
        blocks = [np.zeros((0, embedder.dim), np.float32)]
        for i in range(0, len(texts), EMBED_BATCH):
            blocks.append(embedder.embed(texts[i : i + EMBED_BATCH], "passage"))
            done += len(blocks[-1])
            if progress:
                progress(done, total)
        return np.vstack(blocks)

    for part in todo:
        text = part.document.text
        part.vectors = run([indexed_text(c) for c in part.chunks])
        part.sentence_vectors = run([join_lines(text[a:b]) for _, a, b in part.sentence_keys])
    return time.perf_counter() - started


def _tag_missing(parts: Sequence[_FilePart]) -> None:
    """LAC tags of the sentences of new and changed files (the reading stage's input)."""
    for part in parts:
        if part.sentence_tags is None:
            text = part.document.text
            part.sentence_tags = tagger.tag_many(
                [join_lines(text[a:b]) for _, a, b in part.sentence_keys]
            )


def _assemble(
    parts: Sequence[_FilePart],
) -> tuple[list[Chunk], np.ndarray, KeywordIndex, SentenceStore, int]:
    """Concatenate the parts, dropping chunks whose text is already in the index."""
    seen: set[str] = set()
    chunks: list[Chunk] = []
    vector_blocks: list[np.ndarray] = []
    tf_parts = []
    dupes = 0
    for part in parts:
        assert part.vectors is not None
        keep = []
        for i, chunk in enumerate(part.chunks):
            key = squeeze(chunk.text)
            if key in seen:
                dupes += 1
                continue
            seen.add(key)
            keep.append(i)
        chunks.extend(part.chunks[i] for i in keep)
        vector_blocks.append(part.vectors[keep])
        tf_parts.append(_term_rows(part, keep))
    vectors = np.vstack(vector_blocks) if vector_blocks else np.zeros((0, 1), np.float32)
    sentence_blocks = [p.sentence_vectors for p in parts if p.sentence_vectors is not None]
    sentences = SentenceStore(
        keys=[k for p in parts for k in p.sentence_keys],
        vectors=np.vstack(sentence_blocks) if sentence_blocks else np.zeros((0, 1), np.float32),
        tags=[t for p in parts for t in (p.sentence_tags or [])],
    )
    return chunks, vectors, KeywordIndex.merge(tf_parts), sentences, dupes


def _term_rows(part: _FilePart, keep: list[int]) -> tuple[sp.csr_matrix, dict[str, int]]:
    if part.tf_rows is not None:
        old_tf, old_vocab = part.tf_rows
        return old_tf[keep], old_vocab
    built = KeywordIndex.build(tokenize(indexed_text(part.chunks[i])) for i in keep)
    return built.tf, built.vocab
