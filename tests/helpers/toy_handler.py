"""Handler unit tests over toy bundles built in the test run: no `make export` needed, milliseconds to load.

Same names as helpers.handler_support (bundle_paths, settings, shared_models, make_app), so a handler test picks
its tier by its import line. The toy embedder is wide enough (128) for matryoshka `dimensions` up to 128.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from handler.loaded_models import Models
from handler.settings import Settings
from helpers.app_factory import app_for, models_for, settings_for
from helpers.toy_bundles import make_toy_embed_bundle, make_toy_rerank_bundle

TOY_EMBED_WIDTH = 128


@lru_cache(maxsize=1)
def bundle_paths() -> tuple[Path, Path]:
    """(embed, rerank) toy bundle folders, built once per pytest process and removed at exit."""
    root = Path(tempfile.mkdtemp(prefix="edge-toy-bundles-"))
    atexit.register(shutil.rmtree, root, True)
    embed, _, _ = make_toy_embed_bundle(root / "embed", hidden=TOY_EMBED_WIDTH, max_seq_length=64)
    rerank, _, _, _ = make_toy_rerank_bundle(root / "rerank", max_seq_length=64)
    return embed, rerank


def settings(**overrides: Any) -> Settings:
    return settings_for(bundle_paths(), **overrides)


def shared_models() -> Models:
    return models_for(bundle_paths())


def make_app(*, models: Models | None = None, sink: Callable[[str], None] | None = None, **overrides: Any) -> FastAPI:
    return app_for(bundle_paths(), models=models, sink=sink, **overrides)
