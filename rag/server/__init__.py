"""The assistant as an OpenAI-compatible HTTP server (`rag serve`).

    >>> from rag import Assistant
    >>> from rag.config import load_settings
    >>> from rag.server import ServerOptions, serve
    >>> serve(Assistant(load_settings(index="data/index")), ServerOptions(), port=8000)

Any chat client that speaks the chat-completions protocol (the `openai` SDK, Open WebUI,
ChatBox, …) can then ask the articles; citations travel with the answer, streaming
included. Routes: GET /v1/models, POST /v1/chat/completions, POST /v1/retrieve, GET /health.
"""

from rag.server.app import MODEL, ServerOptions, create_app, options_from_env
from rag.server.run import serve

__all__ = ["MODEL", "ServerOptions", "create_app", "options_from_env", "serve"]
