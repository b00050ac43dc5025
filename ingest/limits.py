"""Bounds on what one input file may cost to read: size on disk, inflated size, nesting.

Defaults are sized for news: an article file is kilobytes, a whole magazine issue a few
megabytes. A file over a limit is skipped with a reason that names the limit and the
setting that raises it; nothing is read into memory before the check. `ReadLimits` is
resolved once at the edge (`rag ingest` flags, environment variables) and passed down.
"""

from __future__ import annotations

from dataclasses import dataclass

from rag.errors import ConfigError

MB = 1 << 20


@dataclass(frozen=True)
class Limit:
    """One limit's name as the user sets it."""

    what: str  # e.g. "file-size"
    flag: str  # e.g. "--max-file-mb"
    env: str  # e.g. "RAG_MAX_FILE_MB"

    def exceeded(self, found: str, limit: str = "") -> str:
        """A skip reason: what was found, the limit, and how to raise it."""
        limit = f"{limit} " if limit else ""
        return (
            f"{found}, over the {limit}{self.what} limit (raise it with {self.flag} or {self.env})"
        )


FILE_SIZE = Limit("file-size", "--max-file-mb", "RAG_MAX_FILE_MB")
INFLATED_SIZE = Limit("inflated-size", "--max-inflated-mb", "RAG_MAX_INFLATED_MB")
MARKUP_DEPTH = Limit("markup-depth", "--max-depth", "RAG_MAX_DEPTH")


@dataclass(frozen=True)
class ReadLimits:
    max_file_mb: float = 20.0  # bytes on disk (the chat page's upload limit too)
    max_inflated_mb: float = 100.0  # a DOCX (zip) archive's members once decompressed
    max_depth: int = 256  # nesting of HTML elements (libxml2's own limit for XML)

    def __post_init__(self) -> None:
        for name, value in (
            (FILE_SIZE, self.max_file_mb),
            (INFLATED_SIZE, self.max_inflated_mb),
            (MARKUP_DEPTH, self.max_depth),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ConfigError(
                    f"{name.flag} / {name.env} must be a positive number, got {value!r}"
                )

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * MB)

    @property
    def max_inflated_bytes(self) -> int:
        return int(self.max_inflated_mb * MB)


def megabytes(n: int) -> str:
    return f"{n / MB:.1f} MB"


def limit_mb(mb: float) -> str:
    return f"{mb:g} MB"
