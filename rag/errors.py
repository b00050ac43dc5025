"""Exceptions raised by the library; the CLI and the UI turn them into clean messages.

Every message says what failed, where, and what to do about it.
"""

from __future__ import annotations


class RagError(Exception):
    """Base class for every foreseeable failure."""


class InvalidQuestionError(RagError, ValueError):
    """The question is empty or unusable."""


class IndexNotFoundError(RagError):
    """No index at the given location."""


class IndexCorruptError(RagError):
    """The index directory exists but cannot be read back."""


class IndexMismatchError(RagError):
    """The index was built with another format version or embedding model."""


class ModelError(RagError):
    """The embedding model cannot be found, materialised or loaded."""


class IngestError(RagError):
    """Nothing could be ingested, or the inputs are unusable."""


class UnreadableFileError(RagError):
    """One input file cannot be decoded or parsed (the ingest skips it)."""


class LLMError(RagError):
    """The LLM endpoint failed after retries (callers fall back to extractive answers)."""


class ConfigError(RagError, ValueError):
    """A setting has an invalid value."""


class ServeError(RagError):
    """The chat page cannot be served (e.g. its port is taken)."""
