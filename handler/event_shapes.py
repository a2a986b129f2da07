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
  and a method but neither `version` nor `resource`, one without `requestContext` that has a `rawPath` or a
  `path` and `httpMethod` (a test event written by hand);
- a Host or X-Forwarded-Port header Mangum cannot parse (an IPv6 literal, a list of ports) is left out
  (nothing here reads the server name), a null `requestContext.identity` reads as absent;
- anything else Mangum would trip over is named (`problem`), and answered as a 400 `malformed_event` with one
  warning line (handler.lambda_events).

The event itself is never changed: a repaired copy is returned.
"""

from __future__ import annotations

import json
import re
from typing import Any

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def shown(value: str, limit: int = 80) -> str:
    """A client's string (a key, a path, a header name) as a message or a log line may carry it: escaped (a
    newline in it cannot start a forged JSON log line, which CloudWatch would read as an EMF metrics record)
    and cut to `limit` characters."""
    text = json.dumps(value[:limit])[1:-1]
    return text + "..." if len(value) > limit else text


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


# Fields Mangum reads with one type in mind; null ones are left out before (handler.lambda_events.normalized)
_FIELD_TYPES: dict[str, tuple[type, str]] = {
    "rawQueryString": (str, "string"),
    "cookies": (list, "array"),
    "queryStringParameters": (dict, "object"),
    "multiValueQueryStringParameters": (dict, "object"),
}
_PORT = re.compile(r"\s*\d+\s*")
_HOST = re.compile(r"[^:]*(:\s*\d+\s*)?")


def _server_header_ok(name: str, value: str) -> bool:
    """Whether Mangum can read this Host / X-Forwarded-Port value as a server name and port (it splits the Host
    at its one colon and reads the port as an int: an IPv6 literal or a port list raised ValueError there)."""
    if name == "host":
        return _HOST.fullmatch(value) is not None
    return name != "x-forwarded-port" or _PORT.fullmatch(value) is not None


def _readable_server_headers(event: dict[str, Any]) -> dict[str, Any]:
    """The event without Host / X-Forwarded-Port values Mangum cannot parse (they only name the server in the
    ASGI scope, which nothing here reads); the event itself when they are all readable (nearly always)."""
    repaired = event
    headers = event.get("headers")
    if isinstance(headers, dict) and not all(
        _server_header_ok(k.lower(), v) for k, v in headers.items() if isinstance(v, str)
    ):
        kept = {k: v for k, v in headers.items() if not isinstance(v, str) or _server_header_ok(k.lower(), v)}
        repaired = {**repaired, "headers": kept}
    multi = event.get("multiValueHeaders")
    if isinstance(multi, dict) and any(k.lower() in ("host", "x-forwarded-port") for k in multi):
        fixed: dict[str, Any] = {}
        for key, values in multi.items():
            if key.lower() in ("host", "x-forwarded-port") and isinstance(values, list):
                good = [v for v in values if isinstance(v, str) and _server_header_ok(key.lower(), v)][-1:]
                if good:
                    fixed[key] = good  # one value: REST API joins several with ", ", which no int reads
            else:
                fixed[key] = values
        if fixed != multi:
            repaired = {**repaired, "multiValueHeaders": fixed}
    return repaired


def _field_problem(event: dict[str, Any]) -> str | None:
    for field, (kind, words) in _FIELD_TYPES.items():
        if field in event and not isinstance(event[field], kind):
            return f"its {field} is a JSON {json_kind(event[field])}, not an {words}"
    if "cookies" in event and not all(isinstance(c, str) for c in event["cookies"]):
        return "its cookies are not all strings"
    return None


def _header_problem(event: dict[str, Any]) -> str | None:
    """Mangum encodes every header name and value as a string (multi-value: each value of a list)."""
    headers = event.get("headers")
    if headers is not None:
        if not isinstance(headers, dict):
            return f"its headers are a JSON {json_kind(headers)}, not an object"
        for name, value in headers.items():
            if not isinstance(value, str):
                return f"its header '{shown(name)}' is a JSON {json_kind(value)}, not a string"
    multi = event.get("multiValueHeaders")
    if multi is not None:
        if not isinstance(multi, dict):
            return f"its multiValueHeaders are a JSON {json_kind(multi)}, not an object"
        for name, values in multi.items():
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                return f"its multiValueHeaders entry '{shown(name)}' is not a list of strings"
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


def http_shaped(event: Any) -> bool:
    """Whether an event without `requestContext` still says it is an HTTP request: a `rawPath`, or a `path`
    with an `httpMethod`, starting with "/" (a test event written by hand; `readable` then serves it)."""
    if not isinstance(event, dict) or "requestContext" in event:
        return False
    raw, path, method = event.get("rawPath"), event.get("path"), event.get("httpMethod")
    return (isinstance(raw, str) and raw.startswith("/")) or (
        isinstance(method, str) and isinstance(path, str) and path.startswith("/")
    )


def readable(event: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """(the event as Mangum can read it, None), or (the event, why it cannot be read as an HTTP request)."""
    if http_shaped(event):
        event = {**event, "requestContext": {}}
    context = event.get("requestContext")
    if not isinstance(context, dict):
        return event, f"its requestContext is a JSON {json_kind(context)}, not an object"
    if event.get("version") == "2.0":
        event = _joined_headers(event)
    problem = _header_problem(event) or _field_problem(event)
    if problem:
        return event, problem
    event = _readable_server_headers(event)
    if "identity" in context and not isinstance(context["identity"], dict):  # REST API: Mangum reads sourceIp in it
        if context["identity"] is not None:
            return event, f"its requestContext.identity is a JSON {json_kind(context['identity'])}, not an object"
        context = {k: v for k, v in context.items() if k != "identity"}
        event = {**event, "requestContext": context}
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
