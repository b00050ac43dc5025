"""The demo corpus in other shapes, so retrieval and cleaning are measured beyond one layout.

The demo corpus is long magazine articles and newspaper pages extracted from PDF: broken
lines, page furniture, several articles per file. Other corpora look nothing like it, so
the gold set also runs on two shapes generated from the same text (the gold evidence stays
verbatim, only the packaging changes):

* ``paragraphs``: every paragraph of every article as its own ``.txt`` file, with no title,
  no byline and no furniture: short web-news passages, one per file.
* ``markdown``: every article as a clean ``.md`` file, its title a ``#`` heading and its
  subheadings ``##``, one paragraph per line block.
* ``demo``: the corpus as shipped.

Generation is deterministic (the same corpus gives byte-identical files), so an index
built from a shape is reused across runs: ingest is incremental by file checksum.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from rag.evals.metrics import GoldItem, match_key
from rag.ingest.clean import Kind, clean
from rag.ingest.pipeline import discover
from rag.ingest.readers import read_document
from rag.ingest.segment import Segment, segment_blocks

if TYPE_CHECKING:
    from rag.embed import Embedder

ProgressFn = Callable[[int, int], None]
Shape = Literal["demo", "paragraphs", "markdown"]
Generated = Literal["paragraphs", "markdown"]  # the shapes written from the corpus
SHAPES: tuple[Shape, ...] = ("demo", "paragraphs", "markdown")


@dataclass(frozen=True)
class ShapedFile:
    name: str  # relative path inside the shape's directory
    text: str


def _articles(corpus: Path) -> Iterator[tuple[str, list[tuple[Segment, list[str]]]]]:
    """(file stem, [(segment, text of each content block)]) per corpus file, sorted."""
    inputs, _ = discover([corpus])
    for item in sorted(inputs, key=lambda i: i.source):
        doc = read_document(item.path, item.root)
        cleaned = clean(doc.text, doc.encoding)
        segments = segment_blocks(cleaned)
        stem = Path(item.source).with_suffix("").as_posix().replace("/", "_")
        yield stem, [(s, [cleaned.block_text(b).strip() for b in s.content]) for s in segments]


def shape_files(corpus: Path, shape: Generated) -> list[ShapedFile]:
    """The files of `corpus` rewritten in a generated shape."""
    out: list[ShapedFile] = []
    for stem, segments in _articles(corpus):
        for a, (seg, texts) in enumerate(segments):
            if shape == "paragraphs":
                bodies = [t for b, t in zip(seg.content, texts, strict=True) if b.kind is Kind.BODY]
                out += [
                    ShapedFile(f"{stem}-{a:03d}-{p:03d}.txt", t + "\n")
                    for p, t in enumerate(bodies)
                    if t
                ]
            else:
                out.append(ShapedFile(f"{stem}-{a:03d}.md", _markdown(seg, texts)))
    return out


def _markdown(seg: Segment, texts: Sequence[str]) -> str:
    lines = [f"# {seg.article.title.strip()}", ""]
    for block, text in zip(seg.content, texts, strict=True):
        if not text:
            continue
        lines += [f"## {text}" if block.kind is Kind.HEADING else text, ""]
    return "\n".join(lines)


def write_shape(corpus: Path, shape: Shape, out: Path) -> Path:
    """Materialise `shape` under `out/<shape>/` (only files whose content changed are
    rewritten, stale ones removed) and return that directory."""
    if shape == "demo":
        return corpus
    target = out / shape
    target.mkdir(parents=True, exist_ok=True)
    files = shape_files(corpus, shape)
    wanted = {f.name for f in files}
    for old in target.iterdir():
        if old.is_file() and old.name not in wanted:
            old.unlink()
    for f in files:
        path = target / f.name
        data = f.text.encode("utf-8")
        if not path.is_file() or path.read_bytes() != data:
            path.write_bytes(data)
    return target


def build_shape_index(
    corpus: Path,
    shape: Shape,
    shapes_dir: Path,
    embedder: Embedder,
    progress: ProgressFn | None = None,
) -> Path:
    """The index of `shape` under `shapes_dir`, (re)built incrementally from `corpus`."""
    from rag.ingest.chunk import ChunkParams
    from rag.ingest.pipeline import ingest

    docs = write_shape(corpus, shape, shapes_dir)
    index = shapes_dir / f"{shape}-index"
    ingest([docs], index, embedder, ChunkParams(), prune=True, progress=progress)
    return index


def answerable_here(items: Sequence[GoldItem], documents: Iterable[str]) -> list[GoldItem]:
    """The items a shape can be asked: every unanswerable one, and the answerable ones
    whose evidence survives in its documents (metadata such as an issue number does not
    survive the rewrite into bare paragraphs)."""
    text = "\n".join(match_key(d) for d in documents)
    return [i for i in items if not i.answerable or all(match_key(e) in text for e in i.evidence)]
