"""handler/serve.py, the server image's entry point: its settings come from the environment, bad values stop it
with a one-line message, and requirements/server.txt pins what the image adds."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from handler import serve

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    calls: dict[str, Any] = {}

    def fake_run(app: str, **kwargs: Any) -> None:
        calls["app"] = app
        calls.update(kwargs)

    monkeypatch.setattr(serve.uvicorn, "run", fake_run)
    for name in ("PORT", "EDGE_SERVER_WORKERS", "EDGE_SERVER_SHUTDOWN_GRACE_S", "EDGE_SERVER_HOST"):
        monkeypatch.delenv(name, raising=False)
    return calls


def test_defaults_fit_cloud_run(captured: dict[str, Any]) -> None:
    assert serve.main() == 0
    assert captured["app"] == "handler.app:app"
    assert (captured["host"], captured["port"], captured["workers"]) == ("0.0.0.0", 8080, 1)
    assert captured["timeout_graceful_shutdown"] == 20


def test_environment_overrides(captured: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9000")
    monkeypatch.setenv("EDGE_SERVER_WORKERS", "2")
    monkeypatch.setenv("EDGE_SERVER_SHUTDOWN_GRACE_S", "5")
    serve.main()
    assert (captured["port"], captured["workers"], captured["timeout_graceful_shutdown"]) == (9000, 2, 5)


@pytest.mark.parametrize(("name", "value"), [("PORT", "http"), ("PORT", "0"), ("EDGE_SERVER_WORKERS", "0")])
def test_bad_values_stop_with_a_message(
    captured: dict[str, Any], monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit, match=name):
        serve.main()
    assert not captured  # the server never started


def test_server_requirements_are_pinned_and_match_the_dev_venv() -> None:
    import uvicorn

    pins = {}
    for line in (REPO / "requirements" / "server.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.\-+]+)", line)
            assert match, line
            pins[match.group(1).lower()] = match.group(2)
    assert pins["uvicorn"] == uvicorn.__version__  # what the tests run is what the image ships
    assert not {"uvloop", "httptools", "torch"} & set(pins)
