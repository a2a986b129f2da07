"""handler.gc_pause: the collector is off inside a paused section and on again after it, also when the section
fails (an INIT that raises must not leave a process without cyclic collection); what a successful section
leaves alive is frozen. The entry points' own use is checked in a fresh interpreter (tests/unit/
test_lambda_main.py); here the pieces and their failure paths."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from handler import app as app_module
from handler import gc_pause

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    was_enabled = gc.isenabled()
    yield
    if was_enabled:
        gc.enable()
    else:
        gc.disable()


def test_paused_turns_collection_off_inside_and_freezes_after() -> None:
    gc.enable()
    frozen = gc.get_freeze_count()
    with gc_pause.paused():
        assert not gc.isenabled()
        kept = [[index] for index in range(100)]  # tracked containers alive at the end of the section
    assert gc.isenabled()
    assert gc.get_freeze_count() >= frozen + len(kept)


def test_an_exception_inside_turns_collection_back_on_and_freezes_nothing() -> None:
    gc.enable()
    frozen = gc.get_freeze_count()
    with pytest.raises(RuntimeError, match="build failed"), gc_pause.paused():
        _ = [[index] for index in range(100)]
        raise RuntimeError("build failed")
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen


def test_collection_that_was_off_stays_off_and_nesting_keeps_it_off() -> None:
    gc.enable()
    with gc_pause.paused():
        with gc_pause.paused():
            pass
        assert not gc.isenabled()  # the inner section ended inside the outer one
    assert gc.isenabled()
    gc.disable()
    with gc_pause.paused():
        pass
    assert not gc.isenabled()


def test_a_failing_app_build_turns_collection_back_on(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_app(*_: Any, **__: Any) -> None:
        raise RuntimeError("bundle cannot be loaded")

    gc.enable()
    monkeypatch.setattr(app_module, "_default", {})
    monkeypatch.setattr(app_module, "create_app", broken_app)
    with pytest.raises(RuntimeError, match="bundle cannot be loaded"):
        app_module._build_default()
    assert gc.isenabled()
    assert app_module._default == {}  # nothing half-built is kept: the next access tries again


def test_a_failing_import_in_the_lambda_entry_point_turns_collection_back_on() -> None:
    probe = (
        "import gc, sys\n"
        "sys.modules['handler.app'] = None  # the app cannot be imported\n"
        "try:\n"
        "    import handler.lambda_main\n"
        "except ImportError:\n"
        "    print('enabled' if gc.isenabled() else 'disabled', gc.get_freeze_count())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_")}
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["enabled", "0"], proc.stdout
