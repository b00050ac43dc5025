"""The ONNX backend: a local sentence-transformers model exported once to int8 ONNX, run by
onnxruntime.

`export` turns a local model directory (the materialised bundled model, or any local
mean-pooling model) into one dynamically quantised ONNX file (int8 weights, per channel), in
a sibling directory of the model that is built in a temporary directory and renamed into
place, marker file last, like the model itself (rag.bundled). The marker records the source
model's checksum and the file's sha256; `OnnxEncoder` runs it with the model's own fast
tokenizer, mean pooling and L2 normalisation, so that its vectors are the torch model's up to
quantisation (mean cosine ≥ 0.99 on every demo chunk, asserted by tests/test_onnx_backend.py).

Why not sentence-transformers' `backend="onnx"`: it needs optimum-onnx, whose only release
pins transformers < 5 (this project runs transformers 5), while onnxruntime is already here
for the LAC tagger. Exporting with `torch.onnx.export` and quantising with onnxruntime's own
`quantize_dynamic` is the same recipe (`export_dynamic_quantized_onnx_model`) without the
dependency, and running the session directly keeps PyTorch out of query-time imports.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.errors import ModelError
from rag.fsutil import exclusive_lock, sha256_file, staged_dir, write_text_atomic

if TYPE_CHECKING:
    import onnxruntime as ort
    from tokenizers import Tokenizer

log = logging.getLogger(__name__)

BACKEND_NAME = "onnx-int8"
# Bump when the exported file changes (opset, quantisation settings): part of the name.
_EXPORT = 1
_FILE = "model.onnx"
_MARKER = "exported.json"
_OPSET = 17


def export(model_dir: Path, source_checksum: str) -> Path:
    """The directory holding the int8 ONNX export of `model_dir`, exporting it if needed."""
    model_dir = Path(model_dir)
    _check_exportable(model_dir)
    target = model_dir.with_name(f"{model_dir.name}-onnx-int8-e{_EXPORT}")
    if _ready(target, source_checksum):
        return target
    try:
        with exclusive_lock(target.with_name(f"{target.name}.lock"), "exporting the ONNX model"):
            if not _ready(target, source_checksum):
                _export_locked(model_dir, source_checksum, target)
    except OSError as exc:
        raise ModelError(f"cannot export the ONNX model into {target.parent}: {exc}") from exc
    return target


def checksum(export_dir: Path) -> str:
    """The recorded sha256 of the exported file (no re-hashing)."""
    return "sha256:" + str(_marker(export_dir)["sha256"])


def verify(export_dir: Path) -> None:
    """Re-hash the exported file; raise ModelError if it differs from what was written."""
    if sha256_file(export_dir / _FILE) != _marker(export_dir)["sha256"]:
        raise ModelError(
            f"{export_dir / _FILE} does not match its recorded checksum: delete {export_dir} "
            "and it will be exported again"
        )


class OnnxEncoder:
    """Texts in, L2-normalised mean-pooled vectors out, through onnxruntime."""

    def __init__(self, model_dir: Path, export_dir: Path) -> None:
        self.session = _session(export_dir / _FILE)
        self.tokenizer = _tokenizer(model_dir)

    def encode(self, texts: Sequence[str], prompt: str, batching: tuple[int, int]) -> np.ndarray:
        """(len(texts), dim) float32, in batches of similar token length (less padding);
        `batching` is (texts, padded tokens) at most per batch (rag.embed.length_batches)."""
        return self.encode_sums(texts, prompt, batching)[0]

    def encode_sums(
        self, texts: Sequence[str], prompt: str, batching: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The vectors, and the (len(texts), dim) sums of each text's token states."""
        _, ids, mask = self._tokens([prompt + t for t in texts])
        out = np.zeros((len(texts), 0), np.float32)
        sums = out
        for rows, states, batch_mask in self._passes(ids, mask, batching):
            summed = np.einsum("btd,bt->bd", states, batch_mask.astype(np.float32))
            if not out.shape[1]:
                out = np.zeros((len(texts), states.shape[2]), np.float32)
                sums = np.zeros_like(out)
            out[rows] = _mean(states, batch_mask)
            sums[rows] = summed
        return out, sums

    def encode_spans(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        prompt: str,
        batching: tuple[int, int],
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Each text's vector and, from the same forward pass, one vector per character span
        of it: the mean of the tokens overlapping the span, in the text's context.

        A span without a token (truncated away) gets a zero row; the caller embeds it apart.
        """
        encodings, ids, mask = self._tokens([prompt + t for t in texts])
        vectors: list[np.ndarray] = [np.zeros(0, np.float32)] * len(texts)
        span_vectors: list[np.ndarray] = [np.zeros(0, np.float32)] * len(texts)
        for rows, states, batch_mask in self._passes(ids, mask, batching):
            pooled = _mean(states, batch_mask)
            width = states.shape[1]
            for k, i in enumerate(rows):
                vectors[i] = pooled[k]
                shifted = [(a + len(prompt), b + len(prompt)) for a, b in spans[i]]
                span_mask = _span_mask(encodings[i].offsets[:width], batch_mask[k], shifted)
                span_vectors[i] = _mean(
                    np.broadcast_to(states[k], (len(shifted), *states[k].shape)), span_mask
                )
        dim = vectors[0].shape[0] if texts else 0
        return np.vstack(vectors) if texts else np.zeros((0, dim), np.float32), span_vectors

    def _tokens(self, full: list[str]) -> tuple[list[Any], np.ndarray, np.ndarray]:
        """Encodings, and ids and attention mask padded (on the right) to the longest."""
        encodings = self.tokenizer.encode_batch(full)
        ids = np.array([e.ids for e in encodings], np.int64).reshape(len(full), -1)
        mask = np.array([e.attention_mask for e in encodings], np.int64).reshape(len(full), -1)
        return encodings, ids, mask

    def _passes(
        self, ids: np.ndarray, mask: np.ndarray, batching: tuple[int, int]
    ) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
        """(rows, (b, t, dim) last hidden states, (b, t) mask) per batch of similar length,
        each batch cut to its own longest text."""
        from rag.embed import length_batches

        lengths = mask.sum(axis=1).tolist()
        for rows in length_batches(lengths, *batching):
            width = int(max(lengths[i] for i in rows))
            batch_ids, batch_mask = ids[rows, :width], mask[rows, :width]
            feeds = {"input_ids": batch_ids, "attention_mask": batch_mask}
            (states,) = self.session.run(None, feeds)
            yield rows, states, batch_mask


def _mean(states: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """L2-normalised mean of the masked token states: (b, t, d), (b, t) -> (b, d)."""
    weights = mask.astype(np.float32)
    sums = np.einsum("btd,bt->bd", states, weights)
    means = sums / np.maximum(weights.sum(axis=1, keepdims=True), 1.0)
    norms = np.linalg.norm(means, axis=1, keepdims=True)
    return (means / np.maximum(norms, 1e-12)).astype(np.float32)


def _span_mask(
    offsets: Sequence[tuple[int, int]], mask: np.ndarray, spans: Sequence[tuple[int, int]]
) -> np.ndarray:
    """(len(spans), tokens): 1 where a real token overlaps the character span."""
    starts = np.array([a for a, _ in offsets])
    ends = np.array([b for _, b in offsets])
    real = (mask > 0) & (ends > starts)  # special tokens have empty offsets
    out = np.zeros((len(spans), len(offsets)), np.int64)
    for j, (a, b) in enumerate(spans):
        out[j] = real & (starts < b) & (ends > a)
    return out


# ----------------------------------------------------------------------------- internals


def _check_exportable(model_dir: Path) -> None:
    """The encoder reproduces Transformer → mean Pooling → Normalize, nothing else."""
    try:
        modules = [m["type"].rsplit(".", 1)[-1] for m in _json(model_dir / "modules.json")]
        pooling = _json(model_dir / "1_Pooling" / "config.json")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(
            f"{model_dir} is not a sentence-transformers directory the ONNX backend can run "
            f"({exc}); use RAG_EMBED_BACKEND=torch"
        ) from exc
    mean_only = pooling.get("pooling_mode_mean_tokens") and not any(
        v
        for k, v in pooling.items()
        if k.startswith("pooling_mode_")
        and k.endswith(
            ("cls_token", "max_tokens", "sqrt_len_tokens", "weightedmean_tokens", "lasttoken")
        )
    )
    if modules != ["Transformer", "Pooling", "Normalize"] or not mean_only:
        raise ModelError(
            f"the ONNX backend runs mean-pooling, normalised models; {model_dir} has modules "
            f"{modules}. Use RAG_EMBED_BACKEND=torch for this model"
        )


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _marker(export_dir: Path) -> dict[str, Any]:
    try:
        marker: dict[str, Any] = _json(export_dir / _MARKER)
        if (export_dir / _FILE).stat().st_size != marker["size"]:
            raise ValueError("size differs")
        return marker
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(
            f"{export_dir} is not a complete ONNX export ({exc}): delete it and it will be "
            "exported again"
        ) from exc


def _ready(target: Path, source_checksum: str) -> bool:
    try:
        marker = _marker(target)
    except ModelError:
        return False
    return marker.get("source_checksum") == source_checksum and marker.get("export") == _EXPORT


def _export_locked(model_dir: Path, source_checksum: str, target: Path) -> None:
    """Export fp32, quantise to int8, then publish: temporary sibling renamed into place."""
    for stale in [target, *target.parent.glob(f".{target.name}.tmp-*")]:
        if stale.exists():
            shutil.rmtree(stale)
    started = time.monotonic()
    log.info("exporting %s to int8 ONNX in %s", model_dir, target)
    with staged_dir(target) as tmp:
        with _quiet():
            _export_fp32(model_dir, tmp / "fp32.onnx")
            _quantise(tmp / "fp32.onnx", tmp / _FILE)
        (tmp / "fp32.onnx").unlink()
        for leftover in tmp.glob("*.data"):  # external-data side files of the fp32 export
            leftover.unlink()
        import onnxruntime

        marker = {
            "export": _EXPORT,
            "source": str(model_dir),
            "source_checksum": source_checksum,
            "sha256": sha256_file(tmp / _FILE),
            "size": (tmp / _FILE).stat().st_size,
            "opset": _OPSET,
            "quantisation": "onnxruntime quantize_dynamic: uint8 weights, per channel",
            "onnxruntime": onnxruntime.__version__,
        }
        write_text_atomic(tmp / _MARKER, json.dumps(marker, indent=2) + "\n")
    log.info("exported the ONNX model in %.1f s", time.monotonic() - started)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporter's tracer warnings and the quantiser's root-logger advice are about
    graphs in general, not this one: keep them off the user's terminal while exporting."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def _export_fp32(model_dir: Path, out: Path) -> None:
    import torch
    from transformers import AutoModel

    class _Hidden(torch.nn.Module):
        """input_ids, attention_mask -> last hidden state (the pooling runs in NumPy)."""

        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            out = self.model(input_ids=input_ids, attention_mask=attention_mask)
            return out.last_hidden_state

    model = _Hidden(AutoModel.from_pretrained(str(model_dir), local_files_only=True)).eval()
    ids = torch.tensor([[0, 6, 7, 2], [0, 6, 2, 1]])
    axes = {0: "batch", 1: "tokens"}
    with torch.no_grad():
        torch.onnx.export(
            model,
            (ids, (ids != 1).long()),
            str(out),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
            opset_version=_OPSET,
            dynamo=False,  # the TorchScript exporter needs no onnxscript
        )


def _quantise(fp32: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per-channel uint8 weights: mean cosine 0.9975 to fp32 on the demo chunks, where
    # per-tensor int8 (the plain default) measured 0.986, under the 0.99 bar.
    quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QUInt8, per_channel=True)


def _session(path: Path) -> ort.InferenceSession:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # no per-session warnings on stderr
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        raise ModelError(
            f"cannot load {path} ({exc}): delete {path.parent} and it will be exported again"
        ) from exc


def _tokenizer(model_dir: Path) -> Tokenizer:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    try:
        max_len = int(_json(model_dir / "sentence_bert_config.json")["max_seq_length"])
    except (OSError, ValueError, KeyError):
        max_len = 512
    tok.enable_truncation(max_len)  # keeps </s>, as sentence-transformers does
    tok.enable_padding(pad_id=_pad_id(model_dir))
    return tok


def _pad_id(model_dir: Path) -> int:
    try:
        return int(_json(model_dir / "config.json")["pad_token_id"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0
