"""Shared by the handler's unit and contract tests: bundle paths, one loaded model set, apps, Lambda events.

The bundle paths come from ONE place: EDGE_TEST_EMBED_BUNDLE / EDGE_TEST_RERANK_BUNDLE, defaulting to
artifacts/embed and artifacts/rerank, which `make test` exports before pytest runs. A missing bundle fails
the test with instructions rather than skipping it: CI must not go green without the handler tested.
Handler unit tests use helpers.toy_handler instead (toy bundles, no export needed).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from handler.loaded_models import Models
from handler.settings import Settings
from helpers.app_factory import app_for, models_for, settings_for

REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "tests" / "events"


def bundle_paths() -> tuple[Path, Path]:
    """(embed, rerank) bundle folders for handler tests; fails clearly when one is missing."""
    paths = []
    for env, default in (
        ("EDGE_TEST_EMBED_BUNDLE", "artifacts/embed"),
        ("EDGE_TEST_RERANK_BUNDLE", "artifacts/rerank"),
    ):
        path = Path(os.environ.get(env) or default)
        path = path if path.is_absolute() else REPO / path
        if not (path / "manifest.json").is_file():
            pytest.fail(
                f"no bundle at {path}: run `make export` (which `make test` does first), or point {env} at a "
                "bundle folder (e.g. artifacts/dev/embed while developing)",
                pytrace=False,
            )
        paths.append(path)
    return paths[0], paths[1]


def settings(**overrides: Any) -> Settings:
    """Test settings over the exported bundles."""
    return settings_for(bundle_paths(), **overrides)


def shared_models() -> Models:
    """Both exported models, loaded once per pytest process."""
    return models_for(bundle_paths())


def make_app(*, models: Models | None = None, sink: Callable[[str], None] | None = None, **overrides: Any) -> FastAPI:
    """An app over the exported bundles' shared models (unless given others) with settings overrides."""
    return app_for(bundle_paths(), models=models, sink=sink, **overrides)


class FakeLambdaContext:
    """The attributes Mangum and our middleware read from the real Lambda context object."""

    def __init__(self, request_id: str = "c0ffee00-0000-4000-8000-000000000001") -> None:
        self.aws_request_id = request_id
        self.function_name = "edge-encoders"
        self.function_version = "$LATEST"
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:edge-encoders"
        self.memory_limit_in_mb = 2048
        self.log_group_name = "/aws/lambda/edge-encoders"
        self.log_stream_name = "2026/11/27/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event
