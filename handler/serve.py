"""The HTTP server entry point of the server image (Cloud Run, Fly, ECS/Fargate, Kubernetes): uvicorn on $PORT.

    python -m handler.serve            # 0.0.0.0:$PORT (default 8080), one worker

Why one process by default: onnxruntime already uses every CPU the container's quota grants for one call
(edge_encoders.available_cpus reads the cgroup limit), so more workers only multiply memory (one copy of the
models each) and oversubscribe the CPUs; scale with replicas instead. EDGE_SERVER_WORKERS overrides it.
SIGTERM (what every orchestrator sends first): uvicorn stops accepting, lets requests in flight finish for up
to EDGE_SERVER_SHUTDOWN_GRACE_S seconds, then exits 0; keep the orchestrator's grace period longer.
"""

from __future__ import annotations

import os
import sys

import uvicorn

DEFAULT_PORT = 8080  # Cloud Run's convention; also what the image EXPOSEs


def _int_env(name: str, default: int, minimum: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be an integer; got {raw!r}") from None
    if value < minimum:
        raise SystemExit(f"{name} must be at least {minimum}; got {value}")
    return value


def main() -> int:
    """Run uvicorn with the settings from the environment until SIGTERM/SIGINT."""
    port = _int_env("PORT", DEFAULT_PORT, 1)
    workers = _int_env("EDGE_SERVER_WORKERS", 1, 1)
    grace = _int_env("EDGE_SERVER_SHUTDOWN_GRACE_S", 20, 0)
    uvicorn.run(
        "handler.app:app",
        host=os.environ.get("EDGE_SERVER_HOST", "0.0.0.0"),
        port=port,
        workers=workers,
        timeout_graceful_shutdown=grace,
        timeout_keep_alive=_int_env("EDGE_SERVER_KEEPALIVE_S", 75, 1),  # above typical load balancer idle
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("EDGE_SERVER_FORWARDED_ALLOW_IPS", "127.0.0.1"),
        access_log=False,  # the app writes one JSON line per request itself
        server_header=False,
        date_header=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
