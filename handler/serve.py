"""`python -m handler.serve`: the app under uvicorn as a public endpoint needs it (outside Lambda).

Why not plain `uvicorn handler.app:app`: uvicorn sends `server: uvicorn` on every response, and never times out
a client that opens a connection and sends its request head slowly or not at all (slowloris): 30 such clients
were measured to stay connected indefinitely. Here the server header is off, and a connection whose request
line and headers are not complete within EDGE_HEADER_TIMEOUT_MS is closed. A stalled *body* is answered 408 by
the middleware (EDGE_BODY_TIMEOUT_MS). Keep-alive idles out after 5 s (uvicorn's default). glibc's malloc arenas
are capped (EDGE_MALLOC_ARENAS) so freed memory is shared by the worker threads instead of kept per thread.

In the server image (Dockerfile.server) it is the entry point: `PORT` (default 8080, Cloud Run's convention) and
`EDGE_SERVER_HOST` (the image sets 0.0.0.0) give the defaults of --port and --host. One process: onnxruntime
already uses the CPUs of the container's quota for one call, and a second worker would hold a second copy of
the models; scale with replicas. On SIGTERM uvicorn stops accepting, lets requests in flight finish for up to
EDGE_SERVER_SHUTDOWN_GRACE_S seconds (default 20; keep the orchestrator's grace period longer), and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from handler import gc_pause, memory
from handler.settings import Settings, SettingsError

log = logging.getLogger("handler")

DEFAULT_PORT = 8080
DEFAULT_SHUTDOWN_GRACE_S = 20


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol plus a deadline for each request head (request line and headers)."""

    header_timeout = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_header_timer()  # the next request on a kept-alive connection gets its own deadline

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        self._header_timer = self.loop.call_later(self.header_timeout, self._header_deadline)

    def _header_deadline(self) -> None:
        """Close the connection if the client still has not sent a whole request head."""
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return  # a request is in progress (its body has its own timeout) or the connection is gone
        if self.cycle is not None and not self.cycle.response_complete:
            return
        self.transport.close()


def protocol_with_timeout(seconds: float) -> type[HeaderTimeoutProtocol]:
    """The protocol class with this header deadline (uvicorn instantiates the class itself)."""
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), {"header_timeout": seconds})


MAX_PORT = 65535


def _port(raw: str) -> int:
    """--port: a TCP port, refused by argparse in one line (a bad one was a traceback from bind())."""
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer from 1 to {MAX_PORT}; got {raw!r}") from None
    if not 1 <= value <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_PORT}; got {value}")
    return value


def _env_int(name: str, default: int, minimum: int, maximum: int | None = None) -> int:
    """An integer from the environment, or a one-line exit naming the variable."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be an integer; got {raw!r}") from None
    if value < minimum:
        raise SystemExit(f"{name} must be at least {minimum}; got {value}")
    if maximum is not None and value > maximum:
        raise SystemExit(f"{name} must be at most {maximum}; got {value}")
    return value


def config(host: str, port: int, settings: Settings) -> uvicorn.Config:
    return uvicorn.Config(
        "handler.app:app",
        host=host,
        port=port,
        http=protocol_with_timeout(settings.header_timeout_ms / 1000) if settings.header_timeout_ms else "h11",
        server_header=False,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=_env_int("EDGE_SERVER_SHUTDOWN_GRACE_S", DEFAULT_SHUTDOWN_GRACE_S, 0),
        lifespan="off",
        access_log=False,  # the app writes its own JSON access line per request
        log_level=settings.log_level.lower(),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the HTTP API under uvicorn (no server header, timeouts).")
    parser.add_argument("--host", default=os.environ.get("EDGE_SERVER_HOST", "").strip() or "127.0.0.1")
    parser.add_argument("--port", type=_port, default=_env_int("PORT", DEFAULT_PORT, 1, MAX_PORT))
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:  # a server that could only answer 503 should not start: say why, in one line
        raise SystemExit(f"edge-encoders: bad configuration: {exc}") from None
    memory.limit_arenas(settings.malloc_arenas)
    with gc_pause.paused():  # the app's imports (uvicorn finds the module loaded); its build pauses it itself
        module = importlib.import_module("handler.app")
    refuse_unloaded_models(module.app)  # built now, so a bundle that does not load stops the start
    uvicorn.Server(config(args.host, args.port, settings)).run()


def refuse_unloaded_models(app: Any) -> None:
    """Exit with one line per configured model that failed to load (setting, cause, what it may hold).

    Unlike a Lambda function (whose failed INIT the caller only sees as an opaque error, so it answers 503
    naming the cause), a server that cannot serve a configured model should not pass for started: its
    orchestrator shows the exit and the line.
    """
    models = app.state.edge.models
    if models.errors:
        causes = [models.causes.get(name, f"the {name} model: {error}") for name, error in models.errors.items()]
        raise SystemExit("edge-encoders: not starting: " + " | ".join(causes))


if __name__ == "__main__":
    main()
