"""Calling the deployed function URL from Python, signed with SigV4 (AuthType AWS_IAM) or with an API key.

Why a client of our own: a function URL with AWS_IAM auth rejects unsigned calls, and generic HTTP clients
do not sign. The signing is botocore's own (SigV4Auth, service "lambda"), with the caller's usual AWS
credentials (env, profile, SSO, instance role). The transport is the standard library's urllib so the
runtime stays small; botocore is imported only when a request is signed (`pip install edge-encoders[aws]`).
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from edge_encoders.errors import EdgeEncodersError

_URL_REGION = re.compile(r"^[a-z0-9]+\.lambda-url\.([a-z0-9-]+)\.on\.aws$")


class FunctionUrlError(EdgeEncodersError):
    """The function URL answered with an error status, or could not be reached."""

    code = "function_url_error"

    def __init__(self, message: str, *, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


def region_from_url(url: str) -> str | None:
    """``https://<id>.lambda-url.eu-west-1.on.aws/`` -> "eu-west-1"; None for other hosts."""
    host = (urlsplit(url).hostname or "").lower()
    match = _URL_REGION.match(host)
    return match.group(1) if match else None


class FunctionUrlClient:
    """embed / rerank (and any other route) against an edge-encoders function URL.

    Without ``api_key`` requests are signed with SigV4 (AuthType AWS_IAM); with ``api_key`` they carry it as
    a bearer token instead (AuthType NONE behind the handler's key): both cannot share the Authorization
    header. ``credentials`` is a botocore Credentials object; by default the botocore session's are used.
    The region comes from the URL, else ``region``, else the session / AWS_REGION.
    """

    def __init__(
        self,
        url: str,
        *,
        region: str | None = None,
        credentials: Any | None = None,
        sign: bool | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise FunctionUrlError(f"function URL {url!r} is not an http(s) URL")
        if sign and api_key:
            raise FunctionUrlError(
                "sign=True and api_key both use the Authorization header: an AWS_IAM URL needs no API key"
            )
        self.url = url.rstrip("/")
        self.sign = api_key is None if sign is None else sign
        self.api_key = api_key
        self.timeout = timeout
        self._region = region or region_from_url(url)
        self._credentials = credentials

    # -- signing -------------------------------------------------------------------------------------------
    def _resolve_region(self) -> str:
        if self._region:
            return self._region
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if not region:
            import botocore.session

            region = botocore.session.get_session().get_config_variable("region")
        if not region:
            raise FunctionUrlError("no AWS region: the URL names none; pass region= or set AWS_REGION")
        self._region = str(region)
        return self._region

    def _resolve_credentials(self) -> Any:
        if self._credentials is None:
            try:
                import botocore.session
            except ImportError:
                raise FunctionUrlError(
                    "signing needs botocore: `pip install edge-encoders[aws]` (or pass sign=False)"
                ) from None
            credentials = botocore.session.get_session().get_credentials()
            if credentials is None:
                raise FunctionUrlError(
                    "no AWS credentials found to sign the request (env, ~/.aws, SSO or instance role)"
                )
            self._credentials = credentials
        return self._credentials

    def signed_headers(self, method: str, url: str, body: bytes, headers: dict[str, str]) -> dict[str, str]:
        """Headers to send: ``headers`` plus SigV4's (Authorization, X-Amz-Date, token, content hash)."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
        SigV4Auth(self._resolve_credentials(), "lambda", self._resolve_region()).add_auth(request)
        return {key: str(value) for key, value in request.headers.items()}

    # -- transport -----------------------------------------------------------------------------------------
    def request(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        """Send one JSON request; return the decoded JSON answer or raise FunctionUrlError."""
        url = f"{self.url}/{path.lstrip('/')}"
        body = b"" if payload is None else json.dumps(payload).encode("utf-8")
        headers = {"accept": "application/json"}
        if payload is not None:
            headers["content-type"] = "application/json"
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        if self.sign:
            headers = self.signed_headers(method, url, body, headers)
        request = urllib.request.Request(url, data=body if payload is not None else None, method=method)
        for key, value in headers.items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return _decode(response.read())
        except urllib.error.HTTPError as exc:
            detail = _decode(exc.read())
            message = detail.get("error", {}).get("message") if isinstance(detail, dict) else None
            if not message and isinstance(detail, dict):
                message = detail.get("message") or detail.get("Message")
            raise FunctionUrlError(
                f"{method} {url} answered {exc.code}: {message or detail}", status=exc.code, body=detail
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            raise FunctionUrlError(f"{method} {url} failed: {exc}") from None

    # -- API -----------------------------------------------------------------------------------------------
    def embed(self, inputs: str | Sequence[str], **options: Any) -> Any:
        """POST /native/embed; options as the native route takes them (normalize, dimensions, precision, ...)."""
        return self.request("POST", "/native/embed", {"inputs": _texts(inputs), **options})

    def rerank(self, query: str, texts: Sequence[str], **options: Any) -> Any:
        """POST /native/rerank; options as the native route takes them (top_n, return_text, raw_scores, ...)."""
        return self.request("POST", "/native/rerank", {"query": query, "texts": list(texts), **options})

    def health(self) -> Any:
        return self.request("GET", "/health")


def _texts(inputs: str | Sequence[str]) -> str | list[str]:
    return inputs if isinstance(inputs, str) else list(inputs)


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, ValueError):
        return raw.decode("utf-8", errors="replace")
