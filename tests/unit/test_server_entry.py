"""handler/serve.py as the server image's entry point: PORT and EDGE_SERVER_HOST give its defaults, the
shutdown grace period reaches uvicorn, bad values stop it with a one-line message, and
requirements/server.txt pins what the image adds."""

from __future__ import annotations

import gc
import re
from pathlib import Path
from typing import Any

import pytest

import handler.app as app_module
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
    # main() builds the process's app (models off here) before serving: a fresh one per test
    monkeypatch.setattr(app_module, "_default", {})
    monkeypatch.setenv("EDGE_EMBED_BUNDLE", "off")
    monkeypatch.setenv("EDGE_RERANK_BUNDLE", "off")
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


@pytest.mark.parametrize(
    ("name", "value"),
    [("PORT", "http"), ("PORT", "0"), ("PORT", "65536"), ("EDGE_SERVER_SHUTDOWN_GRACE_S", "-1")],
)
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
    real_import = serve.importlib.import_module

    def import_module(name: str) -> Any:
        seen[name] = gc.isenabled()
        return real_import(name)

    monkeypatch.setattr(serve.importlib, "import_module", import_module)
    gc.enable()
    serve.main([])
    assert seen == {"handler.app": False}
    assert gc.isenabled() and len(started) == 1


@pytest.mark.parametrize(
    ("name", "value", "line"),
    [
        ("EDGE_MAX_BATCH_SIZE", "abc", "EDGE_MAX_BATCH_SIZE must be an integer (unset: 64); got 'abc'"),
        ("EDGE_THREADS", "-2", "EDGE_THREADS must not be negative (0 or more); got -2"),
        ("EDGE_RUN_MODE", "fast", "EDGE_RUN_MODE must be one of auto, sequential, concurrent; got 'fast'"),
        ("EDGE_WARMUP", "maybe", "EDGE_WARMUP must be true or false; got 'maybe'"),
    ],
)
def test_a_bad_setting_stops_the_server_with_one_line(
    started: list[Any], monkeypatch: pytest.MonkeyPatch, name: str, value: str, line: str
) -> None:
    """A server that could only answer 503 bad_configuration does not start (the Lambda function still does)."""
    monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as stopped:
        serve.main([])
    assert str(stopped.value.code) == f"edge-encoders: bad configuration: {line}"
    assert not started and not app_module._default  # neither the server nor the app was built


def test_a_bundle_that_does_not_load_stops_the_server_naming_its_setting(
    started: list[Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from helpers.toy_handler import bundle_paths

    monkeypatch.setenv("EDGE_EMBED_BUNDLE", str(tmp_path / "missing"))
    monkeypatch.setenv("EDGE_RERANK_BUNDLE", str(bundle_paths()[0]))  # an embed bundle given as the reranker
    with pytest.raises(SystemExit) as stopped:
        serve.main([])
    message = str(stopped.value.code)
    assert message.startswith("edge-encoders: not starting: ") and "\n" not in message
    assert f"EDGE_EMBED_BUNDLE={tmp_path / 'missing'}: bundle folder {tmp_path / 'missing'} does not exist" in message
    assert "is a 'embed' bundle, expected 'rerank'" in message and "EDGE_RERANK_BUNDLE=off" in message
    assert not started


def test_a_bundle_that_loads_starts_the_server(started: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers.toy_handler import bundle_paths

    monkeypatch.setenv("EDGE_EMBED_BUNDLE", str(bundle_paths()[0]))
    serve.main([])
    assert len(started) == 1 and set(app_module._default["app"].state.edge.models.loaded) == {"embed"}


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_a_port_out_of_range_is_refused_by_the_option_parser(
    started: list[Any], capsys: pytest.CaptureFixture[str], port: str
) -> None:
    """Was an OverflowError traceback from bind() once uvicorn started."""
    with pytest.raises(SystemExit) as stopped:
        serve.main(["--port", port])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and "argument --port: must be" in err and "65535" in err
    assert not started
