"""Settings of the HTTP/Lambda layer, read once from environment variables with the prefix EDGE_.

A plain frozen dataclass rather than pydantic-settings: the handful of values below do not need it, and every
package we leave out is one less in the Lambda image. Each field's env var is EDGE_<FIELD NAME IN CAPITALS>;
handler/SETTINGS.md documents them. A value that cannot be parsed raises SettingsError naming the variable.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from edge_encoders import BatchPolicy
from edge_encoders.families import family_names
from edge_encoders.scheduling import RUN_MODES

_RUNTIME_POLICY = BatchPolicy()  # the runtime's measured defaults (edge_encoders/batching.py)

PREFIX = "EDGE_"
_FALSE_WORDS = {"", "0", "false", "no", "off", "none", "disabled"}
_TRUE_WORDS = {"1", "true", "yes", "on"}
_METRICS_MODES = ("auto", "emf", "off")
_RUN_MODES = ("auto", *RUN_MODES)

# Largest integer setting: what C APIs below (onnxruntime thread counts, timers) take as a 32-bit int.
MAX_INT = 2**31 - 1
# EDGE_* names read elsewhere (server entry point, the build, the test tiers): not typos of a setting
_OTHER_PREFIXES = ("EDGE_SERVER_", "EDGE_EXPORT_", "EDGE_TEST_")

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
    thread_spinning: bool = True  # idle onnxruntime threads spin before sleeping (the Lambda image turns it off)
    cpu_mem_arena: bool = True
    # Hand the arena's unused chunks back after every run: measured with malloc_trim after a large request,
    # RSS came back to warm (-35 MB) as with no arena, while the arena alone kept +35 MB; speed within noise.
    arena_shrinkage: bool = True
    token_budget: int = _RUNTIME_POLICY.token_budget  # padded tokens per onnxruntime call
    max_batch_size: int = _RUNTIME_POLICY.max_batch_size  # rows per onnxruntime call
    max_concurrency: int = 1  # inferences at once in this process (more only oversubscribes the CPUs)
    # a call's micro-batches: auto = the bundle's run hint (measured by the build), sequential, concurrent
    run_mode: str = "auto"

    # Request limits; past one, 413 with a message that says how to split the request.
    max_inputs: int = 1024  # texts per embed call, documents per rerank call
    max_tokens: int = 65536  # tokens per request (after truncation), bounds compute time
    max_body_bytes: int = LAMBDA_PAYLOAD_LIMIT
    max_scan_chars: int = 65536  # characters of one input tokenized at most (no word boundary in them: 413)
    max_response_bytes: int = LAMBDA_PAYLOAD_LIMIT  # 0 = no check

    # Overload and deadlines: past max_concurrency + max_queue compute requests inside, 429 with Retry-After;
    # a request still queued at its deadline gets 503, one still computing stops at the next micro-batch (504).
    # compute requests waiting for a slot (uvicorn; a Lambda sandbox serves one at a time). Each waits for the
    # ones ahead: under the soak (mixed requests, 2 vCPUs) 8 gave a p99 of 3.5 s, 4 keeps it near 2 s.
    max_queue: int = 4
    retry_after_s: int = 1  # Retry-After of a 429
    request_timeout_ms: int = 30000  # per-request deadline; 0 = none (Lambda's remaining time still applies)
    lambda_margin_ms: int = 1000  # under Lambda: stop this long before the invocation's time runs out
    trim_after_bytes: int = 262144  # after a request body this large, give freed memory back (malloc_trim); 0 = never
    malloc_arenas: int = 2  # python -m handler.serve: glibc malloc arenas (MALLOC_ARENA_MAX) for the process
    header_timeout_ms: int = 10000  # python -m handler.serve: close a connection whose request head is this late
    body_timeout_ms: int = 10000  # longest wait for the next piece of a request body (slow clients); 0 = none

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

    # Dialects (OpenAI / Cohere / Jina / TEI): which model names a request may ask for, and CORS.
    embed_model_aliases: str = ""  # comma-separated extra names the embedding model answers to
    rerank_model_aliases: str = ""  # the same for the reranker
    accept_any_model: bool = False  # true: any `model` value gets the served model (off: 404 model_not_found)
    auto_truncate: bool = False  # TEI's --auto-truncate: what `truncate` means on TEI routes when it is absent
    cors_origins: str = ""  # comma-separated origins ("*" for any) allowed by CORS; uvicorn only, not in Lambda

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
            values[f.name] = _parse(name, raw, getattr(_DEFAULTS, f.name))
        if "api_base_path" in values:  # "/prod/", "prod" and "/prod" mean one prefix; the stripping needs "/prod"
            values["api_base_path"] = "/" + values["api_base_path"].strip("/")
        if "docs" not in values and env.get("AWS_LAMBDA_FUNCTION_NAME"):
            values["docs"] = False  # off by default in Lambda: a function URL need not advertise its routes
        settings = cls(**values)
        settings.check()
        return settings

    @classmethod
    def unknown_names(cls, environ: Mapping[str, str] | None = None) -> list[str]:
        """EDGE_* variables that are no setting (a typo is otherwise ignored in silence), each with a guess."""
        env = os.environ if environ is None else environ
        known = [PREFIX + f.name.upper() for f in fields(cls)]
        found = []
        for name in sorted(env):
            if not name.startswith(PREFIX) or name in known or name.startswith(_OTHER_PREFIXES):
                continue
            guess = difflib.get_close_matches(name, known, n=1)
            found.append(f"{name} (did you mean {guess[0]}?)" if guess else name)
        return found

    def check(self) -> None:
        """Refuse values that would only fail later, less clearly."""
        for name in (
            "token_budget",
            "max_batch_size",
            "max_concurrency",
            "max_inputs",
            "max_tokens",
            "max_scan_chars",
            "malloc_arenas",
        ):
            if getattr(self, name) < 1:
                raise SettingsError(f"{PREFIX}{name.upper()} must be at least 1; got {getattr(self, name)}")
        if self.retry_after_s < 1:
            raise SettingsError(f"{PREFIX}RETRY_AFTER_S must be at least 1; got {self.retry_after_s}")
        for name in (
            "threads",
            "max_body_bytes",
            "max_response_bytes",
            "max_queue",
            "request_timeout_ms",
            "lambda_margin_ms",
            "body_timeout_ms",
            "trim_after_bytes",
            "header_timeout_ms",
        ):
            if getattr(self, name) < 0:
                raise SettingsError(
                    f"{PREFIX}{name.upper()} must not be negative (0 or more); got {getattr(self, name)}"
                )
        if self.run_mode not in _RUN_MODES:
            raise SettingsError(f"{PREFIX}RUN_MODE must be one of {', '.join(_RUN_MODES)}; got {self.run_mode!r}")
        if self.metrics not in _METRICS_MODES:
            raise SettingsError(f"{PREFIX}METRICS must be one of {', '.join(_METRICS_MODES)}; got {self.metrics!r}")
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise SettingsError(
                f"{PREFIX}LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL; got {self.log_level!r}"
            )
        if self.bundle_s3_uri and not self.bundle_s3_uri.startswith("s3://"):
            raise SettingsError(f"{PREFIX}BUNDLE_S3_URI must look like s3://bucket/prefix; got {self.bundle_s3_uri!r}")
        for family in family_names():  # a registered family without its own settings fails here, named
            self._per_family(family, "bundle")
            self._per_family(family, "model_aliases")

    def _per_family(self, family: str, suffix: str) -> str:
        """The field `<family>_<suffix>` (e.g. rerank_bundle): each model family has its own EDGE_* settings."""
        value = getattr(self, f"{family}_{suffix}", None)
        if not isinstance(value, str):
            name = f"{PREFIX}{family.upper()}_{suffix.upper()}"
            raise SettingsError(f"no {name} setting: {family!r} is not a model family")
        return value

    def bundle_path(self, family: str) -> str | None:
        """The configured bundle location of a model family (e.g. 'embed'), or None when that model is turned off."""
        raw = self._per_family(family, "bundle")
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

    @staticmethod
    def _names(raw: str) -> tuple[str, ...]:
        return tuple(name.strip() for name in raw.split(",") if name.strip())

    def model_aliases(self, family: str) -> tuple[str, ...]:
        """Extra model names of a model family (e.g. 'embed') that requests may use (EDGE_<FAMILY>_MODEL_ALIASES)."""
        return self._names(self._per_family(family, "model_aliases"))

    @property
    def cors_origin_list(self) -> tuple[str, ...]:
        return self._names(self.cors_origins)

    @property
    def auth_configured(self) -> bool:
        return bool(self.api_key or self.api_key_ssm_parameter or self.api_key_secret_id)


_DEFAULTS = Settings()


def _parse(name: str, raw: str, default: Any) -> Any:
    kind = type(default)
    if kind is bool:
        lowered = raw.lower()
        if lowered in _TRUE_WORDS:
            return True
        if lowered in _FALSE_WORDS:
            return False
        raise SettingsError(f"{name} must be true or false; got {raw!r}")
    if kind is int:
        try:
            value = int(raw.replace("_", ""))
        except ValueError:
            raise SettingsError(f"{name} must be an integer (unset: {default}); got {raw!r}") from None
        if abs(value) > MAX_INT:
            raise SettingsError(f"{name} must be at most {MAX_INT}; got {raw!r}")
        return value
    return raw
