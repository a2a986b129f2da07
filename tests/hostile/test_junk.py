"""A junk corpus against every POST route, on both ways in (ASGI as under uvicorn, and the Lambda entry point):
never a 5xx, never a leaked path or library message; a lone surrogate anywhere is a 400 naming where it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from helpers.handler_support import FakeLambdaContext, make_app
from hostile.probe import event
from starlette.testclient import TestClient

from handler.app import lambda_handler_for

# route -> a valid body, and the string fields (JSON paths) a client controls
ROUTES: dict[str, tuple[dict[str, Any], list[str]]] = {
    "/native/embed": ({"inputs": ["a", "b"], "prompt": "p: "}, ["inputs[1]", "prompt"]),
    "/native/rerank": ({"query": "q", "texts": ["a", "b"]}, ["query", "texts[1]"]),
    "/v1/embeddings": ({"input": ["a", "b"], "user": "u"}, ["input[1]", "model", "user"]),
    "/v1/rerank": ({"query": "q", "documents": [{"text": "a"}, {"text": "b"}]}, ["query", "documents[1].text"]),
    "/v2/rerank": ({"query": "q", "documents": ["a", "b"]}, ["query", "documents[1]", "model"]),
    "/v2/embed": ({"texts": ["a", "b"], "input_type": "search_query"}, ["texts[1]", "input_type", "model"]),
    "/embed": ({"inputs": ["a", "b"], "truncate": True}, ["inputs[1]"]),
    "/rerank": ({"query": "q", "texts": ["a", "b"], "truncate": True}, ["query", "texts[1]"]),
    "/similarity": ({"inputs": {"source_sentence": "a", "sentences": ["b", "c"]}}, ["inputs.sentences[1]"]),
    "/tokenize": ({"inputs": ["a", "b"]}, ["inputs[1]"]),
}
# TEI's routes answer errors in TEI's shape {"error": "...", "error_type": "..."}; every other route in ours
TEI_ROUTES = {"/embed", "/rerank", "/similarity", "/tokenize"}
SURROGATES = ["\\ud800", "\\udfff", "x\\udc00y", "\\ud83d"]  # lone high, lone low, inside text, half an emoji

Call = Callable[[str, bytes], tuple[int, dict[str, str], bytes]]


def _set(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of body with the string at a JSON path (a.b[1].c) replaced."""
    data = json.loads(json.dumps(body))
    target: Any = data
    parts = path.replace("]", "").replace("[", ".").split(".")
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target[part]
    last = parts[-1]
    if last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return data


def _with_raw_string(body: dict[str, Any], path: str, escaped: str) -> bytes:
    """body as JSON with the string at `path` replaced by a raw JSON escape (json.dumps cannot write one)."""
    marker = "@@HOSTILE@@"
    return json.dumps(_set(body, path, marker)).replace(marker, escaped).encode()


