"""One error type and one mapping to HTTP: every failure leaves as {"error": {"message", "type", "code"}}.

Statuses: 400 empty, malformed or invalid Unicode, 401/403 auth, 404/405 routing, 408 body too slow, 413 too
large (inputs, tokens, body, response), 422 invalid values or too long without truncation, 429 overloaded
(Retry-After), 499 client went away (log only), 503 not ready or no slot before the deadline, 504 deadline
passed during compute, 500 unexpected (logged here, never described to the client).
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from edge_encoders.errors import (
    BundleError,
    DeadlineExceededError,
    EdgeEncodersError,
    EmptyInputError,
    InputError,
    InvalidTextError,
    RequestCancelledError,
    TooManyInputsError,
    TooManyTokensError,
    UnboundedInputError,
)
from handler.error_docs import ref_responses
from handler.schemas import SENT

log = logging.getLogger("handler")

# status -> the "type" field clients branch on (OpenAI's vocabulary where it has a word for it)
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "timeout_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    499: "client_closed_request",
    500: "server_error",
    503: "service_unavailable",
    504: "timeout_error",
}


class ApiError(Exception):
    """An error with the status, code and message the client will see."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    @property
    def type(self) -> str:
        return _TYPES.get(self.status, "invalid_request_error" if self.status < 500 else "server_error")

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "code": self.code}}

    def response(self) -> Response:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)

    def body_bytes(self) -> bytes:
        return json.dumps(self.body()).encode()


class BodyRefused(StarletteHTTPException):
    """An ApiError raised while FastAPI reads a route's body: FastAPI turns any other exception there into a
    generic 400 but passes HTTPExceptions on, and from_http unwraps this one (handler/json_body.py)."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(error.status, error.message)
        self.error = error


class ErrorDetail(BaseModel):
    model_config = SENT

    message: str
    type: str
    code: str


class ErrorBody(BaseModel):
    """The one error shape (documented on every route)."""

    model_config = SENT

    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the given statuses, all with the error body (by reference: error_docs)."""
    return ref_responses(ErrorBody, {s: _TYPES.get(s, "error") for s in statuses})


# Runtime error class -> status. The runtime's message is written for users and goes to the client as is.
# An error takes the entry of the first class along its MRO, so a subclass may map apart from its base.
RUNTIME_STATUSES: dict[type[EdgeEncodersError], int] = {
    EmptyInputError: 400,
    InvalidTextError: 400,
    TooManyInputsError: 413,
    TooManyTokensError: 413,
    UnboundedInputError: 413,
    InputError: 422,  # InputTooLongError, InvalidArgumentError and any other input the model cannot take
    RequestCancelledError: 499,
    DeadlineExceededError: 504,
}
# Our failures, not the client's: the message (paths, library text) goes to the log under this label, and the
# client gets a fixed one.
RUNTIME_FAILURES: dict[type[EdgeEncodersError], tuple[int, str, str, str]] = {
    BundleError: (503, "model_unavailable", "the model cannot be used right now; see the server log", "bundle error"),
    EdgeEncodersError: (500, "internal_error", "internal error; see the server log", "runtime error"),
}


def from_runtime(exc: EdgeEncodersError) -> ApiError:
    """Map a runtime error to its status by the tables above."""
    for cls in type(exc).__mro__:
        if cls in RUNTIME_STATUSES:
            return ApiError(RUNTIME_STATUSES[cls], exc.code, exc.message)
        if cls in RUNTIME_FAILURES:
            status, code, message, label = RUNTIME_FAILURES[cls]
            log.error("%s while serving: %s", label, exc.message)
            return ApiError(status, code, message)
    raise TypeError(f"{type(exc).__name__} is not an EdgeEncodersError")  # unreachable: the base is in the table


