"""The Lambda image's entry point (handler.lambda_main) answers exactly as handler.app.handler does, without
importing pydantic.v1, starting OpenBLAS's thread pool or building FastAPI's OpenAPI models before their first
use, with the garbage collector on and the INIT's objects frozen once the handler is built, and logs the INIT's
phases.

Each entry point runs in a fresh interpreter, as the Lambda runtime starts it: the pydantic.v1 guard acts at
import time, and this pytest process has long imported FastAPI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from helpers.toy_handler import bundle_paths

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import gc, json, os, sys
import {module} as entry
frozen_at_import = gc.get_freeze_count()
threads = len(os.listdir("/proc/self/task"))  # numpy (OpenBLAS) is loaded now, no onnxruntime session yet
from fastapi.openapi.models import Encoding, OpenAPI, Operation, Schema
from pydantic import BaseModel
from handler.schemas import EmbedRequest
OPENAPI_MODELS = (OpenAPI, Schema, Operation, Encoding)  # the last three: FastAPI rebuilds them at import
lambda_handler = entry.handler
built = {{"openapi_models_built": [m.__pydantic_complete__ for m in OPENAPI_MODELS]}}
built["pydantic_as_before"] = [
    BaseModel.model_rebuild.__func__.__module__, "defer_build" in BaseModel.model_config
]
built["gc"] = [gc.isenabled(), frozen_at_import, gc.get_freeze_count()]
built["own_models_built"] = EmbedRequest.__pydantic_complete__
from fastapi._form_limits import _form_limits_adapter, _validate_form_limits
from pydantic import TypeAdapter, ValidationError
built["form_limits_built"] = _form_limits_adapter.pydantic_complete
built["type_adapter_as_before"] = TypeAdapter.__dict__["_defer_build"].fget.__module__
try:
    _validate_form_limits({{"max_fields": -1}})
    built["form_limits_checked"] = [_validate_form_limits({{"max_fields": 2}})]
except ValidationError as exc:
    built["form_limits_checked"] = [_validate_form_limits({{"max_fields": 2}}), exc.errors()[0]["type"]]
answers = [lambda_handler(event, None) for event in json.loads(sys.stdin.read())]
built["openapi_models_built_after"] = [m.__pydantic_complete__ for m in OPENAPI_MODELS]
v1 = sys.modules.get("pydantic.v1")
found = {{"pydantic_v1_loaded": v1 is not None, "threads": threads, "blas": os.environ.get("OPENBLAS_NUM_THREADS")}}
found["ort_telemetry_off"] = os.environ.get("ORT_DISABLE_TELEMETRY")
found.update(built)
print("PROBE" + json.dumps({{"answers": answers, **found}}))
"""


def _event(method: str, path: str, body: object = None) -> dict[str, object]:
    return {
        "version": "2.0",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
        "requestContext": {"http": {"method": method, "path": path, "sourceIp": "127.0.0.1"}},
    }


EVENTS = [
    _event("POST", "/native/embed", {"inputs": ["hello world", "a second text"]}),
    _event("POST", "/v1/embeddings", {"input": "hello", "model": "no-such-model"}),  # the same 404 body
    _event("POST", "/v1/embed", {"texts": ["hi"], "input_type": "search_query", "embedding_types": ["int8"]}),
    _event("POST", "/rerank", {"query": "what is onnx", "texts": ["ONNX is a format", "bananas"]}),
    _event("POST", "/native/embed", {"inputs": 3}),  # a validation error: the same 422 body
    _event("GET", "/openapi.json"),
    _event("GET", "/health"),
]


def _run(module: str, **extra_env: str) -> tuple[dict[str, object], str]:
    embed, rerank = bundle_paths()
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith("EDGE_") and k not in ("OPENBLAS_NUM_THREADS", "ORT_DISABLE_TELEMETRY")
        },
        "EDGE_EMBED_BUNDLE": str(embed),
        "EDGE_RERANK_BUNDLE": str(rerank),
        **extra_env,
    }
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        input=json.dumps(EVENTS),
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    before, probe = proc.stdout.split("PROBE", 1)
    result: dict[str, object] = json.loads(probe)
    return result, before


