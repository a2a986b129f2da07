"""A JSON body that names one key twice is refused on every POST route (never read last-wins), in the route's
dialect; the same body without the second copy is served."""

from __future__ import annotations

import json

import pytest
from helpers.toy_handler import make_app, shared_models
from starlette.testclient import TestClient

from handler import json_body
from handler.dialects import TEI_PATHS


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(make_app())


def _post_paths() -> list[str]:
    app = make_app(models=shared_models())
    return sorted({r.path for r in app.routes if "POST" in (getattr(r, "methods", None) or ())})


def _error_message(path: str, body: dict[str, object]) -> str:
    """The message, checking the error is in the dialect of the path (TEI's shape on TEI's paths)."""
    if path in TEI_PATHS:
        assert set(body) == {"error", "error_type"} and body["error_type"] == "Validation"
        return str(body["error"])
    error = body["error"]
    assert isinstance(error, dict) and error["code"] == "duplicate_key"
    return str(error["message"])


@pytest.mark.parametrize("path", _post_paths())
def test_every_post_route_refuses_a_duplicated_key(client: TestClient, path: str) -> None:
    response = client.post(path, content=b'{"model": "a", "model": "b"}')
    assert response.status_code == 400, (path, response.text)
    assert '"model"' in _error_message(path, response.json())


@pytest.mark.parametrize(
    ("path", "unique", "duplicated"),
    [
        ("/embed", '{"inputs": "first text"}', '{"inputs": "first text", "inputs": "second text"}'),
        ("/", '{"inputs": ["first text"]}', '{"inputs": ["first text"], "inputs": ["second text"]}'),
        (
            "/v1/embeddings",
            '{"input": ["first text"], "encoding_format": "float"}',
            '{"input": ["first text"], "encoding_format": "float", "encoding_format": "base64"}',
        ),
        (
            "/v1/rerank",
            '{"query": "q", "documents": [{"text": "one"}, {"text": "two"}]}',
            '{"query": "q", "documents": [{"text": "one"}, {"text": "two", "text": "three"}]}',
        ),
        ("/v2/embed", '{"texts": ["a text"]}', '{"texts": ["a text"], "input_type": "x", "input_type": "y"}'),
    ],
)
def test_a_duplicate_anywhere_in_the_body_is_refused_and_the_same_body_without_it_served(
    client: TestClient, path: str, unique: str, duplicated: str
) -> None:
    assert client.post(path, content=unique.encode()).status_code == 200
    response = client.post(path, content=duplicated.encode())
    assert response.status_code == 400, response.text
    assert "more than once" in _error_message(path, response.json())


def test_loads_refuses_duplicates_at_any_depth_and_reads_the_rest_as_json_does() -> None:
    text = '{"a": [{"b": {"c": 1, "d": [1, {"e": null}]}}], "f": "\\u00e9"}'
    assert json_body.loads(text) == json.loads(text)
    with pytest.raises(json_body.DuplicateKeyError) as caught:
        json_body.loads('{"a": [{"b": {"c": 1, "c": 2}}]}')
    assert caught.value.key == "c"
    long_key = "k" * 500
    with pytest.raises(json_body.DuplicateKeyError) as caught:
        json_body.loads(json.dumps({long_key: 1})[:-1] + f', "{long_key}": 2}}')
    assert len(caught.value.error.message) < 300  # a hostile key is not echoed whole
