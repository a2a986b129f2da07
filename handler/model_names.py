"""Which `model` names a request may ask for: the served model's name plus configured aliases.

Clients of OpenAI, Cohere and Jina always send a model name. Answering `text-embedding-3-small` with this
server's MiniLM vectors would be a silent wrong answer (the vectors live in another space), so an unknown name
is a 404 `model_not_found` naming the models served, unless EDGE_ACCEPT_ANY_MODEL opts into taking any name.
A request without a model (TEI, the native routes) gets the served model.
"""

from __future__ import annotations

from typing import Any

from edge_encoders.families import Family
from handler.errors import ApiError
from handler.state import AppState


def served_names(state: AppState, family: Family[Any]) -> list[str]:
    """The names the loaded model of this family answers to, its own name first (empty if none is loaded)."""
    model = state.models.get(family)
    if model is None:
        return []
    names = [model.manifest.name]
    for alias in state.settings.model_aliases(family.name):
        if alias not in names:
            names.append(alias)
    return names


def check_model(state: AppState, family: Family[Any], requested: str | None) -> str:
    """The name to echo back in the response; raises 404 model_not_found for a name this server does not serve."""
    names = served_names(state, family)
    if not names:  # no model of this family: require() says why (disabled / not loaded)
        state.models.require(family)
        return requested or ""
    if requested in names:
        return str(requested)
    if not requested or state.settings.accept_any_model:
        return names[0]  # the name of what actually answered, never the unknown name asked for
    known = ", ".join(repr(n) for n in names)
    raise ApiError(
        404,
        "model_not_found",
        f"The model {requested!r} does not exist or you do not have access to it; this server's "
        f"{family.what} answers to {known} (more names: EDGE_{family.name.upper()}_MODEL_ALIASES)",
    )
