"""App life cycle: load failures become 503s with reasons, bad settings, 500s that leak nothing, S3 bundles."""

from __future__ import annotations

import logging
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from helpers.toy_handler import bundle_paths, make_app, settings, shared_models
from starlette.testclient import TestClient

import handler.app
from handler.app import create_app
from handler.loaded_models import Models, load_models


def code_of(response: Any) -> str:
    code: str = response.json()["error"]["code"]
    return code


def test_a_missing_bundle_gives_503_with_the_reason(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    missing = tmp_path / "no-such-bundle"
    _, rerank = bundle_paths()
    with caplog.at_level(logging.ERROR, logger="handler"):
        app = create_app(settings(embed_bundle=str(missing), rerank_bundle=str(rerank)), log_sink=lambda _: None)
    assert any(str(missing) in record.getMessage() for record in caplog.records)  # cause logged
    client = TestClient(app)
    r = client.post("/native/embed", json={"inputs": "x"})
    assert (r.status_code, code_of(r)) == (503, "model_not_loaded")
    message = r.json()["error"]["message"]
    assert str(tmp_path) not in message and "bad_bundle" in message and "server log" in message
    health = client.get("/health")
    assert health.status_code == 503 and "embed" in health.json()["error"]["message"]
    assert client.post("/native/rerank", json={"query": "q", "texts": ["a"]}).status_code == 200


def test_a_disabled_model_is_404_and_health_stays_green() -> None:
    models = Models(embedder=shared_models().embedder, disabled={"rerank"})
    client = TestClient(make_app(models=models))
    r = client.post("/v2/rerank", json={"query": "q", "documents": ["a"]})
    assert (r.status_code, code_of(r)) == (404, "model_disabled")
    assert client.get("/health").json()["models"] == {"embed": "ready", "rerank": "disabled"}
    assert client.post("/native/embed", json={"inputs": "x"}).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"), [("GET", "/health", None), ("POST", "/native/embed", {"inputs": "x"})]
)
def test_bad_settings_answer_503_everywhere(
    monkeypatch: pytest.MonkeyPatch, method: str, path: str, body: dict[str, str] | None
) -> None:
    monkeypatch.setenv("EDGE_MAX_INPUTS", "lots")
    r = TestClient(create_app(log_sink=lambda _: None)).request(method, path, json=body)
    assert (r.status_code, code_of(r)) == (503, "bad_configuration")
    assert "EDGE_MAX_INPUTS" in r.json()["error"]["message"]


