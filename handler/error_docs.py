"""Error responses in the OpenAPI document by `$ref`, the error models' schemas added to it once.

Why not FastAPI's `responses={status: {"model": ErrorBody}}`: FastAPI builds a pydantic field for every route
and status given a model when the route is declared, i.e. when the route modules are imported, at every Lambda
cold start: 156 of the 192 fields the app built, for bodies that are only documented (handler.errors writes
them; nothing validates against these fields). Here each entry carries the reference FastAPI would have
written, and `install` adds the referenced schemas to the document when it is first generated: the same
document (tests/unit/test_error_docs.py compares it with what the `model` form gives).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

REF_PREFIX = "#/components/schemas/"
JSON = "application/json"

# Models referenced so far, by schema name (the routes' modules register theirs when imported).
_REFERENCED: dict[str, type[BaseModel]] = {}


def ref_responses(
    model: type[BaseModel], descriptions: Mapping[int, str], *, media_type: str = JSON
) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries documenting `model` as the body of each status (media_type: the route's response
    class's, where FastAPI files a response model's schema)."""
    _REFERENCED[model.__name__] = model
    return {
        status: {"description": text, "content": {media_type: {"schema": {"$ref": REF_PREFIX + model.__name__}}}}
        for status, text in descriptions.items()
    }


def add_schemas(document: dict[str, Any]) -> dict[str, Any]:
    """The referenced models' schemas (and the models they use) in the document's components, sorted by name as
    FastAPI sorts them; one FastAPI already wrote (a model also used elsewhere) is left as it is."""
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    for name, model in _REFERENCED.items():
        if name in schemas:
            continue
        schema = model.model_json_schema(ref_template=REF_PREFIX + "{model}", mode="serialization")
        for inner, inner_schema in schema.pop("$defs", {}).items():
            schemas.setdefault(inner, inner_schema)
        schemas[name] = schema
    document["components"]["schemas"] = dict(sorted(schemas.items()))
    return document


def install(app: FastAPI) -> None:
    """Make app.openapi() add the referenced schemas to the document it generates (once; it is cached)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_schemas(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