def junk_bodies(body: dict[str, Any], fields: list[str]) -> Iterator[tuple[str, bytes]]:
    """Malformed, mistyped, huge, deep, NUL-laden variations of a valid body."""
    keys = list(body)
    yield "empty", b""
    yield "not json", b"inputs=hello"
    yield "invalid utf-8", b'{"' + keys[0].encode() + b'": "\xff\xfe\xed\xa0\x80"}'
    yield "utf-8 surrogate bytes", b'{"' + keys[0].encode() + b'": ["\xed\xa0\x80"]}'
    yield "bom", b"\xef\xbb\xbf" + json.dumps(body).encode()
    yield "top-level list", b"[1, 2, 3]"
    yield "top-level string", b'"hello"'
    yield "null", b"null"
    yield "deep nesting", b'{"' + keys[0].encode() + b'": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    yield "deep objects", b'{"' + keys[0].encode() + b'": ' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"}"
    yield "huge integer", json.dumps({**body, "top_n": 10**400, "dimensions": 10**400}).encode()
    yield "huge float", json.dumps({**body, "top_n": 1e308, "dimensions": -1e308}).encode()
    yield "nan", json.dumps({**body, "top_n": float("nan")}).encode()
    yield "negative", json.dumps({**body, "top_n": -5, "dimensions": 0}).encode()
    yield "unknown fields", json.dumps({**body, "x" * 10_000: "y", "__proto__": {}}).encode()
    for field in fields:
        for kind, value in [
            ("NUL", "\x00" * 1000),
            ("NULs inside", "a\x00b\x00c"),
            ("control characters", "".join(chr(c) for c in range(32))),
            ("number", 12345),
            ("null", None),
            ("object", {"text": {"text": "a"}}),
            ("list of numbers", [1, 2, 3]),
            ("bool", True),
            ("big string", "word " * 50_000),
            ("replacement char", "\ufffd" * 100),
            ("noncharacters", "\ufffe\uffff\U0010ffff"),
        ]:
            yield f"{field} {kind}", json.dumps(_set(body, field, value)).encode()
    for top in keys:
        for value in (None, 1, 1.5, True, {}, [], [[[]]], [None], "s" * 3):
            yield f"{top}={value!r}", json.dumps({**body, top: value}).encode()


@pytest.fixture(scope="module")
def asgi(logs: list[str]) -> Call:
    client = TestClient(make_app(sink=logs.append), raise_server_exceptions=False)

    def call(path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        r = client.post(path, content=body, headers={"content-type": "application/json"})
        return r.status_code, dict(r.headers), r.content

    return call


@pytest.fixture(scope="module")
def lam(logs: list[str]) -> Call:
    handler = lambda_handler_for(make_app(sink=logs.append))

    def call(path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        import base64

        ev = event(path, raw="")
        ev["body"], ev["isBase64Encoded"] = base64.b64encode(body).decode(), True
        out = handler(ev, FakeLambdaContext())
        raw = out.get("body") or ""
        data = base64.b64decode(raw) if out.get("isBase64Encoded") else raw.encode()
        return out["statusCode"], out.get("headers") or {}, data

    return call


@pytest.mark.parametrize("way", ["asgi", "lam"])
@pytest.mark.parametrize("route", sorted(ROUTES))
def test_junk_never_gets_a_server_error(request: pytest.FixtureRequest, way: str, route: str) -> None:
    call: Call = request.getfixturevalue(way)
    body, fields = ROUTES[route]
    status, _, _ = call(route, json.dumps(body).encode())
    assert status == 200, f"the valid body of {route} must pass"
    failures = []
    for name, junk in junk_bodies(body, fields):
        status, headers, data = call(route, junk)
        text = data.decode("utf-8", "replace")
        if status >= 500:
            failures.append((name, status, text[:200]))
            continue
        if status >= 400:
            error = json.loads(data)
            if route in TEI_ROUTES:
                assert set(error) == {"error", "error_type"} and isinstance(error["error"], str), (name, error)
            else:
                assert set(error["error"]) == {"message", "type", "code"}, (name, error)
            assert "/work" not in text and "Traceback" not in text and "site-packages" not in text, (name, text)
        assert "server" not in {k.lower() for k in headers}, name
    assert not failures, failures


@pytest.mark.parametrize("way", ["asgi", "lam"])
@pytest.mark.parametrize("escaped", SURROGATES, ids=["lone-high", "lone-low", "inside-text", "half-emoji"])
@pytest.mark.parametrize(("route", "field"), [(route, field) for route in sorted(ROUTES) for field in ROUTES[route][1]])
def test_a_lone_surrogate_anywhere_is_a_400_naming_the_field(
    request: pytest.FixtureRequest, way: str, escaped: str, route: str, field: str
) -> None:
    call: Call = request.getfixturevalue(way)
    status, _, data = call(route, _with_raw_string(ROUTES[route][0], field, escaped))
    error = json.loads(data)
    if route in TEI_ROUTES:
        code, message = error["error_type"], error["error"]
        assert (status, code) == (400, "Validation"), error
    else:
        code, message = error["error"]["code"], error["error"]["message"]
        assert (status, code) == (400, "invalid_unicode"), error
    assert message.startswith(f"{field} is not valid Unicode"), message


def test_a_surrogate_pair_is_an_emoji_not_an_error(asgi: Call) -> None:
    status, _, data = asgi("/native/embed", b'{"inputs": ["\\ud83d\\ude00 smile"]}')
    assert status == 200, data


def test_junk_leaves_no_5xx_in_the_log(logs: list[str]) -> None:
    records = [json.loads(line) for line in logs if line.startswith("{")]
    requests = [r for r in records if r.get("event") == "request"]
    assert requests and all(r["status"] < 500 for r in requests), [r for r in requests if r["status"] >= 500][:3]
