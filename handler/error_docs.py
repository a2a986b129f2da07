"""Response bodies in the OpenAPI document without a pydantic field built for them at import.

Error bodies by `$ref`, the error models' schemas added to the document once.

Why not FastAPI's `responses={status: {"model": ErrorBody}}`: FastAPI builds a pydantic field for every route
and status given a model when the route is declared, i.e. when the route modules are imported, at every Lambda
cold start: 156 of the 192 fields the app built, for bodies that are only documented (handler.errors writes
them; nothing validates against these fields). Here each entry carries the reference FastAPI would have
written, and `install` adds the referenced schemas to the document when it is first generated: the same
document (tests/unit/test_error_docs.py compares it with what the `model` form gives).

Success bodies of routes that return a `Response` (handler.calls.render) likewise: FastAPI sends a returned
`Response` as it is, so `response_model=` on such a route only documents the body, yet FastAPI builds its field
(a TypeAdapter) when the route is declared. `@documented(model)` under the route's decorator records the model
instead, and `install` gives those routes the field FastAPI would have built, named as FastAPI names it, when
the document is first generated: FastAPI then writes the same entries and schemas itself. A route that returns
a model keeps `response_model=`: FastAPI validates and serializes the returned value with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.utils import create_model_field
from pydantic import BaseModel

REF_PREFIX = "#/components/schemas/"
JSON = "application/json"

# Models referenced so far, by schema name (the routes' modules register theirs when imported).
_REFERENCED: dict[str, type[BaseModel]] = {}
# Each documented endpoint's response model (a model or a union of models), as `response_model=` would take it.
_DOCUMENTED: dict[Callable[..., Any], Any] = {}

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def documented(response_model: Any) -> Callable[[Endpoint], Endpoint]:
    """Put under `@router.post(...)` of an endpoint that returns a `Response`: its body is documented as
    `response_model=response_model` would document it, without the field built at import."""

    def record(endpoint: Endpoint) -> Endpoint:
        _DOCUMENTED[endpoint] = response_model
        return endpoint

    return record


def add_response_fields(app: FastAPI) -> None:
    """The response field FastAPI builds for `response_model=`, on each documented route that has none: read
    only by the OpenAPI generation (the request handler was built with the route and passes a `Response` on)."""
    for route in app.routes:
        if isinstance(route, APIRoute) and route.response_field is None and route.endpoint in _DOCUMENTED:
            route.response_model = _DOCUMENTED[route.endpoint]
            route.response_field = create_model_field(
                name="Response_" + route.unique_id, type_=route.response_model, mode="serialization"
            )


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
    """Make app.openapi() document the recorded success bodies and add the referenced schemas to the document
    it generates (once; it is cached)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            add_response_fields(app)
            app.openapi_schema = add_schemas(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
