"""The model-family registry: manifests are validated, loaded and described through it, by family."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from helpers.toy_bundles import make_toy_embed_bundle, make_toy_rerank_bundle
from helpers.toy_handler import make_app, shared_models

from edge_encoders import BundleError, Embedder, Reranker
from edge_encoders.families import EMBED, FAMILIES, RERANK, family, family_names
from edge_encoders.manifest import read_manifest
from handler import settings as settings_module
from handler.errors import ApiError
from handler.loaded_models import Models
from handler.settings import Settings, SettingsError


def test_each_family_is_found_by_its_manifest_kind() -> None:
    assert family_names() == ("embed", "rerank")
    assert [family(name) for name in family_names()] == list(FAMILIES)
    assert (EMBED.model, RERANK.model) == (Embedder, Reranker)
    assert all(f.model.kind == f.name for f in FAMILIES)  # the class checks bundles against its family's name


@pytest.mark.parametrize("name", ["sparse", "", "Embed", None, 3])
def test_an_unknown_family_is_a_bundle_error_naming_the_known_ones(name: object) -> None:
    with pytest.raises(BundleError, match=r"kind must be 'embed' or 'rerank', got"):
        family(name, where="x/manifest.json")


def _rewrite(folder: Path, **changes: object) -> None:
    path = folder / "manifest.json"
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("make", "changes", "message"),
    [
        (make_toy_embed_bundle, {"kind": "sparse"}, "kind must be 'embed' or 'rerank', got 'sparse'"),
        (make_toy_embed_bundle, {"pooling": "max"}, "pooling must be one of"),
        (make_toy_embed_bundle, {"dimension": 0}, "embed bundles need a positive dimension"),
        (make_toy_rerank_bundle, {"activation": "softmax"}, "activation must be one of"),
        # a field of the other family is not checked: a rerank bundle needs no pooling
        (make_toy_rerank_bundle, {"pooling": None, "dimension": None}, None),
    ],
)
def test_each_family_checks_its_own_manifest_fields(
    make: Callable[[Path], tuple[Any, ...]], changes: dict[str, object], message: str | None, tmp_path: Path
) -> None:
    folder = make(tmp_path / "b")[0]
    _rewrite(folder, **changes)
    if message is None:
        assert read_manifest(folder).kind == "rerank"
    else:
        with pytest.raises(BundleError, match=message):
            read_manifest(folder)


def test_models_are_kept_and_required_by_family() -> None:
    embedder = shared_models().embedder
    models = Models(embedder=embedder, disabled={"rerank"})
    assert models.get(EMBED) is embedder and models.require(EMBED) is embedder
    assert models.get(RERANK) is None
    assert models.status() == {"embed": "ready", "rerank": "disabled"}
    with pytest.raises(ApiError, match="this deployment serves no reranking model"):
        models.require(RERANK)


def test_info_shows_each_familys_own_fields() -> None:
    info = TestClient(make_app()).get("/native/info").json()["models"]
    assert list(info) == ["embed", "rerank"]
    assert info["embed"]["pooling"] and info["embed"]["dimension"] and info["embed"]["activation"] is None
    assert info["rerank"]["activation"] and info["rerank"]["pooling"] is None and info["rerank"]["normalize"] is None


def test_settings_are_looked_up_per_family_and_an_unknown_family_is_named() -> None:
    s = dataclasses.replace(Settings(), rerank_bundle="off", embed_model_aliases="a,b")
    assert s.bundle_path("rerank") is None and s.model_aliases("embed") == ("a", "b")
    with pytest.raises(SettingsError, match="no EDGE_SPARSE_BUNDLE setting: 'sparse' is not a model family"):
        s.bundle_path("sparse")


def test_a_registered_family_without_its_settings_is_refused_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings_module, "family_names", lambda: ("embed", "rerank", "sparse"))
    with pytest.raises(SettingsError, match="no EDGE_SPARSE_BUNDLE setting"):
        Settings.from_env({})
