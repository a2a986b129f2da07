"""The image tier's harness is edge_devtools.image_harness (shared with `make test-image`); its figures are
printed in pytest's terminal summary, and a skip says loudly why the container engine cannot run here."""

from __future__ import annotations

from typing import Any

import pytest
from edge_devtools import image_harness as ih
from helpers import image_report
from helpers.image_report import report, skip_loudly

from edge_encoders import Embedder, Reranker

TAG = ih.LAMBDA_TAG  # `make image` under this checkout's own tag (edge-encoders:ARCH for users)


@pytest.fixture(scope="session")
def lambda_image() -> str:
    try:
        ih.ensure_tools()
        ih.ensure_engine_runs()
        base = ih.ensure_lambda_base()
        ih.podman_ok_to_run(ih.LAMBDA_BASE_TAG)
    except ih.EngineUnavailable as exc:
        pytest.skip(skip_loudly(str(exc)))
    report(lambda_base=base)
    seconds = ih.make_image(ih.ARCH, TAG)
    report(
        image=TAG,
        image_build_s=round(seconds, 1),
        image_mb=round(ih.image_size_mb(TAG), 1),
        base_mb=round(ih.image_size_mb(ih.LAMBDA_BASE_TAG), 1),
    )
    return TAG


@pytest.fixture(scope="session")
def reference() -> tuple[Embedder, Reranker]:
    return Embedder.from_bundle(ih.BUNDLES["embed"]), Reranker.from_bundle(ih.BUNDLES["rerank"])


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if image_report.skipped:
        terminalreporter.write_sep("!", "IMAGE TIER SKIPPED: the container engine cannot run here")
        terminalreporter.write_line(image_report.skipped)
    if image_report.reported:
        terminalreporter.write_sep("-", "container images under podman (also in artifacts/image.json)")
        for key, value in image_report.reported.items():
            terminalreporter.write_line(f"{key}: {value}")
