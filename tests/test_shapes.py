"""The corpus shapes `rag eval --shape` runs on: same text, other packaging."""

from __future__ import annotations

from pathlib import Path

from rag.evals.metrics import load_gold
from rag.evals.run import default_gold_path
from rag.evals.shapes import answerable_here, shape_files, write_shape
from rag.ingest.clean import Layout, detect_layout

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"


def test_shapes_keep_the_gold_evidence_and_change_the_layout(tmp_path: Path) -> None:
    gold = load_gold(default_gold_path())
    answerable = [i for i in gold if i.answerable]
    for shape, at_least in (("paragraphs", 500), ("markdown", 50)):
        files = shape_files(CORPUS, shape)
        assert len(files) >= at_least
        kept = answerable_here(gold, (f.text for f in files))
        # Mostly metadata (issue lines, mastheads, bylines) is lost in the rewrite.
        lost = [i for i in answerable if i not in kept]
        assert len(lost) <= 0.05 * len(answerable), [i.id for i in lost]
        assert sum(i.kind == "metadata" for i in lost) >= 0.8 * len(lost)
        assert all(detect_layout(f.text).layout is Layout.PROSE for f in files)
    paragraphs = shape_files(CORPUS, "paragraphs")
    assert all(f.text.count("\n") == 1 for f in paragraphs)  # one paragraph, no title
    assert all(f.text.startswith("# ") for f in shape_files(CORPUS, "markdown"))


def test_writing_a_shape_is_deterministic_and_prunes_stale_files(tmp_path: Path) -> None:
    target = write_shape(CORPUS, "markdown", tmp_path)
    first = {p.name: p.read_bytes() for p in target.iterdir()}
    (target / "stale.md").write_text("# old\n", "utf-8")
    write_shape(CORPUS, "markdown", tmp_path)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == first
    assert write_shape(CORPUS, "demo", tmp_path) == CORPUS  # the corpus as shipped
