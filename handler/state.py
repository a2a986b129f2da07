"""What one app instance holds for its whole life: settings, models, the API key, the access log."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from handler.admission import Admission
from handler.auth import ApiKey
from handler.errors import ApiError
from handler.loaded_models import Models
from handler.observability import AccessLog, RequestFacts
from handler.settings import Settings


@dataclass
class AppState:
    settings: Settings
    models: Models
    api_key: ApiKey
    access_log: AccessLog
    config_error: str | None = None  # EDGE_* settings that could not be parsed: every route answers 503
    admission: Admission = field(init=False)
    _cold: bool = field(default=True, repr=False)
    _cold_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.admission = Admission(self.settings.max_concurrency, self.settings.max_queue)

    def claim_cold_start(self) -> bool:
        """True for the first request this process serves (what a Lambda cold start is), then False."""
        with self._cold_lock:
            cold, self._cold = self._cold, False
            return cold

    def require_config(self) -> None:
        if self.config_error is not None:
            raise ApiError(503, "bad_configuration", f"the server is misconfigured: {self.config_error}")


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.edge
    return state


async def get_facts(request: Request) -> RequestFacts:
    """The facts record the middleware put in the scope (a throwaway one if the middleware is absent)."""
    facts = request.scope.get("edge.facts")
    if isinstance(facts, RequestFacts):
        return facts
    return RequestFacts(request_id="", method=request.method, path=request.url.path)


StateDep = Annotated[AppState, Depends(get_state)]
FactsDep = Annotated[RequestFacts, Depends(get_facts)]
