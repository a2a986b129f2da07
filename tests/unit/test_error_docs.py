"""Error responses documented by reference (handler.error_docs): the OpenAPI document is the one FastAPI writes
from `responses={status: {"model": ...}}`, and FastAPI builds no pydantic field for those bodies at import.

The `model` form is produced in a fresh interpreter, where ref_responses is replaced before the route modules
are imported (they call it when imported); the document is then compared with this process's.
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

error_docs.ref_responses = as_models
from handler.app import create_app
from handler.settings import Settings

app = create_app(Settings.from_env())
fields = sum(len(r.response_fields) for r in app.routes if hasattr(r, "response_fields"))
print("DOC" + json.dumps({"fields": fields, "openapi": app.openapi()}))
"""


def _as_models() -> dict[str, Any]:
    embed, rerank = bundle_paths()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("EDGE_")},
        "EDGE_EMBED_BUNDLE": str(embed),
        "EDGE_RERANK_BUNDLE": str(rerank),
    }
    proc = subprocess.run(
        [sys.executable, "-c", AS_MODELS], cwd=REPO, env=env, capture_output=True, text=True, timeout=180, check=False
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
