"""The FastAPI app factory and the two ways in: `uvicorn handler.app:app` and the Lambda handler `handler.app.handler`.

`app` and `handler` are built on first access (PEP 562 module __getattr__), which for both servers is start-up:
uvicorn resolves `app` before it listens, and the Lambda runtime resolves `handler` during the init phase,
before the first event. Models therefore load once per process, never per request, while tests can import
create_app without loading the default bundles as a side effect.
"""

from __future__ import annotations

import binascii
import json
import logging
import os
import platform
import sys
import threading
from collections.abc import Callable
from importlib import metadata
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from mangum import Mangum

import edge_encoders
from edge_encoders.families import family_names
from handler import (
    docs,
    error_docs,
    errors,
    event_shapes,
    gc_pause,
    lambda_events,
    routes_cohere,
    routes_meta,
    routes_native,
    routes_openai,
    routes_ready,
    routes_rerank,
    routes_tei,
    sent_bodies,
)
from handler.auth import load_api_key
from handler.dialects import DialectMiddleware
from handler.loaded_models import Models, load_models
from handler.middleware import EdgeMiddleware
from handler.observability import AccessLog
from handler.process_clock import process_age_ms
from handler.prometheus import Metrics
from handler.settings import Settings, SettingsError
from handler.state import AppState

log = logging.getLogger("handler")

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def create_app(
    settings: Settings | None = None,
    *,
    models: Models | None = None,
    log_sink: Callable[[str], None] | None = None,
) -> FastAPI:
    """Build the app and load its models now. settings=None reads EDGE_* from the environment.

    `models` lets tests share one loaded set between apps; `log_sink` receives the JSON log lines.
    """
    config_error = None
    from_env = settings is None
    if settings is None:
        try:
            settings = Settings.from_env()
        except SettingsError as exc:
            log.error("bad configuration: %s", exc)
            config_error = str(exc)
            settings = Settings()
    _setup_logging(settings)
    if from_env and config_error is None and (unknown := Settings.unknown_names()):
        log.warning("ignored: %s: not a setting (handler/SETTINGS.md lists them)", ", ".join(unknown))
    access_log = AccessLog(
        enabled=settings.access_log, emf=settings.emf_enabled, namespace=settings.metrics_namespace, sink=log_sink
    )
    if models is None:
        models = Models(errors=dict.fromkeys(family_names(), "not loaded")) if config_error else None
        models = models or load_models(settings)
    state = AppState(settings, models, load_api_key(settings), access_log, config_error)
    access_log.init(
        {
            "init_ms": round(models.init_seconds * 1000, 3),
            "process_ms": process_age_ms(),
            "models": {
                name: {
                    "name": m.manifest.name,
                    "variant": m.variant,
                    "load_ms": round(m.load_seconds * 1000, 3),
                }
                for name, m in models.loaded.items()
            },
            "failed": models.errors,
            "disabled": sorted(models.disabled),
            "config_error": config_error,
            "runtime": edge_encoders.__version__,
            "versions": _versions(),
        }
    )

    app = FastAPI(
        title="edge-encoders",
        version=edge_encoders.__version__,
        summary="Sentence embeddings and reranking from validated ONNX bundles, torch-free.",
        docs_url=None,  # served from local assets below, never from a CDN
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs else None,
    )
    app.state.edge = state
    app.state.metrics = Metrics()
    errors.install(app)
    error_docs.install(app)  # the error bodies' schemas, documented by reference on every route
    if settings.docs:
        docs.install(app)
    for module in ROUTE_MODULES:
        add_routes(app, module.router)
    app.add_middleware(EdgeMiddleware, state=state)
    app.add_middleware(DialectMiddleware, metrics=app.state.metrics)  # outside: it sees every error
    _add_cors(app, settings)
    return app


ROUTE_MODULES = (routes_tei, routes_native, routes_openai, routes_cohere, routes_rerank, routes_meta, routes_ready)


def add_routes(app: FastAPI, router: APIRouter) -> None:
    """The router's routes on the app itself, as include_router would serve them (our routers have no prefix,
    dependencies or hooks of their own: tests/unit/test_handler_app.py compares the OpenAPI and the routes).

    Why not include_router: FastAPI keeps an included router as is and, at the first request, builds every one
    of its routes a second time (dependencies, response models) for the including app. The routes built when
    the route modules were imported serve as they are, so that first request no longer pays for it. They
    still honour the serving app's `app.dependency_overrides` (handler/overrides.py).
    """
    app.router.routes.extend(router.routes)


def _add_cors(app: FastAPI, settings: Settings) -> None:
    """CORS for browsers calling the uvicorn server directly; in Lambda the function URL's own Cors does it
    (two layers would send the headers twice, which browsers reject)."""
    origins = settings.cors_origin_list
    if not origins:
        return
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        log.warning("EDGE_CORS_ORIGINS is ignored in Lambda: configure Cors on the function URL instead")
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_methods=["GET", "POST", "HEAD", "OPTIONS"],
        # any header a client asks for: SDKs send their own (openai's x-stainless-*, cohere's x-fern-*, ...), and
        # a preflight refused for one of them fails the browser's call before it is made
        allow_headers=["*"],
        expose_headers=["x-request-id", "x-compute-time", "x-compute-tokens"],
        max_age=600,
    )


def lambda_handler_for(app: FastAPI, settings: Settings | None = None) -> LambdaHandler:
    """Mangum around the app (lifespan off: models are loaded already), plus an answer for non-HTTP events."""
    base_path = (settings or app.state.edge.settings).api_base_path
    mangum = Mangum(app, lifespan="off", api_gateway_base_path=base_path)

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        request_id = getattr(context, "aws_request_id", "")
        if not isinstance(event, dict) or ("requestContext" not in event and not event_shapes.http_shaped(event)):
            return lambda_events.unsupported_event(event, request_id)
        event, problem = event_shapes.readable(lambda_events.normalized(event))
        if problem:
            return lambda_events.unreadable_event(event, problem, base_path, request_id)
        problem = lambda_events.body_problem(event)
        if problem:
            return lambda_events.unreadable_body(event, problem, base_path, request_id)
        try:
            return mangum(event, context)
        except binascii.Error as exc:  # a body marked base64 that is not: the client's error, not ours
            return lambda_events.bad_base64_body(event, exc, base_path, request_id)
        except Exception:  # the event itself is broken (bad base64, missing fields): the app never ran
            log.exception("cannot read the Lambda event")
            return _event_error(400, "malformed_event", "the Lambda event cannot be read as an HTTP request")

    return handler


def _event_error(status: int, code: str, message: str) -> dict[str, Any]:
    body = errors.ApiError(status, code, message).body()
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


_PACKAGES = ("onnxruntime", "tokenizers", "numpy", "fastapi", "pydantic", "mangum")


def _versions() -> dict[str, str]:
    """The serving stack's versions, for the init log line (never shown to clients).

    An imported package's own `__version__` where it has one: importlib.metadata finds and parses the
    package's whole METADATA file for each name (about 2.5 ms of CPU for these six at a cold start). The
    others (mangum has none) are looked up there."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        version = getattr(sys.modules.get(name), "__version__", None)
        if isinstance(version, str):
            out[name] = version
            continue
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def _setup_logging(settings: Settings) -> None:
    """Our loggers at the configured level; a plain stderr handler only if nobody (Lambda, uvicorn) set one."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in ("handler", "edge_encoders"):
        logging.getLogger(name).setLevel(settings.log_level.upper())


_lock = threading.Lock()
_default: dict[str, Any] = {}


def _build_default() -> dict[str, Any]:
    """The process's app and handler, built once; the collector is paused while they are built and what they
    allocated is frozen after (handler.gc_pause: the build allocates objects that live as long as the process)."""
    with _lock:
        if not _default:
            with gc_pause.paused():
                app = create_app()
                _default["handler"] = lambda_handler_for(app)
                _default["app"] = app
        return _default


def __getattr__(name: str) -> Any:
    if name == "app":  # asked by an ASGI server (uvicorn: a thread pool), so the sent bodies are built now
        built = _build_default()
        sent_bodies.build()  # see handler.sent_bodies; Lambda asks for `handler` and builds them at first use
        return built[name]
    if name == "handler":
        return _build_default()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
