"""Fixtures every tier shares. Helpers are plain modules in tests/helpers (`from helpers.x import y`); what
several test files need as a fixture lives here, so no tier copies it. Imports are inside the fixtures: the
tiers that never use them (image, parity) load nothing extra."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's real HTTP S3 server on a free loopback port, one per test module."""
    from helpers.moto_s3 import moto_endpoint

    with moto_endpoint() as url:
        yield url


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[Any]:
    """An empty bucket named by the test module's BUCKET, with boto3 pointed at it through the environment
    (as a deployment with a custom endpoint is); yields the client, then empties and drops the bucket."""
    from helpers.moto_s3 import s3_bucket

    yield from s3_bucket(s3_endpoint, monkeypatch, request.module.BUCKET)


@pytest.fixture(scope="module")
def logs() -> list[str]:
    """Where an app built with `sink=logs.append` writes its log lines (access log, errors), per module."""
    return []


@pytest.fixture(scope="session")
def toy_embed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    """A toy embed bundle (default size) and its word and type tables; tests only read it."""
    from helpers.toy_bundles import make_toy_embed_bundle

    return make_toy_embed_bundle(tmp_path_factory.mktemp("toy-embed") / "bundle")


@pytest.fixture(scope="session")
def toy_rerank(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray, np.ndarray]:
    """A toy rerank bundle (default size), its word and type tables and its head; tests only read it."""
    from helpers.toy_bundles import make_toy_rerank_bundle

    return make_toy_rerank_bundle(tmp_path_factory.mktemp("toy-rerank") / "bundle")
