"""GET /ready: readiness for a load balancer or Kubernetes, unlike /health (liveness).

503 while a model is not loaded or while the admission queue is full, so a balancer stops sending work to a
saturated process; /health keeps answering 200 then (the process is alive). Neither says why beyond a code:
open routes reveal no paths or library errors.
"""

from __future__ import annotations

from fastapi import APIRouter

from handler import overrides
from handler.errors import ApiError, error_responses
from handler.schemas import HealthResponse
from handler.state import StateDep

router = APIRouter(tags=["service"], dependency_overrides_provider=overrides.PROVIDER)


@router.get("/ready", response_model=HealthResponse, responses=error_responses(503))
async def ready(state: StateDep) -> HealthResponse:
    """200 when every configured model is loaded and the queue has room; 503 otherwise."""
    status = state.models.status()
    if state.models.errors:
        failed = ", ".join(sorted(state.models.errors))
        raise ApiError(503, "model_not_loaded", f"not ready: {failed} failed to load; see the server log")
    if state.api_key.error is not None:
        raise ApiError(503, "auth_unavailable", "not ready: the API key could not be loaded; see the server log")
    if state.admission.full:
        raise ApiError(
            503,
            "overloaded",
            "not ready: the request queue is full",
            headers={"retry-after": str(state.settings.retry_after_s)},
        )
    return HealthResponse(models=status)
