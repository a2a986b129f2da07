"""Every Lambda HTTP event fixture (function URL, HTTP API, REST API, ALB, VPC Lattice) with each of its fields,
at every level Mangum reads (requestContext, http, identity, elb, headers), deleted or set to a value of another
JSON type: the handler answers every one (a 2xx-4xx, a JSON body), never raises, never a 5xx, and never logs
an error or a traceback: a malformed event is the sender's mistake, answered with at most one warning line.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.handler_support import EVENTS, FakeLambdaContext, make_app

from handler.app import lambda_handler_for

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
NESTED = ("requestContext", "http", "identity", "elb", "headers", "multiValueHeaders")
VALUES: dict[str, Any] = {
    "null": None,
    "int": 0,
    "bool": True,
    "empty string": "",
    "string": "x",
    "list": ["x"],
    "object": {"a": "b"},
}
FILES = sorted(p.name for p in EVENTS.glob("*.json"))


@pytest.fixture(scope="module")
def handler() -> Handler:
    return lambda_handler_for(make_app())


def field_paths(event: dict[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for key, value in event.items():
        yield (*prefix, key)
        if isinstance(value, dict) and key in NESTED:
            yield from field_paths(value, (*prefix, key))


def edited(event: dict[str, Any], path: tuple[str, ...], value: Any, delete: bool) -> dict[str, Any]:
    out = copy.deepcopy(event)
    parent = out
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = copy.deepcopy(value)
    return out


@pytest.mark.parametrize("edit", ["delete", *VALUES])
@pytest.mark.parametrize("name", FILES)
def test_an_event_with_a_field_missing_or_of_another_type_is_answered_without_an_error_line(
    handler: Handler, caplog: pytest.LogCaptureFixture, name: str, edit: str
) -> None:
    base = json.loads((EVENTS / Path(name)).read_text())
    failures = []
    for path in field_paths(base):
        event = edited(base, path, VALUES.get(edit), delete=edit == "delete")
        caplog.clear()
        with caplog.at_level("INFO", logger="handler"):
            try:
                out = handler(event, FakeLambdaContext())
            except Exception as exc:  # the case is the finding
                failures.append(f"{'.'.join(path)}: raised {type(exc).__name__}: {exc}")
                continue
        errors = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
        if not 200 <= out["statusCode"] < 500 or errors:
            failures.append(f"{'.'.join(path)}: {out['statusCode']}, {[r.getMessage()[:80] for r in errors]}")
        elif out.get("body") and not out.get("isBase64Encoded"):
            json.loads(out["body"])
        warnings = [r for r in caplog.records if r.name == "handler" and r.levelno == logging.WARNING]
        if len(warnings) > 1:
            failures.append(f"{'.'.join(path)}: {len(warnings)} warning lines")
    assert failures == [], failures
