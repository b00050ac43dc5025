"""Settings, resolved once at the edge (CLI, UI, `ask()`), then passed down as plain values.

Environment variables (all optional; CLI flags win over them):

- RAG_INDEX: index directory (default data/index)
- RAG_STORE: where the index lives: faiss (the directory RAG_INDEX; the default) or milvus
- RAG_MILVUS_URI: the Milvus index for RAG_STORE=milvus: a Milvus Lite file
  (default ./data/milvus.db) or a server, http://HOST:19530; RAG_MILVUS_TOKEN: its token
- RAG_CACHE_DIR: where the bundled model is materialised
  (default $XDG_CACHE_HOME/zhejiang-news-rag, else ~/.cache/zhejiang-news-rag)
- RAG_EMBED_MODEL: sentence-transformers model id or local path
  (default bundled:multilingual-e5-small, which needs no download)
- RAG_EMBED_BACKEND: what runs the embedding model: torch (sentence-transformers on
  PyTorch, fp32; the library's default) or onnx (its int8 ONNX export, run by onnxruntime:
  ingest 2.3x and questions about 3x faster than torch at the same retrieval quality on the
  gold test split; what `make demo` uses; docs/benchmarks.md). No openvino.
- RAG_QUERY_PROMPT / RAG_PASSAGE_PROMPT: text put before queries / passages
  (default: the model's own "query" and "passage" prompts)
- OPENAI_API_KEY: its presence means an LLM is configured (else answers are extractive)
- OPENAI_BASE_URL: any OpenAI-compatible endpoint (default: the openai client's)
- RAG_LLM_MODEL: chat model name (default gpt-4o-mini)
- RAG_LLM_TIMEOUT: seconds without progress before an LLM call fails (default 30)
- RAG_MAX_FILE_MB / RAG_MAX_INFLATED_MB / RAG_MAX_DEPTH: what one input file may cost
  to read: size on disk, a DOCX's decompressed size, HTML nesting (rag.ingest.limits)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from rag.errors import ConfigError
from rag.ingest.limits import FILE_SIZE, INFLATED_SIZE, MARKUP_DEPTH, ReadLimits
from rag.llm import LLMConfig

DEFAULT_EMBED_MODEL = "bundled:multilingual-e5-small"
DEFAULT_LLM_MODEL = "gpt-4o-mini"
APP_NAME = "zhejiang-news-rag"
Backend = Literal["torch", "onnx"]
StoreKind = Literal["faiss", "milvus"]
DEFAULT_MILVUS_URI = "./data/milvus.db"


@dataclass(frozen=True)
class EmbedSettings:
    model: str = DEFAULT_EMBED_MODEL
    cache_dir: Path = Path.home() / ".cache" / APP_NAME
    query_prompt: str | None = None  # None: use the model's own prompt
    passage_prompt: str | None = None
    # A batch holds at most batch_size texts and token_budget padded tokens (texts x the
    # longest), texts of similar length together (rag.embed.length_batches).
    batch_size: int = 16
    token_budget: int = 2048
    backend: Backend = "torch"


@dataclass(frozen=True)
class MilvusSettings:
    uri: str = DEFAULT_MILVUS_URI  # a Lite file, or http://HOST:19530
    token: str = ""


@dataclass(frozen=True)
class Settings:
    index: Path = Path("data/index")
    embed: EmbedSettings = field(default_factory=EmbedSettings)
    llm: LLMConfig | None = None
    limits: ReadLimits = field(default_factory=ReadLimits)
    store: StoreKind = "faiss"
    milvus: MilvusSettings = field(default_factory=MilvusSettings)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @property
    def target(self) -> Path | MilvusSettings:
        """Where an ingest writes (rag.store.open_writer): the index directory, or Milvus."""
        return self.milvus if self.store == "milvus" else self.index


def default_cache_dir(env: Mapping[str, str]) -> Path:
    if env.get("RAG_CACHE_DIR"):
        return Path(env["RAG_CACHE_DIR"]).expanduser()
    xdg = env.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / APP_NAME


def embed_backend(env: Mapping[str, str], index: Path | None = None) -> Backend:
    """RAG_EMBED_BACKEND, else the backend that built the index at `index` (so adding a file
    or asking a question never switches backend behind the user's back: another backend
    re-embeds every file), else torch. `make demo` sets onnx, the faster one
    (docs/benchmarks.md)."""
    raw = (env.get("RAG_EMBED_BACKEND") or "").strip().lower()
    if not raw:
        return _recorded_backend(index) if index is not None else "torch"
    if raw == "openvino":
        raise ConfigError(
            "RAG_EMBED_BACKEND=openvino is not available in this build (optimum-intel is not "
            "installed); use onnx or torch"
        )
    if raw == "torch":
        return "torch"
    if raw == "onnx":
        return "onnx"
    raise ConfigError(f"RAG_EMBED_BACKEND={raw!r} is not one of torch, onnx")


def _recorded_backend(index: Path) -> Backend:
    """The embedding backend an index's manifest records; torch when there is no readable
    manifest (opening the index reports a damaged one, with its remedy)."""
    try:
        recorded = json.loads((index / "manifest.json").read_text("utf-8")).get("embed_backend")
    except (OSError, ValueError, AttributeError):
        return "torch"
    return "onnx" if str(recorded).startswith("onnx") else "torch"  # "onnx-int8"


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {raw}")
    return value


def llm_from_env(
    env: Mapping[str, str],
    *,
    model: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
) -> LLMConfig | None:
    """An LLMConfig when an API key is given (flag or OPENAI_API_KEY), else None."""
    key = api_key or env.get("OPENAI_API_KEY")
    if not key:
        return None
    return LLMConfig(
        model=model or env.get("RAG_LLM_MODEL") or DEFAULT_LLM_MODEL,
        base_url=base_url or env.get("OPENAI_BASE_URL") or None,
        api_key=key,
        timeout=_float(env, "RAG_LLM_TIMEOUT", 30.0),
    )


def limits_from_env(
    env: Mapping[str, str],
    *,
    max_file_mb: float | None = None,
    max_inflated_mb: float | None = None,
    max_depth: int | None = None,
) -> ReadLimits:
    """ReadLimits from flags, else RAG_MAX_* variables, else the defaults."""
    d = ReadLimits()
    return ReadLimits(
        max_file_mb=_pick(max_file_mb, env, FILE_SIZE.env, d.max_file_mb),
        max_inflated_mb=_pick(max_inflated_mb, env, INFLATED_SIZE.env, d.max_inflated_mb),
        max_depth=int(_pick(max_depth, env, MARKUP_DEPTH.env, d.max_depth)),
    )


def _pick(flag: float | None, env: Mapping[str, str], name: str, default: float) -> float:
    return flag if flag is not None else _float(env, name, default)


def load_settings(
    env: Mapping[str, str] | None = None,
    *,
    index: str | Path | None = None,
    embed_model: str | None = None,
    llm_model: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    max_file_mb: float | None = None,
    max_inflated_mb: float | None = None,
    max_depth: int | None = None,
    store: str | None = None,
) -> Settings:
    """Build Settings from the environment, with explicit arguments (CLI flags) winning."""
    env = os.environ if env is None else env
    model = embed_model or env.get("RAG_EMBED_MODEL") or DEFAULT_EMBED_MODEL
    index_path = Path(index or env.get("RAG_INDEX") or "data/index").expanduser()
    stores = store_from_env(env, store)
    embed = EmbedSettings(
        model=model,
        # the directory's manifest names its backend; a Milvus index is not read here
        backend=embed_backend(env, index_path if stores["store"] == "faiss" else None),
        cache_dir=default_cache_dir(env),
        query_prompt=env.get("RAG_QUERY_PROMPT"),
        passage_prompt=env.get("RAG_PASSAGE_PROMPT"),
    )
    return Settings(
        index=index_path,
        embed=embed,
        llm=llm_from_env(env, model=llm_model, base_url=base_url, api_key=api_key),
        limits=limits_from_env(
            env, max_file_mb=max_file_mb, max_inflated_mb=max_inflated_mb, max_depth=max_depth
        ),
        **stores,
    )


def store_from_env(env: Mapping[str, str], flag: str | None = None) -> dict[str, Any]:
    """`store` and `milvus` of Settings, from --store / RAG_STORE and RAG_MILVUS_*."""
    raw = (flag or env.get("RAG_STORE") or "faiss").strip().lower()
    if raw not in ("faiss", "milvus"):
        raise ConfigError(f"RAG_STORE={raw!r} is not a store. Use faiss (the default) or milvus")
    uri = env.get("RAG_MILVUS_URI") or DEFAULT_MILVUS_URI
    if raw == "milvus":
        from rag.milvus_store import parse_uri

        uri = parse_uri(uri)
    return {"store": raw, "milvus": MilvusSettings(uri, env.get("RAG_MILVUS_TOKEN", ""))}
