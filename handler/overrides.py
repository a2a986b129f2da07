"""`app.dependency_overrides` for routes that are shared by every app built in a process.

The route modules build their routes once, at import, and every app serves those same route objects
(handler.app.add_routes), so a route cannot point at one app's overrides. FastAPI asks a route's
`dependency_overrides_provider` for the overrides on every request: this provider answers with those of the
app serving the current request, which the request middleware records. Tests (ours and users') can then
override `get_state`, `get_facts` or any other dependency on the app they built, as FastAPI documents.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any

_serving_app: ContextVar[Any] = ContextVar("edge_serving_app", default=None)


class ServingAppOverrides:
    """A dependency_overrides_provider that reads the overrides of the app serving the current request."""

    @property
    def dependency_overrides(self) -> dict[Callable[..., Any], Callable[..., Any]]:
        overrides = getattr(_serving_app.get(), "dependency_overrides", None)
        return overrides if isinstance(overrides, dict) else {}


PROVIDER = ServingAppOverrides()


def enter(app: Any) -> Token[Any]:
    """Record the app serving this request (the ASGI scope's "app"); reset with the token afterwards."""
    return _serving_app.set(app)


def leave(token: Token[Any]) -> None:
    _serving_app.reset(token)
