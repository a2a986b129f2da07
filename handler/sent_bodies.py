"""The response bodies whose pydantic build waits for their first use (`SENT` in handler.schemas), built now.

Why: at a Lambda cold start no model is built that the INIT does not need: the first request builds the few its
route sends (a fraction of a millisecond each), and a Lambda process serves one request at a time. An ASGI
server (uvicorn runs the routes in a thread pool) builds them all at start-up instead, as before, when it asks
handler.app for `app`: pydantic before 2.14 does not lock a deferred model's build, and two first requests at
once could race on it.
"""

from __future__ import annotations

from types import ModuleType

from pydantic import BaseModel

from handler import errors, schemas, schemas_cohere, schemas_tei

MODULES: tuple[ModuleType, ...] = (schemas, schemas_tei, schemas_cohere, errors)


def deferred() -> list[type[BaseModel]]:
    """The models of MODULES not built yet."""
    return [
        obj
        for module in MODULES
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, BaseModel)
        and obj.__module__ == module.__name__
        and not obj.__pydantic_complete__
    ]


def build() -> int:
    """Build every deferred model of MODULES; returns how many were built."""
    models = deferred()
    for model in models:
        model.model_rebuild()
    return len(models)
