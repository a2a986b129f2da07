"""What Mangum reads from a Lambda HTTP event, checked before it reads it, with the gaps it can do without filled.

Mangum picks a reader by a key or two (`requestContext.elb`: ALB; `version`: HTTP API / function URL;
`resource`: REST API) and then indexes the fields that reader needs: a hand-written test event, one from a
service that leaves a field out or a console template edited by hand raised a KeyError or TypeError deep
inside it (a traceback in the log for the client's mistake). Here:

- what can be read unambiguously from elsewhere in the event is filled in, and the event is served: a 2.0
  event without `requestContext.http` (path from `rawPath` or `path`, method from `method`, `routeKey` or
  `httpMethod`, else POST when there is a body and GET when there is none: every route here that reads a
  body is a POST), which is also what VPC Lattice sends (its 2.0 events, whose headers hold lists of values,
  joined here by commas as HTTP joins repeated headers), an ALB event without headers, an event with a path
  and a method but neither `version` nor `resource`;
- anything else Mangum would trip over is named (`problem`), and answered as a 400 `malformed_event` with one
  warning line (handler.lambda_events).

The event itself is never changed: a repaired copy is returned.
"""

from __future__ import annotations

from typing import Any

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def json_kind(value: Any) -> str:
    """A JSON value's type in JSON's words, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def _method(event: dict[str, Any], context: dict[str, Any]) -> str:
    """The request method of an event without `requestContext.http`: stated elsewhere, else inferred."""
    for stated in (event.get("method"), context.get("httpMethod"), event.get("httpMethod")):
        if isinstance(stated, str) and stated.upper() in _METHODS:
            return stated.upper()
    route_key = event.get("routeKey") or context.get("routeKey")
    if isinstance(route_key, str) and route_key.split(" ", 1)[0].upper() in _METHODS:
        return route_key.split(" ", 1)[0].upper()
    return "POST" if event.get("body") else "GET"


def _path(event: dict[str, Any]) -> str | None:
    for key in ("rawPath", "path"):
        value = event.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _joined_headers(event: dict[str, Any]) -> dict[str, Any]:
    """A 2.0 event whose headers hold lists of values (VPC Lattice's 2.0 events) with each list joined by commas,
    as HTTP joins repeated headers; any other event as it is."""
    headers = event.get("headers")
    if not isinstance(headers, dict) or not any(isinstance(v, list) for v in headers.values()):
        return event
    if not all(isinstance(x, str) for v in headers.values() if isinstance(v, list) for x in v):
        return event  # named by _header_problem
    joined = {k: ",".join(v) if isinstance(v, list) else v for k, v in headers.items()}
    return {**event, "headers": joined}


def _header_problem(event: dict[str, Any]) -> str | None:
    """Mangum encodes every header name and value as a string (multi-value: each value of a list)."""
    headers = event.get("headers")
    if headers is not None:
        if not isinstance(headers, dict):
            return f"its headers are a JSON {json_kind(headers)}, not an object"
        for name, value in headers.items():
            if not isinstance(value, str):
                return f"its header {name!r} is a JSON {json_kind(value)}, not a string"
    multi = event.get("multiValueHeaders")
    if multi is not None:
        if not isinstance(multi, dict):
            return f"its multiValueHeaders are a JSON {json_kind(multi)}, not an object"
        for name, values in multi.items():
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                return f"its multiValueHeaders entry {name!r} is not a list of strings"
    return None


def _http_context(event: dict[str, Any], context: dict[str, Any]) -> dict[str, Any] | None:
    """The `requestContext.http` a 2.0 event should carry, completed from the event (None: no path anywhere)."""
    given = context.get("http")
    http = dict(given) if isinstance(given, dict) else {}
    path = http.get("path") if isinstance(http.get("path"), str) and http.get("path") else _path(event)
    if path is None:
        return None
    method = http.get("method")
    http["path"] = path
    http["method"] = method.upper() if isinstance(method, str) and method else _method(event, context)
    if not isinstance(http.get("sourceIp"), str):
        identity = context.get("identity")
        source = identity.get("sourceIp") if isinstance(identity, dict) else None
        http["sourceIp"] = source if isinstance(source, str) else ""
    return http


def readable(event: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """(the event as Mangum can read it, None), or (the event, why it cannot be read as an HTTP request)."""
    context = event.get("requestContext")
    if not isinstance(context, dict):
        return event, f"its requestContext is a JSON {json_kind(context)}, not an object"
    if event.get("version") == "2.0":
        event = _joined_headers(event)
    problem = _header_problem(event)
    if problem:
        return event, problem
    if "elb" in context:  # ALB: Mangum reads path, httpMethod, and headers or multiValueHeaders
        if not isinstance(event.get("httpMethod"), str) or not isinstance(event.get("path"), str):
            return event, "it is an ALB event without an httpMethod and a path"
        repaired = dict(event)
        if "headers" not in event and "multiValueHeaders" not in event:
            repaired["headers"] = {}
        return repaired, None
    if event.get("version") == "2.0":
        http = _http_context(event, context)
        if http is None:
            return event, "it is a 2.0 event with neither requestContext.http.path nor rawPath nor path"
        if http == context.get("http"):
            return event, None  # (a copy if its headers were joined above)
        return {**event, "requestContext": {**context, "http": http}}, None
    method, path = event.get("httpMethod"), event.get("path")
    if isinstance(method, str) and method and isinstance(path, str):  # REST API (1.0) and ALB-like shapes
        if "version" in event or "resource" in event:
            return event, None
        return {**event, "resource": path}, None  # Mangum's REST API reader then takes it
    if "version" in event or "resource" in event:
        return event, "it is a 1.0 (REST API) event without httpMethod and path"
    if _path(event) is not None:  # a 2.0 shape that does not say so
        return readable({**event, "version": "2.0"})
    return event, "it has no request path (rawPath or path): not an HTTP event"