def _comparable(answer: dict[str, object]) -> dict[str, object]:
    """An answer without what differs per call (request ids, timings)."""
    headers = {k: v for k, v in dict(answer["headers"]).items() if k not in ("x-request-id", "x-compute-time")}  # type: ignore[call-overload]
    body = json.loads(str(answer["body"]))
    if isinstance(body, dict):
        body.pop("id", None)  # Cohere's per-response id
    return {"status": answer["statusCode"], "headers": headers, "body": body}


def test_lambda_main_answers_as_the_app_handler_without_pydantic_v1() -> None:
    plain, _ = _run("handler.app")
    lean, log = _run("handler.lambda_main")
    assert plain["pydantic_v1_loaded"] is True  # the saving is real: FastAPI's check imports it otherwise
    assert lean["pydantic_v1_loaded"] is False
    # FastAPI's OpenAPI models wait for their first use (the GET /openapi.json below, answered the same); the
    # app's own are built at import either way
    assert (plain["openapi_models_built"], lean["openapi_models_built"]) == ([True] * 4, [False] * 4)
    # GET /openapi.json (the same document, below) builds OpenAPI, with the other three inside its schema
    assert lean["openapi_models_built_after"][0] is True  # type: ignore[index]
    assert lean["pydantic_as_before"] == plain["pydantic_as_before"] == ["pydantic.main", False]
    assert plain["own_models_built"] is lean["own_models_built"] is True
    # FastAPI's form limits validator (a TypeAdapter made at its import) waits for its first use, which this app
    # never makes; made then, it validates as before; pydantic's own switch is back in place after the import
    assert (plain["form_limits_built"], lean["form_limits_built"]) == (True, False)
    assert lean["type_adapter_as_before"] == plain["type_adapter_as_before"] == "pydantic.type_adapter"
    limits = [{"max_fields": 2}, "greater_than_equal"]
    assert lean["form_limits_checked"] == plain["form_limits_checked"] == limits
    # the collector: on after the import and the build; what each allocated frozen (handler.gc_pause), the
    # imports only by this entry point, the build (handler.app._build_default) by both
    lean_gc: list[Any] = lean["gc"]  # type: ignore[assignment]
    plain_gc: list[Any] = plain["gc"]  # type: ignore[assignment]
    (lean_on, lean_import, lean_built), (plain_on, plain_import, plain_built) = lean_gc, plain_gc
    assert lean_on is plain_on is True
    assert (plain_import, lean_import > 0) == (0, True), (plain_import, lean_import)
    assert lean_built > lean_import and plain_built > 0, (lean_built, plain_built)
    assert (lean["blas"], plain["blas"]) == ("1", None)
    assert (lean["ort_telemetry_off"], plain["ort_telemetry_off"]) == ("1", None)
    if len(os.sched_getaffinity(0)) > 1:  # OpenBLAS starts a thread per further CPU, unless told otherwise
        assert lean["threads"] < plain["threads"], (lean["threads"], plain["threads"])  # type: ignore[operator]
    statuses = [a["statusCode"] for a in lean["answers"]]  # type: ignore[attr-defined]
    assert statuses == [200, 404, 200, 200, 422, 200, 200], statuses
    for mine, theirs in zip(lean["answers"], plain["answers"], strict=True):  # type: ignore[call-overload]
        assert _comparable(mine) == _comparable(theirs)
    phases = [json.loads(line) for line in log.splitlines() if line.startswith('{"event":"init_phases"')]
    assert len(phases) == 1, log[-2000:]
    record = phases[0]
    for key in ("imports_ms", "models_ms", "app_ms", "cpu_ms"):
        assert isinstance(record[key], float) and record[key] >= 0, record
    assert record["ready_ms"] >= record["imports_ms"] + record["models_ms"], record


def test_explicit_openblas_and_telemetry_settings_are_kept() -> None:
    lean, _ = _run("handler.lambda_main", OPENBLAS_NUM_THREADS="2", ORT_DISABLE_TELEMETRY="0")
    assert (lean["blas"], lean["ort_telemetry_off"]) == ("2", "0")
    assert [a["statusCode"] for a in lean["answers"]][:4] == [200, 404, 200, 200]  # type: ignore[attr-defined]
