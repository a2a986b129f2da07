"""Which `model` names a request may ask for: the served model's name plus configured aliases.

Clients of OpenAI, Cohere and Jina always send a model name. Answering `text-embedding-3-small` with this
server's MiniLM vectors would be a silent wrong answer (the vectors live in another space), so an unknown name
is a 404 `model_not_found` naming the models served, unless EDGE_ACCEPT_ANY_MODEL opts into taking any name.
A request without a model (TEI, the native routes) gets the served model.
"""

from __future__ import annotations

from handler.errors import ApiError
from handler.state import AppState

_WHAT = {"embed": "embedding", "rerank": "reranking"}


def served_names(state: AppState, kind: str) -> list[str]:
    """The names the loaded model of this kind answers to, its own name first (empty if none is loaded)."""
    model = state.models.embedder if kind == "embed" else state.models.reranker
    if model is None:
        return []
    names = [model.manifest.name]
    for alias in state.settings.model_aliases(kind):
        if alias not in names:
            names.append(alias)
    return names


def check_model(state: AppState, kind: str, requested: str | None) -> str:
    """The name to echo back in the response; raises 404 model_not_found for a name this server does not serve."""
    names = served_names(state, kind)
    if not names:  # no model of this kind: let the route's own require_* say why (disabled / not loaded)
        if kind == "embed":
            state.models.require_embedder()
        else:
            state.models.require_reranker()
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
        f"{_WHAT[kind]} model answers to {known} (more names: EDGE_{kind.upper()}_MODEL_ALIASES)",
    )
