"""Lambda function URL (payload 2.0) and API Gateway HTTP API events through the real Mangum entry point.

Each fixture under tests/events is a complete event as Lambda delivers it; the handler is called exactly as
the Lambda runtime calls it, with a context object, and the returned dict is checked as the function URL
would turn it into an HTTP response.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from helpers.handler_support import FakeLambdaContext, load_event, make_app, shared_models

from handler.app import lambda_handler_for

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@pytest.fixture(scope="module")
def lambda_handler(logs: list[str]) -> Handler:
    return lambda_handler_for(make_app(sink=logs.append))


@pytest.fixture(scope="module")
def keyed_handler() -> Handler:
    return lambda_handler_for(make_app(api_key="test-key-123"))


def invoke(handler: Handler, event: dict[str, Any], request_id: str = "req-1") -> tuple[int, dict[str, Any], Any]:
    out = handler(event, FakeLambdaContext(request_id))
    assert set(out) >= {"statusCode", "headers", "body", "isBase64Encoded"}
    assert out["isBase64Encoded"] is False
    headers = {k.lower(): v for k, v in out["headers"].items()}
    assert headers["content-type"].startswith("application/json")
    return out["statusCode"], headers, json.loads(out["body"])


def assert_error(body: Any, code: str) -> str:
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "code"}
    assert body["error"]["code"] == code
    assert "Traceback" not in body["error"]["message"]
    message: str = body["error"]["message"]
    return message


def test_iam_embed_returns_the_runtime_vectors(lambda_handler: Handler, logs: list[str]) -> None:
    status, headers, body = invoke(lambda_handler, load_event("fnurl_iam_embed.json"), "iam-req-7")
    assert status == 200
    texts = ["A man is eating food.", "A man is eating a piece of bread."]
    expected = shared_models().require_embedder().embed(texts)
    got = np.array(body["embeddings"], dtype=np.float32)
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)  # shortest float32 decimal reads back exactly
    assert body["usage"]["total_tokens"] > 0
    assert headers["x-request-id"] == "iam-req-7"  # Lambda's aws_request_id
    assert float(headers["x-compute-time"]) > 0
    assert int(headers["x-compute-tokens"]) == body["usage"]["total_tokens"]
    line = json.loads(next(entry for entry in reversed(logs) if "iam-req-7" in entry))
    assert line["route"] == "/native/embed" and line["status"] == 200 and line["inputs"] == 2


def test_none_auth_with_bearer_key_reranks(keyed_handler: Handler) -> None:
    event = load_event("fnurl_none_auth_rerank.json")
    status, _, body = invoke(keyed_handler, event)
    assert status == 200
    texts = json.loads(event["body"])["texts"]
    assert sorted(r["index"] for r in body["results"]) == [0, 1]
    assert all(r["text"] == texts[r["index"]] for r in body["results"])
    scores = [r["score"] for r in body["results"]]
    assert scores == sorted(scores, reverse=True)

    unsigned = copy.deepcopy(event)
    del unsigned["headers"]["authorization"]
    status, headers, body = invoke(keyed_handler, unsigned)
    assert status == 401 and headers["www-authenticate"] == "Bearer"
    assert_error(body, "missing_api_key")

    wrong = copy.deepcopy(event)
    wrong["headers"]["authorization"] = "Bearer nope"
    status, _, body = invoke(keyed_handler, wrong)
    assert status == 401
    assert_error(body, "invalid_api_key")


def test_health_stays_open_with_a_key(keyed_handler: Handler) -> None:
    status, _, body = invoke(keyed_handler, load_event("fnurl_health.json"))
    assert status == 200
    assert body == {"status": "ok", "models": {"embed": "ready", "rerank": "ready"}}


def test_base64_body_and_base64_output(lambda_handler: Handler) -> None:
    event = load_event("fnurl_base64_openai.json")
    assert event["isBase64Encoded"] is True
    status, _, body = invoke(lambda_handler, event)
    assert status == 200
    assert body["object"] == "list" and [d["index"] for d in body["data"]] == [0, 1]
    vectors = np.stack([np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in body["data"]])
    expected = shared_models().require_embedder().embed(["hello world", "goodbye"])
    np.testing.assert_array_equal(vectors, expected)


def test_no_content_type_is_read_as_json(lambda_handler: Handler) -> None:
    event = load_event("fnurl_no_content_type.json")
    assert "content-type" not in {k.lower() for k in event["headers"]}
    status, _, body = invoke(lambda_handler, event)
    assert status == 200, body
    assert len(body["results"]) == 1  # top_n
    assert body["results"][0]["document"]["text"] in ("Paris is the capital of France.", "Bananas are yellow.")
    assert body["meta"]["billed_units"]["search_units"] == 1


def test_malformed_json_is_400(lambda_handler: Handler) -> None:
    status, _, body = invoke(lambda_handler, load_event("fnurl_malformed_json.json"))
    assert status == 400
    assert "not valid JSON" in assert_error(body, "malformed_json")


def test_empty_list_is_400(lambda_handler: Handler) -> None:
    status, _, body = invoke(lambda_handler, load_event("fnurl_empty_list.json"))
    assert status == 400
    assert_error(body, "empty_input")


def test_too_many_inputs_is_413_with_split_advice(lambda_handler: Handler) -> None:
    status, _, body = invoke(lambda_handler, load_event("fnurl_too_many_inputs.json"))
    assert status == 413
    message = assert_error(body, "too_many_inputs")
    assert "1025" in message and "1024" in message and "split" in message


def test_oversized_body_is_413(lambda_handler: Handler) -> None:
    event = load_event("fnurl_iam_embed.json")
    event["body"] = json.dumps({"inputs": ["word " * 1000] * 1300})  # about 6.5 MB
    assert len(event["body"]) > 6 * 1024 * 1024
    status, _, body = invoke(lambda_handler, event)
    assert status == 413
    assert "split" in assert_error(body, "body_too_large")


def test_unknown_path_is_404(lambda_handler: Handler) -> None:
    status, _, body = invoke(lambda_handler, load_event("fnurl_unknown_path.json"))
    assert status == 404
    assert_error(body, "not_found")


def test_wrong_method_is_405(lambda_handler: Handler) -> None:
    status, headers, body = invoke(lambda_handler, load_event("fnurl_wrong_method.json"))
    assert status == 405
    assert headers.get("allow") == "POST"
    assert_error(body, "method_not_allowed")


def test_http_api_event_with_base64_body(lambda_handler: Handler) -> None:
    status, _, body = invoke(lambda_handler, load_event("httpapi_embed.json"))
    assert status == 200
    assert len(body["embeddings"]) == 1 and len(body["embeddings"][0]) == body["dimensions"]


def test_broken_and_foreign_events_get_an_error_not_a_crash(lambda_handler: Handler) -> None:
    broken = load_event("fnurl_base64_openai.json")
    broken["body"] = "not base64 at all!"
    status, _, body = invoke(lambda_handler, broken)
    assert status == 400
    assert_error(body, "malformed_event")

    status, _, body = invoke(lambda_handler, {"source": "aws.events", "detail-type": "Scheduled Event"})
    assert status == 400
    assert_error(body, "unsupported_event")


def test_cold_start_flag_only_on_the_first_request() -> None:
    logs: list[str] = []
    handler = lambda_handler_for(make_app(sink=logs.append))
    for _ in range(2):
        invoke(handler, load_event("fnurl_health.json"))
    flags = [json.loads(line)["cold_start"] for line in logs if '"event":"request"' in line]
    assert flags == [True, False]
