"""handler/serve.py as the server image's entry point: PORT and EDGE_SERVER_HOST give its defaults, the
shutdown grace period reaches uvicorn, bad values stop it with a one-line message, and
requirements/server.txt pins what the image adds."""

from __future__ import annotations

import gc
import re
from pathlib import Path
from typing import Any

import pytest

from handler import serve
from handler.settings import Settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The uvicorn.Config each main() call would serve, instead of serving it."""
    configs: list[Any] = []

    class FakeServer:
        def __init__(self, config: Any) -> None:
            configs.append(config)

        def run(self) -> None:
            pass

    monkeypatch.setattr(serve.uvicorn, "Server", FakeServer)
    monkeypatch.setattr(serve.memory, "limit_arenas", lambda arenas: None)
    for name in ("PORT", "EDGE_SERVER_HOST", "EDGE_SERVER_SHUTDOWN_GRACE_S"):
        monkeypatch.delenv(name, raising=False)
    return configs


def test_defaults_stay_local(started: list[Any]) -> None:
    serve.main([])
    (config,) = started
    assert (config.host, config.port) == ("127.0.0.1", 8080)
    assert config.timeout_graceful_shutdown == serve.DEFAULT_SHUTDOWN_GRACE_S


def test_the_image_environment_sets_host_port_and_grace(started: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9000")
    monkeypatch.setenv("EDGE_SERVER_HOST", "0.0.0.0")
    monkeypatch.setenv("EDGE_SERVER_SHUTDOWN_GRACE_S", "5")
    serve.main([])
    (config,) = started
    assert (config.host, config.port, config.timeout_graceful_shutdown) == ("0.0.0.0", 9000, 5)
    serve.main(["--port", "9100"])  # an explicit option still wins
    assert started[1].port == 9100


@pytest.mark.parametrize(("name", "value"), [("PORT", "http"), ("PORT", "0"), ("EDGE_SERVER_SHUTDOWN_GRACE_S", "-1")])
def test_bad_values_stop_with_a_message(
    started: list[Any], monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit, match=name):
        serve.main([])
    assert not started  # the server never started


def test_config_keeps_the_hardening() -> None:
    config = serve.config("0.0.0.0", 8080, Settings())
    assert config.server_header is False and config.access_log is False


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


def test_the_app_is_imported_with_the_collector_paused(started: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """main() imports handler.app before uvicorn does, with the cyclic collector paused (handler.gc_pause), and
    the collector is on again when the server runs."""
    seen: dict[str, bool] = {}

    def import_module(name: str) -> None:
        seen[name] = gc.isenabled()

    monkeypatch.setattr(serve.importlib, "import_module", import_module)
    gc.enable()
    serve.main([])
    assert seen == {"handler.app": False}
    assert gc.isenabled() and len(started) == 1
