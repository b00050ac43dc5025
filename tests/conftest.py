"""Shared fixtures. Tests run offline: nothing may be fetched from a model hub."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Before any test module imports huggingface_hub, which reads it once.
os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(scope="session")
def bundled_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled multilingual-e5-small, materialised once per session (about 10 s)."""
    from rag.bundled import materialise

    return materialise(tmp_path_factory.mktemp("model-cache"))
