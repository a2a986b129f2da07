"""GET|HEAD /health (cheap: process up, models loaded) and GET /native/info (what is served, how it was
validated; TEI's /info is in routes_tei).

Neither shows paths, library error text or the serving stack's versions (those go to the init log line).
"""

from __future__ import annotations

from fastapi import APIRouter

import edge_encoders
from edge_encoders import Manifest
from handler import redact
from handler.errors import ApiError, error_responses
from handler.schemas import HealthResponse, InfoResponse, ModelInfo
from handler.state import StateDep

router = APIRouter(tags=["service"])


@router.head("/health", include_in_schema=False)
@router.get("/health", response_model=HealthResponse, responses=error_responses(500, 503))
async def health(state: StateDep) -> HealthResponse:
    """200 when every configured model is loaded (and the API key, if any, was read); 503 otherwise."""
    status = state.models.status()
    if state.models.errors:  # which model, never why: the cause (paths, library text) is in the log
        failed = ", ".join(sorted(state.models.errors))
        raise ApiError(503, "model_not_loaded", f"not ready: {failed} failed to load; see the server log")
    if state.api_key.error is not None:
        raise ApiError(503, "auth_unavailable", "not ready: the API key could not be loaded; see the server log")
    return HealthResponse(models=status)


@router.get("/native/info", response_model=InfoResponse, responses=error_responses(401, 403, 500, 503))
async def info(state: StateDep) -> InfoResponse:
    """Each loaded bundle's manifest summary, the limits, and the versions serving them."""
    models: dict[str, ModelInfo] = {}
    if state.models.embedder is not None:
        e = state.models.embedder
        models["embed"] = _model_info(e.manifest, e.variant, e.load_seconds)
    if state.models.reranker is not None:
        r = state.models.reranker
        models["rerank"] = _model_info(r.manifest, r.variant, r.load_seconds)
    return InfoResponse(
        service="edge-encoders",
        version=edge_encoders.__version__,
        models=models,
        unavailable={**state.models.errors, **{k: "disabled" for k in state.models.disabled}},
        limits=state.settings.public(),
        versions={},  # the serving stack's versions are logged at init, not shown to clients
        init_seconds=round(state.models.init_seconds, 4),
    )


def _model_info(manifest: Manifest, variant: str, load_seconds: float) -> ModelInfo:
    return ModelInfo(
        name=manifest.name,
        kind=manifest.kind,
        variant=variant,
        max_seq_length=manifest.max_seq_length,
        dimension=manifest.dimension,
        pooling=manifest.pooling,
        normalize=manifest.normalize if manifest.kind == "embed" else None,
        prompts=dict(manifest.prompts),
        activation=manifest.activation,
        source=redact.public(dict(manifest.source)),
        validation=redact.public(dict(manifest.validation)),
        build_key=manifest.build_key,
        created_at=manifest.created_at,
        load_seconds=round(load_seconds, 4),
    )
