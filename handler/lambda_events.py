"""Answers for Lambda events the app never sees because Mangum cannot read them (the body marked base64 but not
base64, an HTTP event without a path or method: handler.event_shapes) or that are no HTTP request at all (a
direct invocation, an SQS, S3 or EventBridge trigger): a 400 in the error shape of the path the client called,
and one log line without a traceback.

The client's mistake (or its proxy's) is not our failure: a traceback in the log would page someone for it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from handler.dialects import COHERE_PATHS, TEI_PATHS, tei_error_type
from handler.errors import ApiError
from handler.event_shapes import json_kind, shown

log = logging.getLogger("handler")


def event_path(event: dict[str, Any], base_path: str = "/") -> str:
    """The request path of a function URL / HTTP API (rawPath), REST API or ALB (path) event, without the
    configured API base path and a trailing slash, as the app would route it."""
    raw = event.get("rawPath") or event.get("path") or "/"
    path = raw if isinstance(raw, str) else "/"
    base = base_path.rstrip("/")
    if base and (path == base or path.startswith(base + "/")):
        path = path[len(base) :] or "/"
    return path.rstrip("/") or "/"


def error_response(event: dict[str, Any], error: ApiError, base_path: str = "/") -> dict[str, Any]:
    """A Lambda HTTP response carrying the error in the dialect of the event's path (TEI's {error, error_type}
    on TEI's paths, ours elsewhere and where the event names no path, Cohere's 400 for a 413 on Cohere's paths)."""
    path = event_path(event, base_path) if isinstance(event.get("rawPath") or event.get("path"), str) else None
    status = error.status
    body: dict[str, Any] = error.body()
    if path in TEI_PATHS:
        body = {"error": error.message, "error_type": tei_error_type(status, error.code)}
    elif path in COHERE_PATHS and status == 413:
        status = 400
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def bad_base64_body(
    event: dict[str, Any], exc: Exception, base_path: str = "/", request_id: str = ""
) -> dict[str, Any]:
    """The answer to an event whose body is marked base64 (isBase64Encoded) but does not decode; request_id is
    the invocation's (Lambda's aws_request_id), for the log line."""
    body = event.get("body")
    size = len(body) if isinstance(body, str | bytes) else 0
    return _refused(
        event,
        f"its body ({size} characters) is marked base64 but does not decode ({exc})",
        "the request body is marked base64-encoded (isBase64Encoded) but is not valid base64; send the body "
        "as sent by the client, or base64 of it with padding",
        base_path,
        request_id,
    )


def _refused(event: dict[str, Any], why: str, message: str, base_path: str, request_id: str) -> dict[str, Any]:
    """A 400 malformed_event in the path's dialect, and one warning line (no traceback) saying why."""
    log.warning(
        "refused a Lambda event: %s; path %s, request %s",
        why,
        shown(event_path(event, base_path)),
        request_id or "unknown",
    )
    return error_response(event, ApiError(400, "malformed_event", message), base_path)


# Fields an event may carry as null (API Gateway's console tests send "headers": null and the like) that Mangum
# reads as a dict or a string: absent reads the same as empty there, null raises deep inside it.
_NULLABLE = (
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "cookies",
    "rawQueryString",
)


def normalized(event: dict[str, Any]) -> dict[str, Any]:
    """The event with its null optional fields left out (a copy; the event itself is not changed)."""
    if not any(event.get(k, ()) is None for k in _NULLABLE):
        return event
    return {k: v for k, v in event.items() if not (v is None and k in _NULLABLE)}


def body_problem(event: dict[str, Any]) -> str | None:
    """Why the event's body cannot be a request body (None: it can): Lambda hands over a string or nothing."""
    body = event.get("body")
    if body is None or isinstance(body, str):
        return None
    return f"its body is a JSON {type(body).__name__}, not a string"


def unreadable_body(event: dict[str, Any], why: str, base_path: str = "/", request_id: str = "") -> dict[str, Any]:
    """The answer to an event whose body is not a string (a test event written by hand, a proxy's bug)."""
    message = f"the Lambda event cannot be read as an HTTP request: {why} (send the request body as a string)"
    return _refused(event, why, message, base_path, request_id)


def unreadable_event(event: dict[str, Any], why: str, base_path: str = "/", request_id: str = "") -> dict[str, Any]:
    """The answer to an HTTP-looking event that lacks what a request needs (handler.event_shapes says what)."""
    message = f"the Lambda event cannot be read as an HTTP request: {why}"
    return _refused(event, why, message, base_path, request_id)


def event_source(event: Any) -> str:
    """What sent an event that is not an HTTP request, in words (for the answer and the log; no content)."""
    if not isinstance(event, dict):
        return f"a JSON {json_kind(event)} payload (a direct invocation)"
    records = event.get("Records")
    if isinstance(records, list) and records and isinstance(records[0], dict):
        first = records[0]
        source = first.get("eventSource") or first.get("EventSource")
        if "cf" in first:
            return "a CloudFront (Lambda@Edge) event"
        return f"an {shown(source)} event" if isinstance(source, str) else "an event with Records"
    if "raw_path" in event and "method" in event:
        return "a VPC Lattice 1.0 event (choose event structure version 2 on the Lattice target group)"
    if "detail-type" in event and "source" in event:
        return "an EventBridge event"
    keys = ", ".join(shown(str(k)) for k in sorted(event, key=str)[:8]) or "none"
    return f"a direct invocation payload (keys: {keys})"


def unsupported_event(event: Any, request_id: str = "") -> dict[str, Any]:
    """The answer to an event that is no HTTP request at all (`aws lambda invoke` with a request body, an SQS,
    S3 or EventBridge trigger pointed here by mistake): a 400 saying what to send, and one warning line, since
    an asynchronous caller (SQS, S3, EventBridge) drops the answer and the log is all its owner sees."""
    source = event_source(event)
    log.warning("refused a Lambda event: %s is not an HTTP request; request %s", source, request_id or "unknown")
    message = (
        f"this function answers HTTP requests (function URL, API Gateway, ALB events), not {source}; to invoke it "
        "directly, send an HTTP event: a function URL event whose rawPath names the route and whose body is "
        "the request body as a string (the repository's events/*.json)"
    )
    return error_response({}, ApiError(400, "unsupported_event", message))
