"""The outermost ASGI layer: each dialect's error shape, and the Prometheus counts of the inference routes.

Every error inside the app (auth, body limits, validation, the runtime) leaves as our one shape,
{"error": {"message", "type", "code"}}, which is OpenAI's. TEI clients expect {"error": "...",
"error_type": "Validation"} instead, so on TEI's paths the error body is rewritten here, after everything
else ran, whoever raised it. On Cohere's paths the body stays ours but a 413 becomes Cohere's 400: the Cohere
SDK picks its typed error by status and has none for 413. Successful responses pass through untouched.
"""

from __future__ import annotations

import json
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from handler.prometheus import Metrics

# TEI 1.9.3's paths (GET /health keeps our body: TEI clients read only its status)
TEI_PATHS = frozenset(
    {"/", "/invocations", "/ping", "/embed", "/embed_all", "/rerank", "/similarity", "/tokenize", "/decode", "/info"}
    | {"/metrics"}
    # TEI's routes this server does not serve: their 404 still comes in TEI's shape
    | {"/embed_sparse", "/predict", "/vertex"}
)
COHERE_PATHS = frozenset({"/v1/embed", "/v2/embed", "/v1/rerank", "/v2/rerank"})
# routes whose requests are counted in /metrics (a fixed set: label values never come from the client)
INFERENCE_PATHS = frozenset(
    {
        "/",
        "/invocations",
        "/embed",
        "/embed_all",
        "/rerank",
        "/similarity",
        "/native/embed",
        "/native/rerank",
        "/v1/embeddings",
        "/embeddings",
        "/v1/embed",
        "/v2/embed",
        "/v1/rerank",
        "/v2/rerank",
    }
)


def tei_error_type(status: int, code: str) -> str:
    """TEI's ErrorType for one of our errors (TEI: Empty 400, Validation/Tokenizer 422, Overloaded 429, ...)."""
    if status == 400:
        return "Empty" if "empty" in code else "Validation"
    if status == 429:
        return "Overloaded"
    if status == 503:
        return "Unhealthy"
    if status >= 500:
        return "Backend"
    return "Validation"


class DialectMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if len(path) > 1 and path.endswith("/"):
            # "/v1/embeddings/" is served as "/v1/embeddings": Starlette would answer a 307 to a URL it builds
            # from the Host header, which behind an API Gateway stage ("/prod") points at a path that is not there
            path = path.rstrip("/") or "/"
            scope = {**scope, "path": path, "raw_path": path.encode()}
        dialect = "tei" if path in TEI_PATHS else "cohere" if path in COHERE_PATHS else ""
        started = time.perf_counter()
        status = 0
        compute_seconds: float | None = None
        tokens: int | None = None
        held: Message | None = None  # the start of an error response, sent once its body is rewritten
        chunks: list[bytes] = []

        async def send_wrapper(message: Message) -> None:
            nonlocal status, compute_seconds, tokens, held
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = {k.lower(): v for k, v in message.get("headers", [])}
                compute_seconds = _float(headers.get(b"x-compute-time"), 1000.0)
                tokens = _int(headers.get(b"x-compute-tokens"))
                if dialect and status >= 400 and headers.get(b"content-type", b"").startswith(b"application/json"):
                    held = message
                    return
            elif message["type"] == "http.response.body" and held is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = _rewrite(b"".join(chunks), dialect, status)
                kept = [(k, v) for k, v in held.get("headers", []) if k.lower() != b"content-length"]
                kept.append((b"content-length", str(len(body)).encode()))
                start, held = {**held, "headers": kept}, None
                if dialect == "cohere" and status == 413:
                    start["status"] = 400  # Cohere says 400 for too many texts; its SDK has no 413 error class
                await send(start)
                await send({"type": "http.response.body", "body": body, "more_body": False})
                return
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if path in INFERENCE_PATHS and scope.get("method") == "POST" and status:
                self.metrics.record(path, status, time.perf_counter() - started, compute_seconds, tokens)


def _rewrite(body: bytes, dialect: str, status: int) -> bytes:
    try:
        data = json.loads(body)
        error = data["error"]
        message, code = str(error["message"]), str(error.get("code", ""))
    except (ValueError, KeyError, TypeError):
        return body  # not our error shape: leave it as it is
    if dialect != "tei":
        return body
    return json.dumps({"error": message, "error_type": tei_error_type(status, code)}).encode()


def _float(raw: bytes | None, divide: float) -> float | None:
    try:
        return float(raw.decode()) / divide if raw else None
    except ValueError:
        return None


def _int(raw: bytes | None) -> int | None:
    try:
        return int(raw.decode()) if raw else None
    except ValueError:
        return None
