"""The Lambda image's entry point, `handler.lambda_main.handler`: the same app and handler as
`handler.app.handler`, built with less work in the INIT phase, and a log line saying where the INIT went.

What it leaves out: OpenBLAS's spinning thread pool and onnxruntime's telemetry (see below), pydantic.v1,
building FastAPI's OpenAPI models (and its form limits' validator) before they are used, the garbage
collector's scans of what the INIT allocates (handler.gc_pause: paused during the imports and the build, then
those objects frozen), and compiling the methods `dataclasses` generates and the forward references `typing`
makes during the imports (in the image: handler.stored_code, compiled at its build).

FastAPI checks every route's models against pydantic.v1 (for a migration error message) and that first check
imports the whole legacy pydantic.v1 package (measured in the image: 15 ms of CPU, 35 ms of wall time on a
busy host, about 3% of the imports). This app defines no v1 models, so pydantic.v1 is marked as not
importable before FastAPI loads; FastAPI's check then answers "not a v1 model" at once, as it would without
the package. Nothing else changes: same routes, same validation, same answers (tests/unit/test_lambda_main.py).

It also defers FastAPI's own pydantic models: FastAPI describes the OpenAPI document with about 70 pydantic
models (fastapi.openapi.models) that pydantic builds (schemas, validators) when FastAPI is imported, although
only generating /openapi.json uses them (measured in the image: about 40 ms of CPU, a tenth of the imports).
Imported with pydantic's `defer_build`, each is built the first time it is used, i.e. at the first request
for /openapi.json (about 6 ms there). FastAPI's own explicit rebuild of three of them at import, which
would build nearly all of them regardless, is left to that first use as well (about 17 ms of CPU; see
_import_fastapi_deferring_its_models). The app's own models (request and response bodies) are defined after
the import and built as before.

`handler` is built on first access, like `handler.app.handler`: the Lambda runtime resolves it during INIT.
After the build one JSON line, {"event": "init_phases", ...}, gives the INIT's phases in milliseconds:
start_ms (interpreter and Lambda runtime client, before this module), imports_ms (FastAPI, numpy,
onnxruntime, the handler), models_ms (bundles loaded and warmed up), app_ms (the rest of the app),
ready_ms (process start to handler ready: the INIT), and CPU time, which contention on a busy host inflates
far less than wall time: start_cpu_ms, imports_cpu_ms, build_cpu_ms (models and app), cpu_ms (the whole
process so far, every thread).
"""

from __future__ import annotations

from handler import gc_pause

_GC_WAS_ON = gc_pause.pause()  # first: the collector off while the imports below allocate (handler.gc_pause)

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

# Before numpy loads OpenBLAS: its default pool (a thread per CPU) spins after numpy's import, taking CPU the
# INIT's imports and model loads need (30-60 ms of CPU in the image on 2 CPUs), and nothing here gives BLAS
# enough work to use a second thread (onnxruntime has its own pool). An explicit setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# Before onnxruntime loads: its usage telemetry starts a thread at import, tries to persist a device id (on
# Lambda's read-only root it fails and logs a warning at every cold start) and would send events from the
# function: 3-4 ms of CPU per INIT in the image for nothing the function needs. An explicit setting wins.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from handler.process_clock import process_age_ms  # noqa: E402

_START_MS = process_age_ms()
_START_CPU = time.process_time()
_IMPORTS_FROM = time.perf_counter()


