"""One JSON line per request on stdout, which is also a CloudWatch embedded-metric-format (EMF) record.

Why our own ~50 lines instead of aws-lambda-powertools: EMF is one JSON object with an `_aws` block, and the
access log line we write anyway can carry it, so one line per request serves both logs and metrics. Powertools
would add a package (and its dependencies) to an image with a size target for what is a dict literal here.
Why stdout and not `logging`: the Lambda runtime prefixes log records with level, time and request id, and
CloudWatch only extracts metrics from lines that are pure JSON.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# (metric name, unit): each becomes a top-level numeric field of the line when it has a value
METRICS: tuple[tuple[str, str], ...] = (
    ("Latency", "Milliseconds"),
    ("ComputeTime", "Milliseconds"),
    ("Inputs", "Count"),
    ("Tokens", "Count"),
    ("ColdStart", "Count"),
    ("ClientErrors", "Count"),
    ("ServerErrors", "Count"),
)


@dataclass
class RequestFacts:
    """What a request did, filled in by the middleware and the route, written once at the end."""

    request_id: str
    method: str
    path: str
    route: str = "unmatched"
    status: int = 0
    inputs: int | None = None
    tokens: int | None = None
    compute_ms: float | None = None
    error_code: str | None = None
    cold_start: bool = False
    body_bytes: int = 0


def _stdout(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class AccessLog:
    """Writes the per-request line (and the init line); `sink` is swappable for tests."""

    def __init__(
        self,
        *,
        enabled: bool = True,
        emf: bool = False,
        namespace: str = "EdgeEncoders",
        sink: Callable[[str], None] | None = None,
    ) -> None:
        self.enabled = enabled
        self.emf = emf
        self.namespace = namespace
        self.sink = sink or _stdout

    def request(self, facts: RequestFacts, duration_ms: float) -> None:
        if not self.enabled:
            return
        record: dict[str, Any] = {
            "event": "request",
            "request_id": facts.request_id,
            "method": facts.method,
            "path": facts.path,
            "route": facts.route,
            "status": facts.status,
            "duration_ms": round(duration_ms, 3),
            "compute_ms": None if facts.compute_ms is None else round(facts.compute_ms, 3),
            "inputs": facts.inputs,
            "tokens": facts.tokens,
            "cold_start": facts.cold_start,
        }
        if facts.error_code:
            record["error_code"] = facts.error_code
        if self.emf:
            record.update(self._emf(facts, duration_ms))
        self.sink(json.dumps(record, separators=(",", ":")))

    def init(self, record: dict[str, Any]) -> None:
        """The one line written when the process has loaded its models (init time, variants, failures)."""
        if self.enabled:
            self.sink(json.dumps({"event": "init", **record}, separators=(",", ":"), default=str))

    def _emf(self, facts: RequestFacts, duration_ms: float) -> dict[str, Any]:
        values: dict[str, float | int | None] = {
            "Latency": round(duration_ms, 3),
            "ComputeTime": None if facts.compute_ms is None else round(facts.compute_ms, 3),
            "Inputs": facts.inputs,
            "Tokens": facts.tokens,
            "ColdStart": int(facts.cold_start),
            "ClientErrors": int(400 <= facts.status < 500),
            "ServerErrors": int(facts.status >= 500),
        }
        present = {name: value for name, value in values.items() if value is not None}
        return {
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": self.namespace,
                        "Dimensions": [["Route"]],
                        "Metrics": [{"Name": n, "Unit": u} for n, u in METRICS if n in present],
                    }
                ],
            },
            "Route": facts.route,
            **present,
        }
