"""handler.event_shapes: which HTTP-looking Lambda events Mangum can serve as they are, which it can serve once a
field it insists on is filled from the rest of the event, and which it cannot (named, never a KeyError)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from handler.event_shapes import http_shaped, readable, shown

V2 = {
    "version": "2.0",
    "rawPath": "/embed",
    "headers": {"content-type": "application/json"},
    "requestContext": {"http": {"method": "POST", "path": "/embed", "sourceIp": "203.0.113.7"}},
    "body": '{"inputs": "hi"}',
}


def test_a_complete_event_is_returned_as_it_is() -> None:
    event, problem = readable(V2)
    assert problem is None and event is V2


@pytest.mark.parametrize(
    ("context", "extra", "method"),
    [
        ({}, {}, "POST"),  # a body, no method anywhere: POST
        ({}, {"body": None}, "GET"),  # no body: GET
        ({"routeKey": "GET /embed"}, {}, "GET"),  # routeKey names it
        ({}, {"routeKey": "HEAD /embed"}, "HEAD"),
        ({"httpMethod": "post"}, {"body": None}, "POST"),  # a 1.0-style method inside requestContext
        ({}, {"routeKey": "$default"}, "POST"),  # no method in it
        ({"http": {"sourceIp": "1.2.3.4"}}, {}, "POST"),  # a partial http object is completed
    ],
)
def test_a_2_0_event_without_request_context_http_gets_one(
    context: dict[str, Any], extra: dict[str, Any], method: str
) -> None:
    event = {**copy.deepcopy(V2), "requestContext": context, **extra}
    before = copy.deepcopy(event)
    fixed, problem = readable(event)
    assert problem is None
    http = fixed["requestContext"]["http"]
    assert http["path"] == "/embed" and http["method"] == method and isinstance(http["sourceIp"], str)
    assert event == before  # the caller's event is not changed


def test_shapes_that_do_not_say_which_they_are() -> None:
    rest_like = {"httpMethod": "POST", "path": "/embed", "requestContext": {}, "body": "{}"}
    fixed, problem = readable(rest_like)
    assert problem is None and fixed["resource"] == "/embed" and "resource" not in rest_like
    v2_like = {"rawPath": "/embed", "requestContext": {}, "body": "{}"}
    fixed, problem = readable(v2_like)
    assert problem is None and fixed["version"] == "2.0" and fixed["requestContext"]["http"]["path"] == "/embed"


def test_an_alb_event_without_headers_gets_empty_ones() -> None:
    alb = {"requestContext": {"elb": {}}, "httpMethod": "GET", "path": "/health"}
    fixed, problem = readable(alb)
    assert problem is None and fixed["headers"] == {} and "headers" not in alb
    multi = {**alb, "multiValueHeaders": {"accept": ["*/*"]}}
    assert readable(multi) == (multi, None)


@pytest.mark.parametrize(
    ("event", "words"),
    [
        ({"requestContext": None}, "requestContext is a JSON null"),
        ({"requestContext": "x", "rawPath": "/embed"}, "requestContext is a JSON string"),
        ({"version": "2.0", "requestContext": {}}, "neither requestContext.http.path nor rawPath"),
        ({"version": "1.0", "requestContext": {}}, "without httpMethod and path"),
        ({"resource": "/{proxy+}", "requestContext": {}, "path": "/embed"}, "without httpMethod and path"),
        ({"requestContext": {"elb": {}}, "path": "/embed"}, "ALB event without an httpMethod and a path"),
        ({"requestContext": {"elb": {}}, "httpMethod": "POST"}, "ALB event without an httpMethod and a path"),
        ({"requestContext": {"eventType": "CONNECT", "connectionId": "x"}}, "no request path"),
        ({**V2, "headers": {"content-length": 12}}, "header 'content-length' is a JSON number"),
        ({**V2, "headers": ["content-type"]}, "headers are a JSON array"),
        ({**V2, "multiValueHeaders": {"accept": "*/*"}}, "'accept' is not a list of strings"),
        ({**V2, "multiValueHeaders": {"accept": [1]}}, "'accept' is not a list of strings"),
    ],
)
def test_what_mangum_cannot_read_is_named(event: dict[str, Any], words: str) -> None:
    _, problem = readable(event)
    assert problem is not None and words in problem, problem


def test_a_vpc_lattice_2_0_event_gets_its_method_and_joined_headers() -> None:
    lattice = {
        "version": "2.0",
        "path": "/embed",
        "method": "POST",
        "headers": {"content-type": ["application/json"], "accept": ["text/html", "*/*"]},
        "requestContext": {"serviceArn": "arn:aws:vpc-lattice:us-east-1:123456789012:service/svc-0"},
        "body": "{}",
    }
    fixed, problem = readable(lattice)
    assert problem is None
    assert fixed["headers"] == {"content-type": "application/json", "accept": "text/html,*/*"}
    assert fixed["requestContext"]["http"] == {"path": "/embed", "method": "POST", "sourceIp": ""}
    assert isinstance(lattice["headers"]["accept"], list)  # not changed
    _, problem = readable({**lattice, "headers": {"accept": ["*/*", 3]}})
    assert problem is not None and "'accept' is a JSON array" in problem


@pytest.mark.parametrize(
    ("headers", "kept"),
    [
        ({"host": "[2600:1f18::1]:443", "accept": "*/*"}, {"accept": "*/*"}),  # an IPv6 literal: Mangum split it
        ({"host": "example.com:443", "x-forwarded-port": "443, 443"}, {"host": "example.com:443"}),
        ({"Host": "example.com", "X-Forwarded-Port": "x"}, {"Host": "example.com"}),
        ({"host": "example.com", "x-forwarded-port": " 8443 "}, {"host": "example.com", "x-forwarded-port": " 8443 "}),
    ],
)
def test_server_headers_mangum_cannot_parse_are_left_out(headers: dict[str, str], kept: dict[str, str]) -> None:
    fixed, problem = readable({**V2, "headers": headers})
    assert problem is None and fixed["headers"] == kept


def test_multi_value_server_headers_keep_one_readable_value() -> None:
    rest = {
        "resource": "/{proxy+}",
        "httpMethod": "POST",
        "path": "/embed",
        "requestContext": {"identity": None},
        "multiValueHeaders": {"X-Forwarded-Port": ["443", "443"], "Host": ["[::1]"], "Accept": ["a", "b"]},
    }
    fixed, problem = readable(rest)
    assert problem is None
    assert fixed["multiValueHeaders"] == {"X-Forwarded-Port": ["443"], "Accept": ["a", "b"]}
    assert "identity" not in fixed["requestContext"]  # null reads as absent, as Mangum expects


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("rawQueryString", 5, "rawQueryString is a JSON number"),
        ("cookies", "a=b", "cookies is a JSON string"),
        ("cookies", [1], "cookies are not all strings"),
        ("queryStringParameters", ["a"], "queryStringParameters is a JSON array"),
    ],
)
def test_fields_of_the_wrong_type_are_named(field: str, value: Any, words: str) -> None:
    _, problem = readable({**V2, field: value})
    assert problem is not None and words in problem
    _, problem = readable({**V2, "requestContext": {**V2["requestContext"], "identity": "me"}})  # type: ignore[dict-item]
    assert problem is not None and "identity is a JSON string" in problem


@pytest.mark.parametrize(
    ("event", "served"),
    [
        ({"rawPath": "/embed", "body": "{}"}, True),
        ({"httpMethod": "POST", "path": "/embed", "body": "{}"}, True),
        ({"path": "/embed", "body": "{}"}, False),  # no method: could be anything
        ({"rawPath": "embed"}, False),
        ({"inputs": "x"}, False),
        ({"rawPath": "/embed", "requestContext": {}}, False),  # has one: readable() reads it as it is
        ("/embed", False),
    ],
)
def test_an_event_without_request_context_is_http_when_it_says_so(event: Any, served: bool) -> None:
    assert http_shaped(event) is served
    if served:
        fixed, problem = readable(event)
        assert problem is None and isinstance(fixed["requestContext"], dict) and "requestContext" not in event
        assert fixed["requestContext"].get("http", {}).get("path", fixed.get("resource")) == "/embed"


def test_client_strings_in_messages_are_escaped_and_cut() -> None:
    forged = '\n{"_aws": {"CloudWatchMetrics": []}, "forged": 1}'
    _, problem = readable({**V2, "headers": {forged: 5}})
    assert problem is not None and "\n" not in problem and "\\n" in problem
    assert "\n" not in shown(forged) and len(shown("k" * 1000)) == 83
