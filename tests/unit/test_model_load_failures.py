"""A bundle that does not load: clients get a 503 without paths, the operator one log line that names the
EDGE_* setting to fix and what it may hold (a bundle folder, or off)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from helpers.toy_handler import bundle_paths

from handler.loaded_models import load_models
from handler.settings import Settings


def _newer_format(tmp_path: Path) -> Path:
    """A copy of the toy embed bundle whose manifest says a later format version than this runtime reads."""
    bundle = Path(shutil.copytree(bundle_paths()[0], tmp_path / "newer"))
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["schema_version"] += 1
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    return bundle


@pytest.mark.parametrize(
    ("make", "cause"),
    [
        (lambda tmp: tmp / "missing", "does not exist"),
        (lambda tmp: tmp, "manifest.json is missing"),
        (lambda tmp: bundle_paths()[1], "is a 'rerank' bundle, expected 'embed'"),
        (_newer_format, "is not supported by this runtime"),
    ],
)
def test_the_log_line_names_the_setting_and_the_client_message_no_path(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, make: object, cause: str
) -> None:
    location = str(make(tmp_path))  # type: ignore[operator]
    with caplog.at_level(logging.ERROR, logger="handler"):
        models = load_models(Settings(embed_bundle=location, rerank_bundle="off", warmup=False))
    assert not models.loaded and models.disabled == {"rerank"}
    line = models.causes["embed"]
    assert line.startswith(f"cannot load the embedding model from EDGE_EMBED_BUNDLE={location}: ") and cause in line
    assert line.endswith("or EDGE_EMBED_BUNDLE=off to serve without it") and "\n" not in line
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [line]
    assert location not in models.errors["embed"]  # what clients see in the 503
