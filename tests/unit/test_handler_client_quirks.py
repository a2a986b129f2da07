"""Values real clients (or their bugs) send that were read as something else: a boolean as a count, a Jina
image object as its text, an SDK's own headers in a browser's CORS preflight."""

from __future__ import annotations

import pytest
from helpers.toy_handler import make_app, shared_models
from starlette.testclient import TestClient


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(make_app(models=shared_models()))


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/embed", {"inputs": ["a text"], "dimensions": True}, "dimensions"),
        ("/native/embed", {"inputs": ["a text"], "dimensions": True}, "dimensions"),
        ("/v1/embeddings", {"input": ["a text"], "dimensions": True}, "dimensions"),
        ("/v2/embed", {"texts": ["a text"], "output_dimension": True}, "output_dimension"),
        ("/v2/embed", {"texts": ["a text"], "max_tokens": True}, "max_tokens"),
        ("/v1/rerank", {"query": "q", "documents": ["a", "b"], "top_n": True}, "top_n"),
        ("/v2/rerank", {"query": "q", "documents": ["a", "b"], "max_tokens_per_doc": True}, "max_tokens_per_doc"),
        ("/native/rerank", {"query": "q", "texts": ["a", "b"], "top_n": True}, "top_n"),
    ],
)
def test_true_is_not_read_as_the_count_one(client: TestClient, path: str, body: dict[str, object], field: str) -> None:
    r = client.post(path, json=body)
    assert r.status_code == 422, r.text  # was 200: 1-dimensional vectors, one result, one token per input
    assert f"{field}: " in r.text and "not true or false" in r.text
    assert client.post(path, json={**body, field: 2}).status_code == 200  # a number is still a number


@pytest.mark.parametrize(
    ("item", "code", "named"),
    [
        ({"text": "a cat", "image": "https://example.com/cat.png"}, "images_not_supported", "image"),
        ({"image": "https://example.com/cat.png"}, "images_not_supported", "image"),
        ({"text": "a cat", "pdf": "JVBERi0="}, "images_not_supported", "pdf"),
        ({"text": "a cat", "title": "Cats"}, "unsupported_parameter", "input[1].title"),
        ({}, "invalid_request", "input[1].text"),
    ],
)
def test_jina_input_objects_other_than_text_are_refused_not_read_as_their_text(
    client: TestClient, item: dict[str, str], code: str, named: str
) -> None:
    r = client.post("/v1/embeddings", json={"input": [{"text": "first"}, item]})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == code and named in r.json()["error"]["message"]
    plain = client.post("/v1/embeddings", json={"input": [{"text": "first"}, {"text": "a cat"}]})
    assert plain.status_code == 200 and len(plain.json()["data"]) == 2


@pytest.mark.parametrize(
    "headers",
    [
        "authorization,content-type",
        "authorization,content-type,x-stainless-os,x-stainless-lang,x-stainless-retry-count",  # openai's SDKs
        "authorization,content-type,x-fern-language,x-fern-sdk-name,x-client-name",  # cohere's SDKs
        "content-type,content-encoding",  # a gzip body, which the server inflates
    ],
)
def test_cors_preflight_allows_the_headers_sdks_send(headers: str) -> None:
    client = TestClient(make_app(models=shared_models(), cors_origins="https://app.example", api_key="k"))
    preflight = {
        "origin": "https://app.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": headers,
    }
    r = client.options("/v1/embeddings", headers=preflight)
    assert r.status_code == 200, r.text  # was 400 "Disallowed CORS headers": the browser never sent the call
    assert r.headers["access-control-allow-origin"] == "https://app.example"
    allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert set(headers.split(",")) <= allowed
    other = client.options("/v1/embeddings", headers={**preflight, "origin": "https://elsewhere.example"})
    assert other.status_code == 400  # origins are still checked