class _Exploding:
    """A real embedder whose inference fails the way a bug would."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def embed_with_usage(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals /opt/private/path")


def test_unexpected_errors_are_500_logged_not_leaked(caplog: pytest.LogCaptureFixture) -> None:
    lines: list[str] = []
    models = Models(embedder=_Exploding(shared_models().embedder), reranker=shared_models().reranker)  # type: ignore[arg-type]
    client = TestClient(make_app(models=models, sink=lines.append), raise_server_exceptions=False)
    with caplog.at_level(logging.ERROR, logger="handler"):
        r = client.post("/native/embed", json={"inputs": "x"}, headers={"x-request-id": "trace-42"})
    assert (r.status_code, code_of(r)) == (500, "internal_error")
    assert "secret" not in r.text and "Traceback" not in r.text and "trace-42" in r.text
    assert any("trace-42" in rec.getMessage() and rec.exc_info for rec in caplog.records)
    assert '"status":500' in lines[-1] and '"error_code":"internal_error"' in lines[-1]


def test_s3_bundle_uri_fetches_each_bundle_into_the_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    embed, rerank = bundle_paths()
    calls: list[tuple[str, Path]] = []

    def fetch_bundle(uri: str, dest: Path) -> Path:
        calls.append((uri, dest))
        return embed if uri.endswith("/embed") else rerank

    fake = types.ModuleType("edge_encoders.aws.s3_bundles")
    fake.fetch_bundle = fetch_bundle  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "edge_encoders.aws.s3_bundles", fake)
    models = load_models(settings(bundle_s3_uri="s3://bucket/bundles/", bundle_cache_dir=str(tmp_path), warmup=False))
    assert calls == [
        ("s3://bucket/bundles/embed", tmp_path / "embed"),
        ("s3://bucket/bundles/rerank", tmp_path / "rerank"),
    ]
    assert not models.errors and models.embedder is not None and models.reranker is not None


def test_module_attributes_other_than_app_and_handler_do_not_exist() -> None:
    with pytest.raises(AttributeError):
        handler.app.__getattr__("nope")


def test_routes_on_the_app_serve_and_document_as_include_router_would() -> None:
    """create_app puts the routers' routes on the app itself (FastAPI would build each included route a second
    time at the first request): the same paths, methods, names, OpenAPI document and answers as include_router."""
    mine = make_app(docs=True)
    included = make_app(docs=True)
    routers = [module.router for module in handler.app.ROUTE_MODULES]
    ours = {id(route) for router in routers for route in router.routes}
    included.router.routes[:] = [r for r in included.router.routes if id(r) not in ours]
    for router in routers:
        included.include_router(router)

    def table(app: Any) -> list[tuple[str, list[str], str]]:
        routes = []  # an included router is one entry of app.routes: its own routes, in order
        for route in app.routes:
            routes += getattr(route, "original_router", route).routes if hasattr(route, "original_router") else [route]
        return [(r.path, sorted(getattr(r, "methods", None) or []), r.name) for r in routes]

    assert len(table(mine)) >= 30 and table(mine) == table(included)
    assert mine.openapi() == included.openapi()
    ours_client, theirs_client = TestClient(mine), TestClient(included)
    for method, path, body in (
        ("POST", "/native/embed", {"inputs": ["a", "b"]}),
        ("POST", "/v1/embeddings", {"input": "x", "model": "nope"}),
        ("POST", "/rerank", {"query": "q", "texts": ["a", "b"]}),
        ("POST", "/embed", {"inputs": 3}),
        ("GET", "/health", None),
        ("PUT", "/native/embed", None),
    ):
        a = ours_client.request(method, path, json=body)
        b = theirs_client.request(method, path, json=body)
        assert (a.status_code, a.json()) == (b.status_code, b.json()), path


def test_init_log_versions_are_the_installed_distributions(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    versions = handler.app._versions()
    for name in handler.app._PACKAGES:
        assert versions[name] == metadata.version(name), name  # __version__ where a module has one, same value
    # a package whose module has no __version__ (or is not imported) is looked up in its metadata
    monkeypatch.setitem(sys.modules, "numpy", types.ModuleType("numpy"))
    assert handler.app._versions()["numpy"] == metadata.version("numpy")
    monkeypatch.setattr(handler.app, "_PACKAGES", ("no-such-distribution-here",))
    assert handler.app._versions()["no-such-distribution-here"] == "unknown"


def test_the_500_log_line_escapes_the_clients_method_and_path(caplog: pytest.LogCaptureFixture) -> None:
    """A path with a newline (percent-decoded %0A, or a Lambda event's rawPath) cannot start a forged log line."""
    import asyncio

    from handler.middleware import EdgeMiddleware

    async def exploding(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    state = make_app(models=shared_models(), sink=lambda _: None).state.edge
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": '/v1/models/x\n{"_aws": 1}', "headers": [], "query_string": b""}
    with caplog.at_level(logging.ERROR, logger="handler"):
        asyncio.run(EdgeMiddleware(exploding, state)(scope, receive, send))
    assert sent[0]["status"] == 500
    line = next(rec.getMessage() for rec in caplog.records if "unexpected error" in rec.getMessage())
    assert "\n" not in line and '/v1/models/x\\n{\\"_aws\\": 1}' in line
