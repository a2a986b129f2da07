"""Optional bearer API key: for function URLs with AuthType NONE and for non-Lambda targets.

With AuthType AWS_IAM, AWS checks the SigV4 signature before the function runs; set no key then.
The key comes from EDGE_API_KEY, or is read once at init from SSM Parameter Store or Secrets Manager
(boto3, imported only then). If a configured source cannot be read, every protected route answers 503:
failing closed, never serving without the key that was asked for.
"""

from __future__ import annotations

import hmac
import json
import logging
from dataclasses import dataclass

from handler.errors import ApiError
from handler.settings import Settings

log = logging.getLogger("handler")

# Paths served without a key: a liveness probe needs none and reveals nothing.
OPEN_PATHS = frozenset({"/health", "/ready"})
# Open to GET and HEAD only, as TEI leaves them open when it has an API key: its health aliases (the Inference
# API's GET /, SageMaker's GET /ping: platform probes that send no key) and the Prometheus scrape. POST / and
# GET /info still need the key.
OPEN_READ_PATHS = frozenset({"/", "/ping", "/metrics"})
DOCS_PATHS = frozenset(
    {
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/openapi.json",
        "/docs/swagger-ui-bundle.js",  # the page's assets (handler/docs.py): a browser sends no key for them
        "/docs/swagger-ui.css",
        "/docs/favicon.png",
    }
)


def is_open(method: str, path: str) -> bool:
    """Whether a request is served without the API key (docs paths aside: they depend on a setting)."""
    return path in OPEN_PATHS or (method in ("GET", "HEAD") and path in OPEN_READ_PATHS)


@dataclass(frozen=True)
class ApiKey:
    """The expected key (None: auth off) or why it could not be had."""

    key: bytes | None = None
    error: str | None = None

    def check(self, authorization: str | None) -> None:
        """Raise ApiError unless the Authorization header carries the key (constant-time comparison)."""
        if self.error is not None:
            raise ApiError(503, "auth_unavailable", "the API key could not be loaded at start-up; see the server log")
        if self.key is None:
            return
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(
                401,
                "missing_api_key",
                "send the API key as 'Authorization: Bearer <key>'",
                headers={"www-authenticate": "Bearer"},
            )
        if not hmac.compare_digest(token.strip().encode(), self.key):
            # 401 as OpenAI answers a wrong key (its SDK raises AuthenticationError), with its code
            raise ApiError(
                401,
                "invalid_api_key",
                "Incorrect API key provided",
                headers={"www-authenticate": 'Bearer error="invalid_token"'},
            )


def load_api_key(settings: Settings) -> ApiKey:
    """Resolve the key once per process: env first, then SSM, then Secrets Manager."""
    try:
        if settings.api_key:
            return ApiKey(settings.api_key.encode())
        if settings.api_key_ssm_parameter:
            return ApiKey(_from_ssm(settings.api_key_ssm_parameter).encode())
        if settings.api_key_secret_id:
            return ApiKey(_from_secrets_manager(settings.api_key_secret_id).encode())
    except Exception as exc:  # boto3 raises many types; the cause belongs in the log, not in responses
        log.error("cannot read the API key: %s: %s", type(exc).__name__, exc)
        return ApiKey(error=f"{type(exc).__name__}")
    return ApiKey()


def _from_ssm(name: str) -> str:
    from edge_encoders.aws.aws_clients import client  # boto3 lazily: only deployments with a key there pay for it

    response = client("ssm").get_parameter(Name=name, WithDecryption=True)
    return _nonempty(str(response["Parameter"]["Value"]), f"SSM parameter {name}")


def _from_secrets_manager(secret_id: str) -> str:
    from edge_encoders.aws.aws_clients import client

    response = client("secretsmanager").get_secret_value(SecretId=secret_id)
    raw = str(response.get("SecretString") or "")
    # A secret may be the key itself or a JSON object holding it under "api_key" (the console's key/value form).
    if raw.lstrip().startswith("{"):
        raw = str(json.loads(raw).get("api_key", ""))
    return _nonempty(raw, f"secret {secret_id}")


def _nonempty(value: str, where: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError(f"{where} is empty")
    return value
