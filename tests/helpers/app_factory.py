"""Apps and loaded models over a given pair of bundle folders, for handler tests of every tier.

The unit tier passes toy bundles (helpers.toy_handler), the contract tier the exported ones
(helpers.handler_support); both get the same settings, one loaded model set per pair, and the same app factory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from handler.app import create_app
from handler.loaded_models import Models, load_models
from handler.settings import Settings

BundlePair = tuple[Path, Path]


def settings_for(bundles: BundlePair, **overrides: Any) -> Settings:
    """Test settings: the given bundles, EMF on (so the line is checked), everything else default."""
    embed, rerank = bundles
    base = Settings(embed_bundle=str(embed), rerank_bundle=str(rerank), metrics="emf")
    return dataclasses.replace(base, **overrides)


@lru_cache(maxsize=4)
def models_for(bundles: BundlePair) -> Models:
    """Both models of a pair, loaded once per pytest process and shared by every app that needs no own set."""
    models = load_models(settings_for(bundles))
    assert not models.errors, f"test bundles failed to load: {models.errors}"
    return models


def app_for(
    bundles: BundlePair,
    *,
    models: Models | None = None,
    sink: Callable[[str], None] | None = None,
    **overrides: Any,
) -> FastAPI:
    """An app over the pair's shared models (unless given others) with settings overrides."""
    return create_app(
        settings_for(bundles, **overrides), models=models or models_for(bundles), log_sink=sink or (lambda _: None)
    )
