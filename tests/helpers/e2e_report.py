"""Figures of the e2e run (init duration, task root size), for pytest's summary and artifacts/e2e.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parents[2] / "artifacts" / "e2e.json"  # keeps the tree clean
reported: dict[str, Any] = {}


def report(**figures: Any) -> None:
    """Record figures; artifacts/e2e.json is rewritten each time so a crash still leaves what was measured."""
    reported.update(figures)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(reported, indent=2) + "\n", encoding="utf-8")