def from_validation(exc: RequestValidationError) -> ApiError:
    """pydantic/FastAPI request errors: 400 when there is no usable JSON object, else 422 naming the fields."""
    errors = list(exc.errors())
    for err in errors:
        loc = tuple(err.get("loc", ()))
        if err.get("type") == "json_invalid":
            where = loc[1] if len(loc) > 1 else "?"
            reason = (err.get("ctx") or {}).get("error", "invalid JSON")
            return ApiError(400, "malformed_json", f"request body is not valid JSON ({reason} at character {where})")
        if loc == ("body",) and err.get("type") == "missing":
            return ApiError(400, "empty_body", "request body is empty; send a JSON object")
        if loc == ("body",):
            return ApiError(400, "malformed_body", "request body must be a JSON object")
    parts = []
    for err in errors[:5]:
        path = [str(p) for p in err.get("loc", ()) if p != "body"]
        parts.append(f"{'.'.join(path) or 'body'}: {err.get('msg', 'invalid')}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return ApiError(422, "invalid_request", "; ".join(parts) + more)


UNREADABLE_JSON = (
    "request body cannot be read as JSON; send UTF-8 encoded JSON, nested at most a few hundred levels deep, with "
    f"integers of at most {sys.get_int_max_str_digits() or 4300:,} digits"
)
_UNPARSEABLE = "There was an error parsing the body"  # FastAPI's detail when the body cannot even be decoded


def from_http(exc: StarletteHTTPException) -> ApiError:
    """Routing and framework errors (404, 405, ...) in our shape."""
    if isinstance(exc, BodyRefused):
        return exc.error
    if exc.status_code == 404:
        return ApiError(404, "not_found", "no such route; see /docs for the routes this server has")
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("allow", (exc.headers or {}).get("Allow", ""))
        msg = "method not allowed on this route" + (f"; use {allowed}" if allowed else "")
        return ApiError(405, "method_not_allowed", msg, headers=dict(exc.headers or {}))
    if exc.status_code == 413:
        return ApiError(413, "body_too_large", str(exc.detail))
    if exc.status_code == 400 and exc.detail == _UNPARSEABLE:
        # bytes that are no JSON text (not UTF-8/16/32), nesting past the parser's stack, or an integer longer than
        # Python's int conversion limit (valid JSON, but no count or id here needs more than a few digits)
        return ApiError(400, "malformed_json", UNREADABLE_JSON)
    code = "http_error" if exc.status_code < 500 else "internal_error"
    return ApiError(exc.status_code, code, str(exc.detail), headers=dict(exc.headers or {}))


def base_path_hint(path: str, routes: set[str]) -> str:
    """Advice for a 404 whose path is a route behind one more leading segment (an API Gateway stage such as
    /prod, or a custom domain's base path mapping, that EDGE_API_BASE_PATH does not strip): else ''."""
    head, sep, rest = path.lstrip("/").partition("/")
    tail = "/" + rest.rstrip("/")
    if not sep or not head or tail not in routes:
        return ""
    return (
        f" ({path} is {tail} behind /{head}: if /{head} is an API Gateway stage or base path, set "
        f"EDGE_API_BASE_PATH=/{head} on the function so that it is stripped before routing)"
    )


def _respond(request: Request, error: ApiError) -> Response:
    facts = request.scope.get("edge.facts")
    if facts is not None:
        facts.error_code = error.code
    return error.response()


def install(app: FastAPI) -> None:
    """Register the mapping on an app. Unexpected exceptions are handled by the request middleware."""

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return _respond(request, exc)

    async def on_runtime_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, EdgeEncodersError)
        return _respond(request, from_runtime(exc))

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return _respond(request, from_validation(exc))

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        error = from_http(exc)
        if exc.status_code == 404 and "aws.event" in request.scope:  # in Lambda: a stage left in the path?
            hint = base_path_hint(str(request.scope.get("path", "")), {getattr(r, "path", "") for r in app.routes})
            error = ApiError(404, error.code, error.message + hint) if hint else error
        return _respond(request, error)

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(EdgeEncodersError, on_runtime_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
