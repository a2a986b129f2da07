"""Lambda function URL (payload 2.0) and API Gateway HTTP API events through the real Mangum entry point.

Each fixture under tests/events is a complete event as Lambda delivers it; the handler is called exactly as
the Lambda runtime calls it, with a context object, and the returned dict is checked as the function URL
would turn it into an HTTP response.
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
import logging
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from helpers.handler_support import FakeLambdaContext, load_event, make_app, settings, shared_models

from handler.app import lambda_handler_for
from handler.settings import Settings

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


# ---- other event sources and request shapes -------------------------------------------------------------------
TWO_TEXTS = ["A man is eating food.", "A man is eating a piece of bread."]


def invoke_any(handler: Handler, event: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """Any event source's answer as (status, lower-case single-value headers, body bytes). A multi-value event
    (ALB with multiValueHeaders, REST) may answer in multiValueHeaders; each header must then have one value."""
    out = handler(event, FakeLambdaContext())
    headers = {k.lower(): v for k, v in (out.get("headers") or {}).items()}
    for key, values in (out.get("multiValueHeaders") or {}).items():
        assert len(values) == 1 or key.lower() == "set-cookie", (key, values)
        headers.setdefault(key.lower(), values[0])
    raw = out.get("body") or ""
    data = base64.b64decode(raw) if out.get("isBase64Encoded") else raw.encode()
    return out["statusCode"], headers, data


def test_gzip_body_is_inflated(lambda_handler: Handler) -> None:
    event = load_event("fnurl_gzip_embed.json")
    assert event["headers"]["content-encoding"] == "gzip"
    status, _, body = invoke(lambda_handler, event)
    assert status == 200, body
    np.testing.assert_array_equal(np.array(body["embeddings"], dtype=np.float32), runtime_vectors(TWO_TEXTS))


def test_gzip_bombs_and_unknown_encodings_are_4xx(lambda_handler: Handler) -> None:
    bomb = load_event("fnurl_gzip_embed.json")
    bomb["body"] = base64.b64encode(gzip.compress(b" " * (7 * 1024 * 1024))).decode()  # 7 KB in, 7 MB out
    status, _, body = invoke(lambda_handler, bomb)
    assert status == 413 and "inflates" in assert_error(body, "body_too_large")
    brotli = load_event("fnurl_gzip_embed.json")
    brotli["headers"]["content-encoding"] = "br"
    status, _, body = invoke(lambda_handler, brotli)
    assert status == 415
    assert_error(body, "unsupported_content_encoding")
    corrupt = load_event("fnurl_gzip_embed.json")
    corrupt["body"] = base64.b64encode(b"\x1f\x8b not really gzip").decode()
    status, _, body = invoke(lambda_handler, corrupt)
    assert status == 400
    assert_error(body, "malformed_body")


def test_cookies_query_string_title_case_headers_and_text_plain(keyed_handler: Handler) -> None:
    event = load_event("fnurl_cookies_query_titlecase.json")
    assert event["cookies"] and event["rawQueryString"] and "Authorization" in event["headers"]
    status, headers, body = invoke(keyed_handler, event)
    assert status == 200, body
    assert headers["x-request-id"] == "req-1"  # Lambda's request id wins over the client's
    vectors = np.array([d["embedding"] for d in body["data"]], dtype=np.float32)
    np.testing.assert_array_equal(vectors, runtime_vectors(TWO_TEXTS))


def test_a_post_without_a_body_is_400_in_tei_shape(lambda_handler: Handler) -> None:
    event = load_event("fnurl_missing_body_tei.json")
    assert "body" not in event
    status, _, body = invoke(lambda_handler, event)
    assert status == 400 and body["error_type"] == "Empty" and "empty" in body["error"]


def test_options_and_head(lambda_handler: Handler) -> None:
    # CORS is the function URL's job in Lambda (its Cors setting answers preflights before the function runs);
    # a preflight that does reach the function gets a JSON 405 naming the allowed method, not an empty 200
    status, headers, body = invoke(lambda_handler, load_event("fnurl_options.json"))
    assert status == 405 and headers["allow"] == "POST"
    assert_error(body, "method_not_allowed")
    status, headers, data = invoke_any(lambda_handler, load_event("fnurl_head_ping.json"))
    assert status == 200 and data == b"" and int(headers["content-length"]) > 0


def test_rest_api_v1_event_on_a_tei_route(lambda_handler: Handler) -> None:
    event = load_event("restv1_tei_embed.json")
    assert event["requestContext"]["stage"] == "prod" and "version" not in event
    status, headers, data = invoke_any(lambda_handler, event)
    assert status == 200, data
    assert headers["content-type"] == "application/json"
    np.testing.assert_array_equal(np.array(json.loads(data), dtype=np.float32), runtime_vectors(TWO_TEXTS))


def test_rest_api_v1_event_with_a_base64_body(lambda_handler: Handler) -> None:
    event = load_event("restv1_rerank_base64.json")
    status, _, data = invoke_any(lambda_handler, event)
    assert status == 200, data
    sent = json.loads(base64.b64decode(event["body"]))
    want = [h.index for h in shared_models().require_reranker().rerank(sent["query"], sent["documents"])]
    assert [r["index"] for r in json.loads(data)["results"]] == want


@pytest.mark.parametrize("name", ["alb_openai_embeddings.json", "alb_multivalue_native_embed.json"])
def test_alb_events(lambda_handler: Handler, name: str) -> None:
    event = load_event(name)
    assert "elb" in event["requestContext"]
    status, headers, data = invoke_any(lambda_handler, event)
    assert status == 200, data
    assert headers["content-type"] == "application/json"
    body = json.loads(data)
    rows = [d["embedding"] for d in body["data"]] if "data" in body else body["embeddings"]
    np.testing.assert_array_equal(np.array(rows, dtype=np.float32), runtime_vectors(TWO_TEXTS))


def test_alb_unknown_path_is_a_json_404(lambda_handler: Handler) -> None:
    status, headers, data = invoke_any(lambda_handler, load_event("alb_unknown_path.json"))
    assert status == 404 and headers["content-type"] == "application/json"
    assert_error(json.loads(data), "not_found")


def runtime_vectors(texts: list[str]) -> np.ndarray:
    return shared_models().require_embedder().embed(texts)


def test_rest_api_v1_trailing_slash_is_served_not_redirected_out_of_the_stage(lambda_handler: Handler) -> None:
    event = load_event("restv1_tei_embed.json")
    event["path"] += "/"
    event["requestContext"]["path"] += "/"
    status, headers, data = invoke_any(lambda_handler, event)
    assert status == 200 and "location" not in headers, (status, headers)  # a 307 would drop "/prod"
    np.testing.assert_array_equal(np.array(json.loads(data), dtype=np.float32), runtime_vectors(TWO_TEXTS))


# ---- HEAD, unreadable events, dependency overrides -------------------------------------------------------------
def _get_paths(handler_app: Any) -> list[str]:
    """Every GET route of the app, path parameters filled with a served value."""
    paths = []
    for route in handler_app.routes:
        if "GET" not in getattr(route, "methods", set()):
            continue
        paths.append(re.sub(r"\{model_id[^}]*\}", shared_models().require_embedder().manifest.name, route.path))
    return paths


def _method_event(method: str, path: str) -> dict[str, Any]:
    event = load_event("fnurl_head_ping.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    return event


def test_head_answers_every_get_route_like_get_without_a_body() -> None:
    app = make_app(docs=True)
    handler = lambda_handler_for(app)
    paths = _get_paths(app)
    assert {"/info", "/v1/models", "/ready", "/health", "/metrics", "/native/info", "/openapi.json"} <= set(paths)
    assert any(p.startswith("/v1/models/") for p in paths)
    for path in paths:
        get_status, get_headers, get_body = invoke_any(handler, _method_event("GET", path))
        status, headers, body = invoke_any(handler, _method_event("HEAD", path))
        assert (status, body) == (get_status, b""), path
        assert status == 200, (path, get_body[:200])
        assert int(headers["content-length"]) == len(get_body), path
        assert headers["content-type"] == get_headers["content-type"], path


def test_head_on_a_post_route_is_405_naming_post(lambda_handler: Handler) -> None:
    status, headers, body = invoke_any(lambda_handler, _method_event("HEAD", "/embed"))
    assert status == 405 and headers["allow"] == "POST" and body == b""


def test_a_body_marked_base64_that_is_not_is_one_400_line_in_the_paths_dialect(
    lambda_handler: Handler, caplog: pytest.LogCaptureFixture
) -> None:
    event = load_event("fnurl_bad_base64_tei.json")
    with caplog.at_level("INFO", logger="handler"):
        status, _, body = invoke(lambda_handler, event, "bad-b64-1")
    assert status == 400
    assert set(body) == {"error", "error_type"} and body["error_type"] == "Validation"  # TEI's shape on /embed
    assert "base64" in body["error"]
    records = [r for r in caplog.records if r.name == "handler"]
    assert len(records) == 1 and records[0].exc_info is None
    assert "bad-b64-1" in records[0].getMessage() and "/embed" in records[0].getMessage()

    ours = load_event("fnurl_bad_base64_tei.json")
    ours["rawPath"] = ours["requestContext"]["http"]["path"] = "/v1/embeddings"
    status, _, body = invoke(lambda_handler, ours)
    assert status == 400
    assert "base64" in assert_error(body, "malformed_event")

    fixed = load_event("fnurl_bad_base64_tei.json")
    fixed["body"] += "=="  # the same body with its padding: served
    status, _, data = invoke_any(lambda_handler, fixed)
    assert status == 200
    np.testing.assert_array_equal(np.array(json.loads(data), dtype=np.float32), runtime_vectors(["hello"]))


def test_null_optional_fields_read_as_absent_and_a_non_string_body_is_one_400_line(
    lambda_handler: Handler, caplog: pytest.LogCaptureFixture
) -> None:
    event = load_event("fnurl_iam_embed.json")
    for field in ("headers", "rawQueryString", "cookies", "queryStringParameters"):
        nulled = {**copy.deepcopy(event), field: None}  # a hand-written test event; Mangum raised on the first two
        status, _, body = invoke_any(lambda_handler, nulled)
        assert status == 200, (field, body)
        np.testing.assert_array_equal(
            np.array(json.loads(body)["embeddings"], dtype=np.float32), runtime_vectors(TWO_TEXTS)
        )
    rest = load_event("restv1_tei_embed.json")
    rest["body"] = json.loads(rest["body"])  # the body as a JSON object instead of a string
    with caplog.at_level("INFO", logger="handler"):
        status, _, data = invoke_any(lambda_handler, rest)
    assert status == 400
    error = json.loads(data)
    assert error["error_type"] == "Validation" and "not a string" in error["error"]  # TEI's shape on /embed
    records = [r for r in caplog.records if r.name == "handler"]
    assert len(records) == 1 and records[0].exc_info is None  # one warning line, no traceback


def test_dependency_overrides_of_the_serving_app_reach_the_routes() -> None:
    from handler.state import AppState, get_state

    overridden, plain = make_app(), make_app()
    strict = AppState(
        settings(max_inputs=1), shared_models(), overridden.state.edge.api_key, overridden.state.edge.access_log
    )

    async def strict_state() -> AppState:
        return strict

    overridden.dependency_overrides[get_state] = strict_state
    event = load_event("restv1_tei_embed.json")  # two inputs
    status, _, data = invoke_any(lambda_handler_for(overridden), event)
    assert status == 413 and b"over the limit of 1" in data
    status, _, _ = invoke_any(lambda_handler_for(plain), event)  # the same route objects, another app
    assert status == 200
    overridden.dependency_overrides.clear()
    status, _, _ = invoke_any(lambda_handler_for(overridden), event)
    assert status == 200


def test_tei_embed_all_gives_the_bundle_s_token_vectors(lambda_handler: Handler) -> None:
    status, headers, data = invoke_any(lambda_handler, load_event("fnurl_tei_embed_all.json"))
    assert status == 200, data
    rows = [np.array(r, dtype=np.float32) for r in json.loads(data)]
    embedder = shared_models().require_embedder()
    counts = [len(e.ids) for e in embedder.tokenizer.encode(TWO_TEXTS, truncate=True)]
    assert [r.shape for r in rows] == [(n, embedder.dimension) for n in counts]
    assert int(headers["x-compute-tokens"]) == sum(counts)
    # mean-pooled and normalized as the manifest says, they are /embed's vectors
    pooled = np.stack([r.mean(axis=0) for r in rows])
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    np.testing.assert_allclose(pooled, runtime_vectors(TWO_TEXTS), rtol=1e-5, atol=1e-6)


# ---- events Mangum could not read as they came, and events that are no HTTP request ----------------------------
def _handler_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "handler"]


@pytest.mark.parametrize(
    "edit",
    [
        lambda e: e["requestContext"].pop("http"),  # a hand-written test event, a service that omits it
        lambda e: e.update(requestContext={}),
        lambda e: e.update(requestContext={"routeKey": "POST /native/embed"}, version="2.0"),
        lambda e: [e.pop("version"), e["requestContext"].pop("http")],  # a 2.0 shape that does not say so
        lambda e: e.pop("requestContext"),  # a test event written by hand: rawPath, headers, body
    ],
)
def test_a_2_0_event_without_request_context_http_is_served(
    lambda_handler: Handler, caplog: pytest.LogCaptureFixture, edit: Callable[[dict[str, Any]], Any]
) -> None:
    event = load_event("fnurl_iam_embed.json")
    edit(event)
    with caplog.at_level("INFO", logger="handler"):
        status, _, body = invoke(lambda_handler, event)
    assert status == 200, body
    np.testing.assert_array_equal(np.array(body["embeddings"], dtype=np.float32), runtime_vectors(TWO_TEXTS))
    assert not [r for r in _handler_records(caplog) if r.levelno >= logging.WARNING]


def test_rest_and_alb_shapes_missing_a_field_mangum_insists_on_are_served(lambda_handler: Handler) -> None:
    rest = load_event("restv1_tei_embed.json")
    rest.pop("resource", None)
    rest.pop("version", None)  # httpMethod and path only: Mangum found no reader for it
    for event in (rest, {**load_event("alb_openai_embeddings.json"), "headers": None}):
        status, _, data = invoke_any(lambda_handler, event)
        assert status == 200, data
        body = json.loads(data)
        rows = [d["embedding"] for d in body["data"]] if "data" in body else body
        np.testing.assert_array_equal(np.array(rows, dtype=np.float32), runtime_vectors(TWO_TEXTS))


@pytest.mark.parametrize(
    ("event", "words"),
    [
        ({"version": "2.0", "requestContext": {}, "body": "{}"}, "rawPath"),
        ({"requestContext": None, "rawPath": "/v1/embeddings"}, "requestContext is a JSON null"),
        ({"requestContext": {"elb": {}}, "httpMethod": "POST", "body": "{}"}, "ALB event"),
        ({"requestContext": {"eventType": "MESSAGE", "connectionId": "abc"}, "body": "{}"}, "no request path"),
        ({**load_event("fnurl_iam_embed.json"), "headers": {"content-length": 74}}, "'content-length'"),
    ],
)
def test_an_http_event_mangum_cannot_read_is_one_400_line(
    lambda_handler: Handler, caplog: pytest.LogCaptureFixture, event: dict[str, Any], words: str
) -> None:
    with caplog.at_level("INFO", logger="handler"):
        status, _, body = invoke(lambda_handler, event, "unreadable-1")
    assert status == 400
    assert words in assert_error(body, "malformed_event")
    records = _handler_records(caplog)
    assert len(records) == 1 and records[0].exc_info is None and records[0].levelno == logging.WARNING
    assert "unreadable-1" in records[0].getMessage()


@pytest.mark.parametrize(
    ("event", "source"),
    [
        ({"inputs": "x"}, "direct invocation payload (keys: inputs)"),  # aws lambda invoke --payload '{"inputs":"x"}'
        ("hello", "a JSON string payload"),
        (None, "a JSON null payload"),
        ({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]}, "aws:sqs event"),
        ({"Records": [{"eventSource": "aws:s3", "s3": {}}]}, "aws:s3 event"),
        ({"Records": [{"EventSource": "aws:sns", "Sns": {}}]}, "aws:sns event"),
        ({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}, "EventBridge event"),
    ],
)
def test_an_event_that_is_no_http_request_says_what_it_got_and_what_to_send(
    lambda_handler: Handler, caplog: pytest.LogCaptureFixture, event: Any, source: str
) -> None:
    with caplog.at_level("INFO", logger="handler"):
        status, _, body = invoke(lambda_handler, event, "foreign-1")
    assert status == 400
    message = assert_error(body, "unsupported_event")  # our shape, whatever the payload's keys
    assert source in message and "rawPath" in message
    records = _handler_records(caplog)  # an asynchronous caller drops the answer: the log line is what remains
    assert len(records) == 1 and records[0].exc_info is None and records[0].levelno == logging.WARNING
    assert source in records[0].getMessage() and "foreign-1" in records[0].getMessage()


def test_a_utf16_body_that_says_so_is_read(lambda_handler: Handler) -> None:
    event = load_event("fnurl_iam_embed.json")
    event["headers"]["content-type"] = "application/json; charset=utf-16"
    event["body"] = base64.b64encode(event["body"].encode("utf-16")).decode()
    event["isBase64Encoded"] = True
    status, _, body = invoke(lambda_handler, event)
    assert status == 200, body
    np.testing.assert_array_equal(np.array(body["embeddings"], dtype=np.float32), runtime_vectors(TWO_TEXTS))


def test_a_vpc_lattice_2_0_event_is_served(lambda_handler: Handler) -> None:
    event = load_event("lattice_v2_openai_embeddings.json")
    assert "http" not in event["requestContext"] and isinstance(event["headers"]["content-type"], list)
    status, headers, data = invoke_any(lambda_handler, event)
    assert status == 200, data
    assert headers["content-type"] == "application/json"
    rows = [d["embedding"] for d in json.loads(data)["data"]]
    np.testing.assert_array_equal(np.array(rows, dtype=np.float32), runtime_vectors(TWO_TEXTS))
    v1 = {"raw_path": "/v1/embeddings", "method": "POST", "headers": {}, "body": event["body"]}
    status, _, body = invoke(lambda_handler, v1)
    assert status == 400 and "event structure version 2" in assert_error(body, "unsupported_event")


def test_an_alb_reached_by_an_ipv6_literal_and_a_rest_api_with_two_ports_are_served(lambda_handler: Handler) -> None:
    alb = load_event("alb_openai_embeddings.json")
    alb["headers"]["host"] = "[2600:1f18:4a3:6a00::1d]"  # a dualstack ALB called by address: Mangum split it at ":"
    rest = load_event("restv1_tei_embed.json")
    rest["multiValueHeaders"] = {"X-Forwarded-Port": ["443", "443"]}  # joined "443, 443": no int
    for event in (alb, rest):
        status, _, data = invoke_any(lambda_handler, event)
        assert status == 200, data
        body = json.loads(data)
        rows = [d["embedding"] for d in body["data"]] if "data" in body else body
        np.testing.assert_array_equal(np.array(rows, dtype=np.float32), runtime_vectors(TWO_TEXTS))


def test_a_stage_left_in_the_path_is_a_404_that_names_the_setting_and_the_setting_serves_it() -> None:
    rest = load_event("restv1_tei_embed.json")
    rest["path"] = "/prod/embed"  # a custom domain's base path mapping, or an HTTP API's named stage, keeps it
    v2 = load_event("fnurl_iam_embed.json")
    v2["rawPath"] = v2["requestContext"]["http"]["path"] = "/prod/native/embed"
    plain = lambda_handler_for(make_app())
    for event in (rest, v2):
        status, _, data = invoke_any(plain, event)
        assert status == 404
        assert "EDGE_API_BASE_PATH=/prod" in assert_error(json.loads(data), "not_found")
    for base_path in ("/prod", "/prod/", "prod"):  # as a user writes it: the setting's value is normalized
        configured = Settings.from_env({"EDGE_API_BASE_PATH": base_path}).api_base_path
        staged = lambda_handler_for(make_app(api_base_path=configured))
        for event in (rest, v2):
            status, _, data = invoke_any(staged, event)
            assert status == 200, (base_path, data)
            body = json.loads(data)
            rows = body["embeddings"] if isinstance(body, dict) else body
            np.testing.assert_array_equal(np.array(rows, dtype=np.float32), runtime_vectors(TWO_TEXTS))
    status, _, data = invoke_any(plain, load_event("fnurl_unknown_path.json"))  # no route behind it: no advice
    assert status == 404 and "EDGE_API_BASE_PATH" not in data.decode()


def test_a_payload_key_with_a_newline_cannot_forge_a_log_line(
    lambda_handler: Handler, caplog: pytest.LogCaptureFixture
) -> None:
    forged = '\n{"_aws": {"CloudWatchMetrics": []}, "event": "request"}'
    with caplog.at_level("INFO", logger="handler"):
        status, _, body = invoke(lambda_handler, {forged: 1}, "forged-1")
    assert status == 400
    assert_error(body, "unsupported_event")
    records = _handler_records(caplog)
    assert len(records) == 1 and "\n" not in records[0].getMessage()
