"""The build's speed figure (which decides the shipped variant) is CPU time, so a busy box cannot reorder it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge_build.families.base import speed_session
from edge_build.validation import ValidationSet, measure_speed


def _burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


class _TimedFamily:
    """Two fake variants: one waits (wall time, no CPU, as when the box is busy), one computes."""

    def speed_run(self, bundle: Path, vset: ValidationSet, limit: int) -> tuple[Callable[[], object], int]:
        if bundle.name == "waits":
            return (lambda: time.sleep(0.06)), 10
        return (lambda: _burn(0.02)), 10


def test_speed_counts_cpu_time_not_waiting() -> None:
    family: Any = _TimedFamily()
    speeds = measure_speed(family, {"waits": Path("waits"), "computes": Path("computes")}, ValidationSet([], [], []))
    # By the wall clock "waits" takes 3x longer; by CPU it costs almost nothing, so it must rank first.
    assert speeds["waits"] > 3 * speeds["computes"]
    assert 100 < speeds["computes"] < 1000  # 10 inputs per ~0.02 CPU-s


def test_speed_session_is_one_quiet_thread() -> None:
    config = speed_session()
    assert config.intra_op_threads == 1
    assert config.allow_spinning is False
