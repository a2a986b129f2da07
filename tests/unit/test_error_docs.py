"""Response bodies documented without a field built at import (handler.error_docs): the OpenAPI document is the
one FastAPI writes from `responses={status: {"model": ...}}` for the errors and from `response_model=` for the
success bodies of the routes that return a `Response`, byte for byte, and FastAPI builds no pydantic field for
those bodies when the routes are declared.

That form is produced in a fresh interpreter, where ref_responses is replaced and `response_model=` given back
to the documented routes before the route modules are imported (they declare their routes when imported); the
document is then compared with this process's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from helpers.toy_handler import bundle_paths, make_app
from pydantic import BaseModel

from handler import error_docs
from handler.errors import ErrorBody, ErrorDetail

REF = error_docs.REF_PREFIX

REPO = Path(__file__).resolve().parents[2]

AS_MODELS = """
import json
from handler import error_docs

def as_models(model, descriptions, *, media_type=error_docs.JSON):
    return {status: {"model": model, "description": text} for status, text in descriptions.items()}

if ERRORS_AS_MODELS:
    error_docs.ref_responses = as_models
from fastapi.routing import APIRouter
declare = APIRouter.add_api_route

def with_response_model(self, path, endpoint, **kwargs):
    if RESPONSE_MODELS and endpoint in error_docs._DOCUMENTED:
        kwargs["response_model"] = error_docs._DOCUMENTED[endpoint]
    return declare(self, path, endpoint, **kwargs)

APIRouter.add_api_route = with_response_model
from fastapi.testclient import TestClient
from handler.app import create_app
from handler.settings import Settings

app = create_app(Settings.from_env())
fields = sum(len(r.response_fields) for r in app.routes if hasattr(r, "response_fields"))
success = sorted(r.path for r in app.routes if getattr(r, "response_field", None) is not None)
documented = sorted(r.path for r in app.routes if getattr(r, "endpoint", None) in error_docs._DOCUMENTED)
served = TestClient(app).get("/openapi.json").text
found = {"fields": fields, "success": success, "documented": documented, "served": served}
print("DOC" + json.dumps({**found, "openapi": app.openapi()}))
"""


def _as_models(*, errors: bool = True, response_models: bool = True) -> dict[str, Any]:
    """The document with `response_model=` on the documented routes (unless not `response_models`: the app as
    it is) and, if `errors`, the error bodies in the `model` form."""
    embed, rerank = bundle_paths()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("EDGE_")},
        "EDGE_EMBED_BUNDLE": str(embed),
        "EDGE_RERANK_BUNDLE": str(rerank),
    }
    script = f"ERRORS_AS_MODELS = {errors}\nRESPONSE_MODELS = {response_models}\n" + AS_MODELS
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.split("DOC", 1)[1])
    return result


def test_the_document_is_the_one_response_models_give() -> None:
    reference = _as_models()
    app = make_app(docs=True)
    document = app.openapi()
    routes = [r for r in app.routes if isinstance(r, APIRoute)]
    referenced = sum("$ref" in json.dumps(entry) for r in routes for entry in r.responses.values())
    assert reference["fields"] == referenced > 50  # the `model` form built a field per route and error status
    assert document == reference["openapi"]
    assert json.dumps(document, sort_keys=True) == json.dumps(reference["openapi"], sort_keys=True)
    assert {"ErrorBody", "ErrorDetail", "TeiError"} <= set(document["components"]["schemas"])
    assert list(document["components"]["schemas"]) == sorted(document["components"]["schemas"])


def test_success_bodies_are_documented_without_a_field_at_import() -> None:
    reference = _as_models(errors=False)
    as_is = _as_models(errors=False, response_models=False)
    # what /openapi.json sends, key order included, is what `response_model=` on these routes gave
    assert as_is["served"] == reference["served"]
    assert TestClient(make_app(docs=True)).get("/openapi.json").text == reference["served"]
    # with `response_model=` FastAPI built a field for each documented route when it was declared; now only the
    # routes that return a model have one (FastAPI validates and serializes the returned value with it)
    documented, with_field = as_is["documented"], as_is["success"]
    assert len(documented) >= 15 and set(documented).isdisjoint(with_field)
    assert sorted(documented + with_field) == reference["success"]
    for route in make_app(docs=True).routes:
        if isinstance(route, APIRoute) and route.endpoint in error_docs._DOCUMENTED:
            # FastAPI passes a returned Response on as it is: the field would validate nothing
            assert route.endpoint.__annotations__["return"] == "Response", route.path
            assert route.response_field is not None  # given when the document was generated (above)


def test_no_field_is_built_for_the_error_bodies() -> None:
    app = make_app(docs=True)
    routes = [r for r in app.routes if isinstance(r, APIRoute)]
    assert len(routes) >= 30
    assert all(not r.response_fields for r in routes), [r.path for r in routes if r.response_fields]


def test_schemas_are_added_once_and_not_over_fastapis(monkeypatch: pytest.MonkeyPatch) -> None:
    class Probe(BaseModel):
        detail: ErrorDetail

    monkeypatch.setattr(error_docs, "_REFERENCED", {})  # the app's own registrations stay as they are
    responses = error_docs.ref_responses(Probe, {400: "bad"}, media_type="text/plain")
    assert responses == {400: {"description": "bad", "content": {"text/plain": {"schema": {"$ref": REF + "Probe"}}}}}
    error_docs.ref_responses(ErrorBody, {500: "ours"})
    document: dict[str, Any] = {"components": {"schemas": {"ErrorBody": {"title": "written by FastAPI"}}}}
    error_docs.add_schemas(document)
    schemas = document["components"]["schemas"]
    assert schemas["ErrorBody"] == {"title": "written by FastAPI"}
    assert schemas["Probe"]["properties"]["detail"] == {"$ref": REF + "ErrorDetail"}
    assert list(schemas) == ["ErrorBody", "ErrorDetail", "Probe"]
    assert error_docs.add_schemas(json.loads(json.dumps(document))) == document
