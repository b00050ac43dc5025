"""Question answering over Chinese news articles with verified, sentence-level citations.

    >>> from rag import ask
    >>> answer = ask("湖州首次颁发的生态鼎中，哪个县捧获了生态文明冠军鼎？", index="data/index")
    >>> print(answer.text)
    >>> for c in answer.citations:
    ...     print(c.n, c.source, c.quote)

Importing this package loads no model; the embedding model and the index are loaded on
the first question.
"""

from rag.ask import Assistant, ask, ask_stream
from rag.errors import (
    ConfigError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    IngestError,
    InvalidQuestionError,
    LLMError,
    ModelError,
    RagError,
)
from rag.types import Answer, Citation, Passage

__all__ = [
    "Answer",
    "Assistant",
    "Citation",
    "ConfigError",
    "IndexCorruptError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "IngestError",
    "InvalidQuestionError",
    "LLMError",
    "ModelError",
    "Passage",
    "RagError",
    "ask",
    "ask_stream",
]
