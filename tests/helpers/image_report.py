"""Figures of the image tier (sizes, build and init times), for pytest's summary and artifacts/image.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parents[2] / "artifacts" / "image.json"
reported: dict[str, Any] = {}
skipped = ""


def report(**figures: Any) -> None:
    """Record figures; the file is rewritten each time so a crash still leaves what was measured."""
    reported.update(figures)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(reported, indent=2) + "\n", encoding="utf-8")


def skip_loudly(reason: str) -> str:
    global skipped
    skipped = reason
    return f"IMAGE TIER SKIPPED, the container engine cannot run here: {reason}"
