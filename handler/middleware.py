"""The one ASGI middleware around every request: id, auth, admission, body limit and read timeout, invalid
Unicode, JSON body, deadline and disconnect, headers, log, last-resort 500.

Pure ASGI rather than BaseHTTPMiddleware so it behaves the same under Mangum (one buffered event) and uvicorn
(a streamed body), and so nothing it does depends on Starlette's exception plumbing: an exception that escapes
the app is logged with the request id and answered with our 500 body, never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edge_encoders import StopToken
from handler import memory, overrides
from handler.admission import current_stop, overloaded, request_deadline, watch_disconnect
from handler.auth import DOCS_PATHS, is_open
from handler.content_encoding import inflate
from handler.errors import ApiError
from handler.event_shapes import shown
from handler.observability import RequestFacts
from handler.state import AppState
from handler.unicode_guard import find_lone_surrogate, lone_surrogate_message

log = logging.getLogger("handler")

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class EdgeMiddleware:
    """Everything a request needs before and after its route, in this order:

    1. a request id and the facts record the log line is made of;
    2. the checks that cost nothing: configuration, API key;
    3. admission (POST only), before the body is read, so an overload is refused without reading it;
    4. the body, under its size limit and read timeout, then invalid Unicode and the JSON content type;
    5. the route, under the request's stop token (deadline, client disconnect);
    6. on the way out: x-request-id and compute headers, an ApiError or last-resort 500 in our shape,
       the admission slot given back, memory trimmed after a large body, one access log line.

    One class, not a stack of middlewares, because the steps share one try/finally: whatever fails at any step,
    the slot is released and the log line records the outcome (a 401 and a 429 are logged like a 200), and the
    order (admission before the body; the stop token around the route only) is visible in one place.
    """

    def __init__(self, app: ASGIApp, state: AppState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        scope = dict(scope)
        headers = _headers(scope)
        facts = RequestFacts(
            request_id=_request_id(scope, headers),
            method=scope.get("method", ""),
            path=scope.get("path", ""),
            cold_start=self.state.claim_cold_start(),
        )
        scope["edge.facts"] = facts
        response_started = False
        head_only = scope.get("method") == "HEAD"

        async def send_wrapper(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                facts.status = int(message["status"])
                extra = [(b"x-request-id", facts.request_id.encode())]
                if facts.compute_ms is not None:
                    extra.append((b"x-compute-time", f"{facts.compute_ms:.3f}".encode()))
                if facts.tokens is not None:
                    extra.append((b"x-compute-tokens", str(facts.tokens).encode()))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            elif message["type"] == "http.response.body" and head_only:
                # HEAD: headers (content-length included) but no body. uvicorn drops it itself; Mangum would
                # put the body in the Lambda response
                message = {**message, "body": b""}
            await send(message)

        admitted = False
        stop = StopToken.after(request_deadline(self.state.settings, scope.get("aws.context")))
        stop_token = current_stop.set(stop)
        app_token = overrides.enter(scope.get("app"))  # whose dependency_overrides the routes consult
        try:
            self.state.require_config()
            self._check_auth(scope, headers)
            if scope.get("method") == "POST":  # every POST computes: admitted before its body is read
                admitted = self.state.admission.try_enter()
                if not admitted:
                    raise overloaded(self.state.settings, self.state.admission.inside)
            body = await self._read_body(scope, receive, headers)
            if body and headers.get("content-encoding"):
                body = inflate(body, headers["content-encoding"], self.state.settings.max_body_bytes)
                scope["headers"] = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"content-encoding"]
            facts.body_bytes = len(body)
            if scope.get("method") in ("POST", "PUT", "PATCH"):
                found = find_lone_surrogate(body)
                if found is not None:
                    raise ApiError(400, "invalid_unicode", lone_surrogate_message(*found))
                # Treat every body as JSON whatever its content-type says: `sam local generate-event` and
                # curl without -H send none or form encoding, and JSON is all this API speaks.
                scope["headers"] = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"content-type"] + [
                    (b"content-type", b"application/json")
                ]
            # HEAD is served by the GET route of its path (FastAPI registers GET routes for GET only); the
            # body is dropped on the way out, the headers (content-length included) are the GET answer's
            if head_only:
                scope["method"] = "GET"  # our copy of the scope: the log line keeps HEAD (facts.method)
            async with watch_disconnect(receive, stop) as app_receive:
                await self.app(scope, _replay(body, app_receive), send_wrapper)
        except ApiError as exc:
            facts.error_code = exc.code
            if not response_started:
                await exc.response()(scope, receive, send_wrapper)
        except Exception:
            log.exception(  # method and path are the client's: escaped, so a newline cannot forge a log line
                "unexpected error in request %s %s (id %s)",
                shown(facts.method),
                shown(facts.path, 200),
                facts.request_id,
            )
            facts.error_code = "internal_error"
            if response_started:
                facts.status = 500
            else:
                error = ApiError(500, "internal_error", f"internal error (request id {facts.request_id})")
                await error.response()(scope, receive, send_wrapper)
        finally:
            current_stop.reset(stop_token)
            overrides.leave(app_token)
            if admitted:
                self.state.admission.leave()
            if facts.body_bytes >= self.state.settings.trim_after_bytes > 0:
                memory.release()
            route = scope.get("route")
            if route is not None and hasattr(route, "path"):
                facts.route = str(route.path)
            self.state.access_log.request(facts, (time.perf_counter() - started) * 1000)

    def _check_auth(self, scope: Scope, headers: dict[str, str]) -> None:
        path = scope.get("path", "")
        if is_open(scope.get("method", ""), path) or (self.state.settings.docs and path in DOCS_PATHS):
            return
        if scope.get("method") == "OPTIONS":  # CORS preflight carries no credentials by design
            return
        self.state.api_key.check(headers.get("authorization"))

    async def _read_body(self, scope: Scope, receive: Receive, headers: dict[str, str]) -> bytes:
        """The whole body, refusing one over the limit before reading it when content-length tells."""
        limit = self.state.settings.max_body_bytes
        declared = headers.get("content-length", "")
        if limit and declared.isdigit() and int(declared) > limit:
            raise _too_large(int(declared), limit)
        chunks: list[bytes] = []
        size = 0
        timeout = self.state.settings.body_timeout_ms / 1000 or None
        while True:
            try:
                message = await asyncio.wait_for(receive(), timeout)
            except TimeoutError:
                raise ApiError(
                    408, "body_timeout", f"the request body stalled for more than {timeout:g} s; send it at once"
                ) from None
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if limit and size > limit:
                raise _too_large(size, limit, at_least=True)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _too_large(size: int, limit: int, *, at_least: bool = False) -> ApiError:
    what = f"more than {limit}" if at_least else f"{size}"
    return ApiError(
        413,
        "body_too_large",
        f"request body is {what} bytes, over the limit of {limit} bytes; split the inputs over several requests",
    )


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive() that hands the already-read body to the app once, then defers to the server."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _request_id(scope: Scope, headers: dict[str, str]) -> str:
    """Lambda's aws_request_id when Mangum passes a context, else the caller's x-request-id if sane, else new."""
    context: Any = scope.get("aws.context")
    aws_id = getattr(context, "aws_request_id", None)
    if isinstance(aws_id, str) and aws_id:
        return aws_id
    incoming = headers.get("x-request-id", "")
    if _SAFE_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex
