"""Run the app with uvicorn on a socket we bind ourselves (so a busy port is a clean error)."""

from __future__ import annotations

import logging
import socket

from rag.ask import Assistant
from rag.errors import ConfigError
from rag.server.app import ServerOptions, create_app

log = logging.getLogger(__name__)

WARM_UP = "浙江 warm-up"


def bind(host: str, port: int) -> socket.socket:
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return socket.create_server((host, port), family=family, reuse_port=False)
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}): choose another --port"
        ) from None


def warm_up(assistant: Assistant) -> None:
    """Load the model and the index now: the first request is then as fast as any, and a
    missing or mismatched index stops the server at start with its own message."""
    assistant.ask(WARM_UP, k=1, mode="extractive")


def serve(
    assistant: Assistant,
    options: ServerOptions,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    access_log: bool = False,
) -> None:
    """Serve until interrupted (Ctrl-C / SIGTERM)."""
    import uvicorn

    sock = bind(host, port)
    warm_up(assistant)
    config = uvicorn.Config(
        create_app(assistant, options),
        log_level="info" if access_log else "warning",
        access_log=access_log,
        timeout_graceful_shutdown=5,
    )
    uvicorn.Server(config).run(sockets=[sock])
