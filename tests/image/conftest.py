"""The image tier's harness lives in scripts/image_harness.py (shared with `make test-image`); its figures are
printed in pytest's terminal summary, and a skip says loudly why the container engine cannot run here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import image_report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if image_report.skipped:
        terminalreporter.write_sep("!", "IMAGE TIER SKIPPED: the container engine cannot run here")
        terminalreporter.write_line(image_report.skipped)
    if image_report.reported:
        terminalreporter.write_sep("-", "container images under podman (also in artifacts/image.json)")
        for key, value in image_report.reported.items():
            terminalreporter.write_line(f"{key}: {value}")
