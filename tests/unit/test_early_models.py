"""handler.early_models: the bundles load in a background thread, and what it loaded (or raised) is handed to
the caller exactly as a load in the caller's own thread would have returned (or raised) it."""

from __future__ import annotations

import threading

import pytest

from handler import early_models
from handler.early_models import EarlyModels
from handler.loaded_models import Models
from handler.settings import Settings
from helpers.toy_handler import bundle_paths


def test_the_load_runs_in_another_thread_while_the_caller_goes_on() -> None:
    release = threading.Event()
    ran_in: list[str] = []
    loaded = (Settings(), Models())

    def load() -> tuple[Settings, Models]:
        ran_in.append(threading.current_thread().name)
        assert release.wait(10)  # holds the load until the caller has moved on
        return loaded

    early = EarlyModels(load)  # returns at once, with the load still blocked
    release.set()
    assert early.result() is loaded
    assert ran_in == ["edge-early-models"]
    assert early.load_ms > 0 and early.wait_ms >= 0


def test_an_error_in_the_load_is_raised_by_result_unchanged() -> None:
    error = RuntimeError("onnxruntime could not allocate the arena")

    def load() -> None:
        raise error

    early = EarlyModels(load)
    with pytest.raises(RuntimeError) as caught:
        early.result()
    assert caught.value is error


def test_load_from_env_loads_what_create_app_would(monkeypatch: pytest.MonkeyPatch) -> None:
    embed, rerank = bundle_paths()
    monkeypatch.setenv("EDGE_EMBED_BUNDLE", str(embed))
    monkeypatch.setenv("EDGE_RERANK_BUNDLE", str(rerank))
    monkeypatch.setenv("EDGE_MAX_CONCURRENCY", "3")
    loaded = EarlyModels(early_models.load_from_env).result()
    assert loaded is not None
    settings, models = loaded
    assert settings == Settings.from_env()
    assert sorted(models.loaded) == ["embed", "rerank"] and not models.errors
    assert models.max_concurrency == 3 and models.init_seconds > 0


def test_load_from_env_leaves_a_configuration_error_to_create_app(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_MAX_BATCH_SIZE", "0")
    assert EarlyModels(early_models.load_from_env).result() is None
