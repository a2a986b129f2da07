"""Load the bundles once per process (Lambda init, or uvicorn start-up), with a warm-up inference.

A model that fails to load does not stop the process: its routes answer 503 with a clear message and the
cause is logged, so a bad deploy shows up as readable errors instead of a crash loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from edge_encoders import BatchPolicy, Embedder, Reranker, SessionConfig
from edge_encoders.errors import EdgeEncodersError
from handler.errors import ApiError
from handler.settings import Settings

log = logging.getLogger("handler")

KINDS = ("embed", "rerank")
_WHAT = {"embed": "embedding model", "rerank": "reranking model"}


@dataclass
class Models:
    """The loaded models of this process and what went wrong with the others."""

    embedder: Embedder | None = None
    reranker: Reranker | None = None
    errors: dict[str, str] = field(default_factory=dict)  # kind -> message fit for clients
    disabled: set[str] = field(default_factory=set)
    init_seconds: float = 0.0
    max_concurrency: int = 1
    _gate: threading.BoundedSemaphore = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._gate = threading.BoundedSemaphore(self.max_concurrency)

    def status(self) -> dict[str, str]:
        out = {}
        for kind in KINDS:
            if kind in self.disabled:
                out[kind] = "disabled"
            elif kind in self.errors:
                out[kind] = "failed"
            else:
                out[kind] = "ready"
        return out

    def require_embedder(self) -> Embedder:
        self._require("embed")
        assert self.embedder is not None
        return self.embedder

    def require_reranker(self) -> Reranker:
        self._require("rerank")
        assert self.reranker is not None
        return self.reranker

    def _require(self, kind: str) -> None:
        if kind in self.disabled:
            raise ApiError(
                404, "model_disabled", f"this deployment serves no {_WHAT[kind]} (EDGE_{kind.upper()}_BUNDLE is off)"
            )
        if kind in self.errors:
            raise ApiError(503, "model_not_loaded", f"the {_WHAT[kind]} is not available: {self.errors[kind]}")

    @contextmanager
    def compute(self, timeout: float | None = None) -> Iterator[None]:
        """Bound the inferences running at once (onnxruntime already uses every CPU for one call).

        Waits at most `timeout` seconds for a slot (None: as long as it takes), else 503.
        """
        if not self._gate.acquire(timeout=None if timeout is None else max(0.0, timeout)):
            raise ApiError(
                503,
                "queue_timeout",
                "no compute slot became free before the request's deadline; retry later or send smaller requests",
                headers={"retry-after": "1"},
            )
        try:
            yield
        finally:
            self._gate.release()


def load_models(settings: Settings) -> Models:
    """Load every configured bundle (fetching from S3 first when a bundle URI is set)."""
    started = time.perf_counter()
    models = Models(max_concurrency=settings.max_concurrency)
    session = SessionConfig(
        intra_op_threads=settings.threads or None,
        cpu_mem_arena=settings.cpu_mem_arena,
        arena_shrinkage=settings.arena_shrinkage,
        allow_spinning=settings.thread_spinning,
    )
    policy = BatchPolicy(token_budget=settings.token_budget, max_batch_size=settings.max_batch_size)
    for kind in KINDS:
        location = settings.bundle_path(kind)
        if location is None:
            models.disabled.add(kind)
            continue
        try:
            path = _local_bundle(settings, kind, location)
            cls = Embedder if kind == "embed" else Reranker
            model = cls.from_bundle(
                path,
                session_config=session,
                batch_policy=policy,
                verify=settings.verify_bundles,
                warmup=settings.warmup,
            )
        except EdgeEncodersError as exc:  # the details (paths, library text) go to the log only
            models.errors[kind] = f"it failed to load ({exc.code}); the cause is in the server log"
            log.error("cannot load the %s from %s: %s", _WHAT[kind], location, exc.message)
            continue
        except Exception:
            models.errors[kind] = "it failed to load; the cause is in the server log"
            log.exception("cannot load the %s from %s", _WHAT[kind], location)
            continue
        if isinstance(model, Embedder):
            models.embedder = model
        else:
            models.reranker = model
    models.init_seconds = time.perf_counter() - started
    return models


def _local_bundle(settings: Settings, kind: str, location: str) -> Path:
    """The bundle folder on disk: the configured path, or a verified copy fetched from S3."""
    if not settings.bundle_s3_uri:
        return Path(location)
    # imported here, not at the top, so a deployment without S3 bundles never imports boto3
    from edge_encoders.s3_bundles import fetch_bundle

    uri = f"{settings.bundle_s3_uri.rstrip('/')}/{kind}"
    fetched: Path = fetch_bundle(uri, Path(settings.bundle_cache_dir) / kind)
    return fetched
