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
from typing import TypeVar, cast

from edge_encoders import BatchPolicy, Embedder, Reranker, SessionConfig
from edge_encoders.bundle_model import BundleModel
from edge_encoders.errors import EdgeEncodersError
from edge_encoders.families import EMBED, FAMILIES, RERANK, Family
from edge_encoders.text_tokenizer import TokenizerCache
from handler.bundle_location import local_bundle
from handler.errors import ApiError
from handler.settings import PREFIX, Settings

log = logging.getLogger("handler")

ModelT = TypeVar("ModelT", bound=BundleModel)


class Models:
    """The loaded models of this process, by family name, and what went wrong with the others.

    `embedder=` / `reranker=` are shorthands for `loaded={"embed": ..., "rerank": ...}`.
    """

    def __init__(
        self,
        embedder: Embedder | None = None,
        reranker: Reranker | None = None,
        *,
        loaded: dict[str, BundleModel] | None = None,
        errors: dict[str, str] | None = None,
        disabled: set[str] | None = None,
        init_seconds: float = 0.0,
        max_concurrency: int = 1,
    ) -> None:
        self.loaded: dict[str, BundleModel] = dict(loaded or {})
        for fam, model in ((EMBED, embedder), (RERANK, reranker)):
            if model is not None:
                self.loaded[fam.name] = model
        self.errors: dict[str, str] = dict(errors or {})  # family name -> message fit for clients
        self.causes: dict[str, str] = {}  # family name -> the operator's line: setting, cause, what to do
        self.disabled: set[str] = set(disabled or ())
        self.init_seconds = init_seconds
        self.max_concurrency = max_concurrency
        self._gate = threading.BoundedSemaphore(max_concurrency)

    def __repr__(self) -> str:
        return f"Models(loaded={sorted(self.loaded)}, errors={self.errors}, disabled={sorted(self.disabled)})"

    def get(self, family: Family[ModelT]) -> ModelT | None:
        """The loaded model of this family, typed as its class (None when not loaded)."""
        return cast("ModelT | None", self.loaded.get(family.name))

    def require(self, family: Family[ModelT]) -> ModelT:
        """The loaded model of this family, else 404 (turned off) or 503 (failed to load) naming it."""
        if family.name in self.disabled:
            raise ApiError(
                404,
                "model_disabled",
                f"this deployment serves no {family.what} (EDGE_{family.name.upper()}_BUNDLE is off)",
            )
        if family.name in self.errors:
            raise ApiError(503, "model_not_loaded", f"the {family.what} is not available: {self.errors[family.name]}")
        model = self.get(family)
        assert model is not None
        return model

    @property
    def embedder(self) -> Embedder | None:
        return self.get(EMBED)

    @property
    def reranker(self) -> Reranker | None:
        return self.get(RERANK)

    def require_embedder(self) -> Embedder:
        return self.require(EMBED)

    def require_reranker(self) -> Reranker:
        return self.require(RERANK)

    @property
    def tokens_in_flight(self) -> int:
        """Padded tokens the admitted requests may hold in micro-batches at once (what activation memory scales
        with): the compute slots times the largest model's per-call bound, which counts the micro-batches a
        concurrent run mode holds together."""
        per_call = max((m.tokens_in_flight for m in self.loaded.values()), default=0)
        return self.max_concurrency * per_call

    def status(self) -> dict[str, str]:
        out = {}
        for fam in FAMILIES:
            if fam.name in self.disabled:
                out[fam.name] = "disabled"
            elif fam.name in self.errors:
                out[fam.name] = "failed"
            else:
                out[fam.name] = "ready"
        return out

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


def _cause(settings: Settings, family: str, what: str, location: str, detail: str) -> str:
    """One line naming the setting to fix and what it may hold: an operator reads it, not a client."""
    bundle_setting = f"{PREFIX}{family.upper()}_BUNDLE"
    if settings.bundle_s3_uri:
        where = f"{PREFIX}BUNDLE_S3_URI={settings.bundle_s3_uri} ({family}/)"
        fix = f"point {PREFIX}BUNDLE_S3_URI at a prefix holding bundles published by `make publish`"
    else:
        where = f"{bundle_setting}={location}"
        fix = f"set {bundle_setting} to a bundle folder written by `make export`"
    return f"cannot load the {what} from {where}: {detail}; {fix}, or {bundle_setting}=off to serve without it"


def load_models(settings: Settings) -> Models:
    """Load every configured bundle (fetching from S3 first when a bundle URI is set)."""
    started = time.perf_counter()
    models = Models(max_concurrency=settings.max_concurrency)
    session = SessionConfig(
        intra_op_threads=settings.threads or None,
        cpu_mem_arena=settings.cpu_mem_arena,
        arena_shrinkage=settings.arena_shrinkage,
        allow_spinning=settings.thread_spinning,
        run_mode=settings.run_mode,
    )
    policy = BatchPolicy(token_budget=settings.token_budget, max_batch_size=settings.max_batch_size)
    tokenizers = TokenizerCache()  # the embedder and reranker on one base model share its tokenizer
    for fam in FAMILIES:
        location = settings.bundle_path(fam.name)
        if location is None:
            models.disabled.add(fam.name)
            continue
        try:
            model: BundleModel = fam.model.from_bundle(
                local_bundle(settings, fam.name, location),
                session_config=session,
                batch_policy=policy,
                verify=settings.verify_bundles,
                warmup=settings.warmup,
                tokenizers=tokenizers,
            )
        except EdgeEncodersError as exc:  # the details (paths, library text) go to the log only
            models.errors[fam.name] = f"it failed to load ({exc.code}); the cause is in the server log"
            models.causes[fam.name] = _cause(settings, fam.name, fam.what, location, exc.message)
            log.error("%s", models.causes[fam.name])
            continue
        except Exception as exc:
            models.errors[fam.name] = "it failed to load; the cause is in the server log"
            models.causes[fam.name] = _cause(settings, fam.name, fam.what, location, f"{type(exc).__name__}: {exc}")
            log.exception("%s", models.causes[fam.name])
            continue
        models.loaded[fam.name] = model
    models.init_seconds = time.perf_counter() - started
    log.info("activations in flight: at most %d padded tokens", models.tokens_in_flight)
    return models
