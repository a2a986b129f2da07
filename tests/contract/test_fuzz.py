"""schemathesis against the app's own OpenAPI schema: no 5xx, and every answer matches what the schema says.

Checked: not_a_server_error, status_code_conformance (every status is documented), content_type_conformance,
response_schema_conformance (bodies, the error body included). Not checked: positive_data_acceptance, since
schema-valid requests are legitimately refused (an empty list is a 400, a too-long text without truncation
a 422, dimensions over the model's size a 422: facts of the loaded model the static schema cannot state).
"""

from __future__ import annotations

import pytest
import schemathesis
from fastapi import FastAPI
from helpers.handler_support import make_app
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from handler.app import create_app
from handler.loaded_models import Models
from handler.settings import Settings

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

# The schema is read at collection from an app with no models (the schema does not depend on them), so a
# missing bundle fails the tests below with its own message instead of aborting the whole pytest session.
# (schemathesis.pytest.from_fixture would defer it all, but fails under pytest 9.)
schema = schemathesis.openapi.from_dict(create_app(Settings(), models=Models(), log_sink=lambda _: None).openapi())


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return make_app(max_inputs=64, max_tokens=4096)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_schema(case: schemathesis.Case, app: FastAPI) -> None:
    case.call_and_validate(app=app, checks=CHECKS)
