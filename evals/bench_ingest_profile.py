"""Where ingest's time goes (issue 12): cProfile around one ingest of a corpus, model loaded
and warmed first, top functions by cumulative time. Profiles today's "separate" vectors
unless a third argument names another mode (composed, pooled).

    python -m rag.evals.bench_ingest_profile data/corpus /tmp/profile-index [MODE]
"""

from __future__ import annotations

import cProfile
import pstats
import shutil
import sys
import time
from pathlib import Path

from rag import tagger
from rag.config import load_settings
from rag.embed import SentenceTransformerEmbedder
from rag.ingest.chunk import ChunkParams
from rag.ingest.pipeline import SentenceVectors, ingest


def profile(corpus: Path, index: Path, mode: SentenceVectors, top: int = 45) -> None:
    import torch

    print(f"torch threads: {torch.get_num_threads()} intra-op, {torch.get_num_interop_threads()}")
    shutil.rmtree(index, ignore_errors=True)
    embedder = SentenceTransformerEmbedder(load_settings().embed)
    embedder.embed(["预热"], "passage")  # model loading is not ingest
    tagger.tag("预热")
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    report = ingest([corpus], index, embedder, ChunkParams(), sentence_vectors=mode)
    profiler.disable()
    print(
        f"wall {time.perf_counter() - started:.1f} s, embedding {report.embed_seconds:.1f} s, "
        f"{report.chunks_embedded} chunks, {report.sentences_embedded} sentences, "
        f"{report.commits} commits"
    )
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(top)


if __name__ == "__main__":
    modes: dict[str, SentenceVectors] = {"separate": "separate", "composed": "composed",
                                         "pooled": "pooled"}  # fmt: skip
    mode = modes[sys.argv[3] if sys.argv[3:] else "separate"]
    profile(Path(sys.argv[1]), Path(sys.argv[2]), mode)
