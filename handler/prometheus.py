"""Request metrics of this process in the Prometheus text format, for GET /metrics (TEI's route).

A few counters and histograms named as TEI names them (te_request_count, te_request_success,
te_request_failure, te_request_duration, te_request_inference_duration, te_request_input_length) so existing
TEI dashboards keep working, kept in memory without a client library. Under Lambda each sandbox counts only
what it served, so there these numbers are of little use: CloudWatch EMF (the access log) covers Lambda.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict

_DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_LENGTH_BUCKETS = (8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384, 65536)

_HELP = {
    "te_request_count": ("counter", "Requests received on the inference routes"),
    "te_request_success": ("counter", "Requests answered with a 2xx status"),
    "te_request_failure": ("counter", "Requests answered with an error, by error kind"),
    "te_request_duration": ("histogram", "Seconds from request to response"),
    "te_request_inference_duration": ("histogram", "Seconds spent in the model"),
    "te_request_input_length": ("histogram", "Tokens processed per request"),
}

Labels = tuple[tuple[str, str], ...]


class _Histogram:
    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * len(buckets)
        self.total = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.total += 1
        self.sum += value
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1


class Metrics:
    """Thread-safe counters and histograms with labels; render() gives the exposition text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, dict[Labels, float]] = defaultdict(dict)
        self._histograms: dict[str, dict[Labels, _Histogram]] = defaultdict(dict)

    def inc(self, name: str, labels: dict[str, str] | None = None, value: float = 1.0) -> None:
        key = tuple(sorted((labels or {}).items()))
        with self._lock:
            series = self._counters[name]
            series[key] = series.get(key, 0.0) + value

    def observe(self, name: str, value: float, labels: dict[str, str] | None = None) -> None:
        key = tuple(sorted((labels or {}).items()))
        buckets = _LENGTH_BUCKETS if name.endswith("length") else _DURATION_BUCKETS
        with self._lock:
            series = self._histograms[name]
            if key not in series:
                series[key] = _Histogram(tuple(float(b) for b in buckets))
            series[key].observe(value)

    def record(
        self, route: str, status: int, seconds: float, compute_seconds: float | None, tokens: int | None
    ) -> None:
        """One answered request of an inference route."""
        labels = {"route": route}
        self.inc("te_request_count", labels)
        if status < 400:
            self.inc("te_request_success", labels)
        else:
            self.inc("te_request_failure", {**labels, "err": _error_kind(status)})
        self.observe("te_request_duration", seconds, labels)
        if compute_seconds is not None:
            self.observe("te_request_inference_duration", compute_seconds, labels)
        if tokens is not None:
            self.observe("te_request_input_length", float(tokens), labels)

    def render(self) -> str:
        lines: list[str] = []
        with self._lock:
            for name in sorted(set(self._counters) | set(self._histograms)):
                kind, text = _HELP.get(name, ("untyped", name))
                lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
                for key, value in sorted(self._counters.get(name, {}).items()):
                    lines.append(f"{name}{_labels(key)} {_number(value)}")
                for key, hist in sorted(self._histograms.get(name, {}).items()):
                    for bound, count in zip(hist.buckets, hist.counts, strict=True):
                        lines.append(f"{name}_bucket{_labels(key, ('le', _number(bound)))} {count}")
                    lines.append(f"{name}_bucket{_labels(key, ('le', '+Inf'))} {hist.total}")
                    lines.append(f"{name}_sum{_labels(key)} {_number(hist.sum)}")
                    lines.append(f"{name}_count{_labels(key)} {hist.total}")
        return "\n".join(lines) + "\n"


def _error_kind(status: int) -> str:
    return {400: "empty", 401: "auth", 403: "auth", 413: "batch_size", 429: "overloaded", 503: "unhealthy"}.get(
        status, "validation" if status < 500 else "backend"
    )


def _labels(key: Labels, extra: tuple[str, str] | None = None) -> str:
    items = [*key, extra] if extra else list(key)
    if not items:
        return ""
    body = ",".join(f'{k}="{_escape(v)}"' for k, v in items)
    return "{" + body + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if float(value).is_integer() else repr(float(value))
