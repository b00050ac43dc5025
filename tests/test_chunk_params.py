"""Adding files to an index chunks them like the rest of it, in every edge (CLI, page)."""

from __future__ import annotations

from pathlib import Path

from rag.index import MANIFEST, Manifest
from rag.ingest.chunk import ChunkParams
from rag.ingest.pipeline import chunk_params_for


def _index_built_with(path: Path, params: dict[str, int]) -> Path:
    path.mkdir()
    manifest = Manifest(
        embed_model="m", embed_checksum="c", dim=4, query_prompt="", passage_prompt="",
        chunker=params, files={}, data_dir="data-1",
    )  # fmt: skip
    (path / MANIFEST).write_text(manifest.to_json(), "utf-8")
    return path


def test_an_existing_index_keeps_its_own_chunking(tmp_path: Path) -> None:
    index = _index_built_with(tmp_path / "idx", {"max_chars": 200, "overlap": 0})
    assert chunk_params_for(index) == ChunkParams(200, 0)
    assert chunk_params_for(index, overlap=2) == ChunkParams(200, 2)  # asked for: wins


def test_a_new_or_unreadable_index_gets_the_defaults(tmp_path: Path) -> None:
    assert chunk_params_for(tmp_path / "none") == ChunkParams()
    assert chunk_params_for(tmp_path / "none", max_chars=300) == ChunkParams(300, 1)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / MANIFEST).write_text("{not json", "utf-8")
    assert chunk_params_for(broken) == ChunkParams()
