"""The per-request JSON line: the fields it promises, and a well-formed CloudWatch EMF block in it."""

from __future__ import annotations

import json
from typing import Any

from helpers.toy_handler import make_app
from starlette.testclient import TestClient

from handler.observability import METRICS, AccessLog, RequestFacts


def request_lines(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines if json.loads(line)["event"] == "request"]


def assert_valid_emf(record: dict[str, Any]) -> None:
    """What CloudWatch requires to extract metrics from a log line."""
    directive = record["_aws"]["CloudWatchMetrics"][0]
    assert isinstance(record["_aws"]["Timestamp"], int)
    assert directive["Namespace"] == "EdgeEncoders"
    for dimension_set in directive["Dimensions"]:
        for name in dimension_set:
            assert isinstance(record[name], str)
    known_units = dict(METRICS)
    for metric in directive["Metrics"]:
        assert isinstance(record[metric["Name"]], (int, float))
        assert metric["Unit"] == known_units[metric["Name"]]


def test_one_line_per_request_with_usage_and_emf() -> None:
    lines: list[str] = []
    client = TestClient(make_app(sink=lines.append))
    client.post("/native/embed", json={"inputs": ["one", "two", "three"]}, headers={"x-request-id": "abc-123"})
    client.get("/does/not/exist")
    records = request_lines(lines)
    assert len(records) == 2
    ok, missing = records
    assert ok["request_id"] == "abc-123" and ok["route"] == "/native/embed" and ok["status"] == 200
    assert ok["inputs"] == 3 and ok["tokens"] > 0 and ok["compute_ms"] > 0 and ok["duration_ms"] >= ok["compute_ms"]
    assert ok["cold_start"] is True and missing["cold_start"] is False
    assert ok["Route"] == "/native/embed" and ok["Inputs"] == 3 and ok["ServerErrors"] == 0
    assert_valid_emf(ok)
    assert missing["route"] == "unmatched" and missing["error_code"] == "not_found" and missing["ClientErrors"] == 1
    assert "ComputeTime" not in missing
    assert_valid_emf(missing)


def test_init_line_and_switches() -> None:
    lines: list[str] = []
    make_app(sink=lines.append)
    init = json.loads(lines[0])
    assert init["event"] == "init" and init["failed"] == {} and set(init["models"]) == {"embed", "rerank"}

    quiet: list[str] = []
    client = TestClient(make_app(sink=quiet.append, access_log=False))
    client.get("/health")
    assert quiet == []

    plain: list[str] = []
    AccessLog(emf=False, sink=plain.append).request(RequestFacts("id", "GET", "/health", status=200), 1.0)
    assert "_aws" not in json.loads(plain[0])


def test_unsafe_request_ids_are_replaced() -> None:
    client = TestClient(make_app())
    r = client.get("/health", headers={"x-request-id": "bad id\twith spaces" + "x" * 200})
    assert r.headers["x-request-id"] != "" and " " not in r.headers["x-request-id"]
    assert len(r.headers["x-request-id"]) == 32