def _import_fastapi_deferring_its_models() -> None:
    """Import FastAPI with pydantic's defer_build on for the models FastAPI defines while it loads (see the
    module docstring); the models defined afterwards, the app's own, are built as usual.

    defer_build alone leaves out FastAPI's three explicit `model_rebuild()` calls at the end of
    fastapi.openapi.models (Schema, Operation, Encoding: forward references to classes defined later), and a
    rebuild builds at once, whatever defer_build says: those three reach nearly every OpenAPI model (about 17
    ms of CPU in the image). While FastAPI loads, a rebuild of a class of that module called without
    arguments (those three calls) is therefore left to the first use, as for the other OpenAPI models:
    pydantic then resolves the same references from the same module. Every other rebuild (pydantic's own,
    for a deferred model that is used during the import) runs as usual.
    """
    from pydantic import BaseModel, TypeAdapter

    if "fastapi" in sys.modules or "defer_build" in BaseModel.model_config:
        return
    rebuild = BaseModel.__dict__["model_rebuild"]

    def rebuild_unless_openapi_models(cls: type[BaseModel], *args: Any, **kwargs: Any) -> bool | None:
        if cls.__module__ == OPENAPI_MODELS and not args and not kwargs:
            return None  # "no rebuild was needed": the model stays deferred
        result: bool | None = rebuild.__func__(cls, *args, **kwargs)
        return result

    defer = TypeAdapter.__dict__.get("_defer_build")
    BaseModel.model_config["defer_build"] = True
    BaseModel.model_rebuild = classmethod(rebuild_unless_openapi_models)  # type: ignore[assignment,method-assign]
    if isinstance(defer, property):  # pydantic's own switch (2.10 and later); without it adapters build as usual
        TypeAdapter._defer_build = property(_fastapis_deferred(defer))  # type: ignore[method-assign,assignment]
    try:
        import fastapi  # noqa: F401
    finally:
        BaseModel.model_rebuild = rebuild  # type: ignore[method-assign]
        del BaseModel.model_config["defer_build"]
        if isinstance(defer, property):
            TypeAdapter._defer_build = defer  # type: ignore[method-assign,assignment]


def _fastapis_deferred(defer: property) -> Callable[[Any], bool]:
    """TypeAdapter's `_defer_build` answering yes for an adapter a FastAPI module creates: FastAPI 0.165 builds
    one at import (`fastapi._form_limits`, the form limits' validator: about 7 ms of CPU) that only a `form_limits`
    setting uses, which this app never gives. Deferred, it is built if and when it first validates."""

    def deferred(adapter: Any) -> bool:
        if str(getattr(adapter, "_module_name", "")).split(".")[0] == "fastapi":
            return True
        return bool(defer.fget(adapter))  # type: ignore[misc]

    return deferred


OPENAPI_MODELS = "fastapi.openapi.models"


from handler import stored_code  # noqa: E402  # its own import and file load count as imports

try:
    # what dataclasses and typing compile from text while these imports run, compiled at the image's build
    # (where it wrote the file; elsewhere nothing changes): handler.stored_code
    with stored_code.installed():
        if "pydantic.v1" not in sys.modules:  # already loaded by someone else: nothing to save, leave it usable
            sys.modules["pydantic.v1"] = None  # type: ignore[assignment]  # an import of it raises ImportError
        _import_fastapi_deferring_its_models()
        from handler import app as _app  # after the lines above, which must precede FastAPI's import
except BaseException:
    gc_pause.resume(_GC_WAS_ON, freeze=False)  # whatever failed, the collector is back on
    raise
gc_pause.resume(_GC_WAS_ON)  # the build below pauses it again (handler.app._build_default)

_IMPORTS_MS = (time.perf_counter() - _IMPORTS_FROM) * 1000
_IMPORTS_CPU = time.process_time()


def init_phases(build_ms: float, models_ms: float) -> dict[str, Any]:
    """The INIT's phases (see the module docstring); ready_ms is None where /proc cannot tell."""
    cpu = time.process_time()
    return {
        "event": "init_phases",
        "start_ms": _START_MS,
        "imports_ms": round(_IMPORTS_MS, 1),
        "models_ms": round(models_ms, 1),
        "app_ms": round(build_ms - models_ms, 1),
        "ready_ms": process_age_ms(),
        "start_cpu_ms": round(_START_CPU * 1000, 1),
        "imports_cpu_ms": round((_IMPORTS_CPU - _START_CPU) * 1000, 1),
        "build_cpu_ms": round((cpu - _IMPORTS_CPU) * 1000, 1),
        "cpu_ms": round(cpu * 1000, 1),
    }


def __getattr__(name: str) -> Any:
    if name not in ("app", "handler"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    fresh = not _app._default
    started = time.perf_counter()
    built = _app._build_default()
    if fresh:
        state = built["app"].state.edge
        phases = init_phases((time.perf_counter() - started) * 1000, state.models.init_seconds * 1000)
        if state.access_log.enabled:
            state.access_log.sink(json.dumps(phases, separators=(",", ":")))
    return built[name]
