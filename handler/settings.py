"""Settings of the HTTP/Lambda layer, read once from environment variables with the prefix EDGE_.

A plain frozen dataclass rather than pydantic-settings: the handful of values below do not need it, and every
package we leave out is one less in the Lambda image. Each field's env var is EDGE_<FIELD NAME IN CAPITALS>;
handler/SETTINGS.md documents them. A value that cannot be parsed raises SettingsError naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from edge_encoders import BatchPolicy

_RUNTIME_POLICY = BatchPolicy()  # the runtime's measured defaults (edge_encoders/batching.py)

PREFIX = "EDGE_"
_FALSE_WORDS = {"", "0", "false", "no", "off", "none", "disabled"}
_TRUE_WORDS = {"1", "true", "yes", "on"}
_METRICS_MODES = ("auto", "emf", "off")

# Lambda function URLs refuse request and response bodies over 6 MB (6 * 1024 * 1024 bytes).
LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024


class SettingsError(ValueError):
    """An EDGE_* environment variable holds a value we cannot use."""


@dataclass(frozen=True)
class Settings:
    """Everything the handler reads from the environment. Defaults fit a Lambda function URL."""

    # Where the bundles are. An empty value (or "none"/"off") turns that model off.
    embed_bundle: str = "artifacts/embed"
    rerank_bundle: str = "artifacts/rerank"
    bundle_s3_uri: str = ""  # s3://bucket/prefix holding embed/ and rerank/; fetched at init into the cache dir
    bundle_cache_dir: str = "/tmp/edge-bundles"
    verify_bundles: bool = True  # sha256 of every file loaded, at init
    warmup: bool = True  # one inference per model at init, so the first request does not pay for it
    bulk_output: str = ""  # bulk function (handler.bulk): default shard location when BatchInput names none

    # onnxruntime and batching
    threads: int = 0  # intra-op threads; 0 = the CPUs this process may really use
    cpu_mem_arena: bool = True
    token_budget: int = _RUNTIME_POLICY.token_budget  # padded tokens per onnxruntime call
    max_batch_size: int = _RUNTIME_POLICY.max_batch_size  # rows per onnxruntime call
    max_concurrency: int = 1  # inferences at once in this process (more only oversubscribes the CPUs)

    # Request limits; past one, 413 with a message that says how to split the request.
    max_inputs: int = 1024  # texts per embed call, documents per rerank call
    max_tokens: int = 65536  # tokens per request (after truncation), bounds compute time
    max_body_bytes: int = LAMBDA_PAYLOAD_LIMIT
    max_response_bytes: int = LAMBDA_PAYLOAD_LIMIT  # 0 = no check

    # Auth: an optional bearer API key, from one of these sources (first non-empty wins).
    api_key: str = field(default="", repr=False)
    api_key_ssm_parameter: str = ""
    api_key_secret_id: str = ""

    # HTTP surface and observability
    docs: bool = True  # serve /docs and /openapi.json
    api_base_path: str = "/"  # strip this prefix from API Gateway paths (e.g. a stage name)
    access_log: bool = True  # one JSON line per request on stdout
    metrics: str = "auto"  # CloudWatch EMF in the access log line: auto (on Lambda), emf, off
    metrics_namespace: str = "EdgeEncoders"
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from EDGE_* variables (default: os.environ); unknown EDGE_ names are ignored."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = PREFIX + f.name.upper()
            if name not in env:
                continue
            raw = env[name].strip()
            values[f.name] = _parse(name, raw, type(getattr(_DEFAULTS, f.name)))
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse values that would only fail later, less clearly."""
        for name in ("token_budget", "max_batch_size", "max_concurrency", "max_inputs", "max_tokens"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{PREFIX}{name.upper()} must be at least 1")
        for name in ("threads", "max_body_bytes", "max_response_bytes"):
            if getattr(self, name) < 0:
                raise SettingsError(f"{PREFIX}{name.upper()} must not be negative")
        if self.metrics not in _METRICS_MODES:
            raise SettingsError(f"{PREFIX}METRICS must be one of {', '.join(_METRICS_MODES)}; got {self.metrics!r}")
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise SettingsError(f"{PREFIX}LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        if self.bundle_s3_uri and not self.bundle_s3_uri.startswith("s3://"):
            raise SettingsError(f"{PREFIX}BUNDLE_S3_URI must look like s3://bucket/prefix")

    def bundle_path(self, kind: str) -> str | None:
        """The configured bundle location of 'embed' or 'rerank', or None when that model is turned off."""
        raw = self.embed_bundle if kind == "embed" else self.rerank_bundle
        return None if raw.strip().lower() in _FALSE_WORDS else raw

    @property
    def emf_enabled(self) -> bool:
        if self.metrics == "auto":
            return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))
        return self.metrics == "emf"

    def public(self) -> dict[str, Any]:
        """The limits a client may want to know (for /info): never a key or where it comes from."""
        return {
            "max_inputs": self.max_inputs,
            "max_tokens": self.max_tokens,
            "max_body_bytes": self.max_body_bytes,
            "max_response_bytes": self.max_response_bytes,
            "auth": "api_key" if self.auth_configured else "none",
        }

    @property
    def auth_configured(self) -> bool:
        return bool(self.api_key or self.api_key_ssm_parameter or self.api_key_secret_id)


_DEFAULTS = Settings()


def _parse(name: str, raw: str, kind: type) -> Any:
    if kind is bool:
        lowered = raw.lower()
        if lowered in _TRUE_WORDS:
            return True
        if lowered in _FALSE_WORDS:
            return False
        raise SettingsError(f"{name} must be true or false; got {raw!r}")
    if kind is int:
        try:
            return int(raw.replace("_", ""))
        except ValueError:
            raise SettingsError(f"{name} must be an integer; got {raw!r}") from None
    return raw
