"""GET|HEAD /health (cheap: process up, models loaded) and GET /native/info (what is served, how it was
validated; TEI's /info is in routes_tei).

Neither shows paths, library error text or the serving stack's versions (those go to the init log line).
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import APIRouter

import edge_encoders
from edge_encoders.bundle_model import BundleModel
from edge_encoders.families import FAMILIES, Family
from handler import overrides, redact
from handler.errors import ApiError, error_responses
from handler.schemas import HealthResponse, InfoResponse, ModelInfo
from handler.state import StateDep

router = APIRouter(tags=["service"], dependency_overrides_provider=overrides.PROVIDER)


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
    for family in FAMILIES:
        model = state.models.get(family)
        if model is not None:
            models[family.name] = _model_info(family, model)
    return InfoResponse(
        service="edge-encoders",
        version=edge_encoders.__version__,
        models=models,
        unavailable={**state.models.errors, **{k: "disabled" for k in state.models.disabled}},
        limits=state.settings.public(),
        versions={},  # the serving stack's versions are logged at init, not shown to clients
        init_seconds=round(state.models.init_seconds, 4),
    )


def _model_info(family: Family[Any], model: BundleModel) -> ModelInfo:
    """The manifest's common fields plus the ones its family shows (the other families' stay empty)."""
    manifest = model.manifest
    return ModelInfo(
        name=manifest.name,
        kind=manifest.kind,
        variant=model.variant,
        max_seq_length=manifest.max_seq_length,
        **{name: copy.copy(getattr(manifest, name)) for name in family.public_fields},
        source=redact.public(dict(manifest.source)),
        validation=redact.public(dict(manifest.validation)),
        build_key=manifest.build_key,
        created_at=manifest.created_at,
        load_seconds=round(model.load_seconds, 4),
    )
