"""Shared fixtures. Tests run offline: nothing may be fetched from a model hub."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

# Before any test module imports huggingface_hub, which reads it once.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import pytest

from rag.ask import Assistant
from rag.config import EmbedSettings, Settings
from rag.embed import SentenceTransformerEmbedder


@pytest.fixture(scope="session")
def bundled_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled multilingual-e5-small, materialised once per session (about 10 s)."""
    from rag.bundled import materialise

    return materialise(tmp_path_factory.mktemp("model-cache"))


ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "corpus"


@pytest.fixture(scope="session")
def model_cache(bundled_model_dir: Path) -> Path:
    """The cache directory holding the materialised model (what RAG_CACHE_DIR points to)."""
    return bundled_model_dir.parent


@pytest.fixture(scope="session")
def embed_settings(model_cache: Path) -> EmbedSettings:
    return EmbedSettings(cache_dir=model_cache)


@pytest.fixture(scope="session")
def embedder(embed_settings: EmbedSettings) -> SentenceTransformerEmbedder:
    """One real model per session, shared by every test that embeds."""
    return SentenceTransformerEmbedder(embed_settings)


@pytest.fixture(scope="session")
def demo_index(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Path:
    """The demo corpus ingested once per session with the default chunking."""
    from rag.ingest.chunk import ChunkParams
    from rag.ingest.pipeline import ingest

    path = tmp_path_factory.mktemp("demo") / "index"
    # Development shortcut: RAG_TEST_DEMO_INDEX=DIR copies an existing demo index instead of
    # spending a minute or two building one. CI never sets it, so CI always ingests.
    reuse = os.environ.get("RAG_TEST_DEMO_INDEX")
    if reuse:
        import shutil

        shutil.copytree(reuse, path)
        return path
    ingest([CORPUS], path, embedder, ChunkParams())
    return path


@pytest.fixture(scope="session")
def assistant(
    demo_index: Path, embed_settings: EmbedSettings, embedder: SentenceTransformerEmbedder
) -> Assistant:
    """Extractive assistant over the demo index (no LLM configured)."""
    return Assistant(Settings(index=demo_index, embed=embed_settings), embedder=embedder)


@pytest.fixture
def cli_env(model_cache: Path) -> dict[str, str]:
    """Environment for running `rag` in a subprocess: offline, the session's model cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RAG_"))}
    env.update(HF_HUB_OFFLINE="1", RAG_CACHE_DIR=str(model_cache), PYTHONIOENCODING="utf-8")
    return env


KillFn = Callable[[Sequence[str], dict[str, str]], None]


@pytest.fixture
def kill_while_embedding() -> KillFn:
    """Run a command (an ingest) and SIGKILL it two seconds after its embedding progress
    appears, asserting it was still running then."""

    def kill(cmd: Sequence[str], env: dict[str, str]) -> None:
        proc = subprocess.Popen(list(cmd), env=env, stderr=subprocess.PIPE)
        assert proc.stderr is not None
        seen = b""
        while b"embedding:" not in seen and proc.poll() is None:
            seen += proc.stderr.read1(4096)  # the progress bar appears once embedding starts
        time.sleep(2.0)
        assert proc.poll() is None, "ingest finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    return kill
