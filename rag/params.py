"""Every tuned parameter, in one frozen value.

    >>> from dataclasses import replace
    >>> p = Params()
    >>> replace(p, retrieval=replace(p.retrieval, dense_weight_zh=0.6))

Each stage keeps its own small dataclass next to the code that reads it (with the
measurement that chose its defaults); `Params` groups them so the assistant takes one
object, `rag eval` records it in its report, and `python -m rag.evals.tune` sweeps it with
`dataclasses.replace`. Chunk parameters are fixed when an index is built and recorded in
its manifest (`rag.ingest.pipeline.chunk_params_for` reads them back); `chunk` here is
what a new index is built with.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from rag.cite import CiteParams
from rag.evidence import EvidenceParams
from rag.extractive import ExtractiveParams
from rag.ingest.chunk import ChunkParams
from rag.keyword import BM25Params
from rag.reading import ReadingParams
from rag.refusal import Calibration
from rag.retrieve import RetrievalParams


@dataclass(frozen=True)
class Params:
    retrieval: RetrievalParams = field(default_factory=RetrievalParams)
    bm25: BM25Params = field(default_factory=BM25Params)
    evidence: EvidenceParams = field(default_factory=EvidenceParams)
    reading: ReadingParams = field(default_factory=ReadingParams)
    extractive: ExtractiveParams = field(default_factory=ExtractiveParams)
    calibration: Calibration = field(default_factory=Calibration)
    cite: CiteParams = field(default_factory=CiteParams)
    chunk: ChunkParams = field(default_factory=ChunkParams)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
