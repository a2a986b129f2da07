"""Answers for Lambda events the app never sees because Mangum cannot read them (the body marked base64 but not
base64): a 400 in the error shape of the path the client called, and one log line without a traceback.

The client's mistake (or its proxy's) is not our failure: a traceback in the log would page someone for it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from handler.dialects import COHERE_PATHS, TEI_PATHS, tei_error_type
from handler.errors import ApiError

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
    on TEI's paths, ours elsewhere, Cohere's 400 for a 413 on Cohere's paths)."""
    path = event_path(event, base_path)
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
        "refused a Lambda event: %s; path %s, request %s", why, event_path(event, base_path), request_id or "unknown"
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
