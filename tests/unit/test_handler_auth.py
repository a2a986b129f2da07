"""Bearer API key: from env, SSM or Secrets Manager (moto in-process), constant-time check, failing closed."""

from __future__ import annotations

import json
from collections.abc import Iterator

import moto
import pytest
from helpers.toy_handler import make_app
from starlette.testclient import TestClient

from handler.auth import ApiKey, load_api_key
from handler.errors import ApiError
from handler.settings import Settings


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with moto.mock_aws():
        yield


def test_key_checks() -> None:
    key = ApiKey(b"s3cret")
    key.check("Bearer s3cret")
    key.check("bearer   s3cret ")
    ApiKey().check(None)  # no key configured: open
    with pytest.raises(ApiError) as err:
        ApiKey(error="ClientError").check("Bearer s3cret")
    assert err.value.status == 503


@pytest.mark.parametrize("header", [None, "", "Basic s3cret", "Bearer", "Bearer wrong"])
def test_a_missing_or_wrong_key_is_401(header: str | None) -> None:
    with pytest.raises(ApiError) as err:
        ApiKey(b"s3cret").check(header)
    assert err.value.status == 401


def test_key_from_ssm(aws: None) -> None:
    import boto3

    boto3.client("ssm").put_parameter(Name="/edge/api-key", Value="from-ssm", Type="SecureString")
    assert load_api_key(Settings(api_key_ssm_parameter="/edge/api-key")).key == b"from-ssm"


@pytest.mark.parametrize("secret", ["plain-secret", json.dumps({"api_key": "plain-secret", "other": "x"})])
def test_key_from_secrets_manager(aws: None, secret: str) -> None:
    import boto3

    boto3.client("secretsmanager").create_secret(Name="edge/api-key", SecretString=secret)
    assert load_api_key(Settings(api_key_secret_id="edge/api-key")).key == b"plain-secret"


def test_unreadable_key_source_fails_closed(aws: None) -> None:
    key = load_api_key(Settings(api_key_ssm_parameter="/does/not/exist"))
    assert key.key is None and key.error == "ParameterNotFound"
    client = TestClient(make_app(api_key_ssm_parameter="/does/not/exist"))
    r = client.post("/native/embed", json={"inputs": "x"}, headers={"authorization": "Bearer anything"})
    assert r.status_code == 503 and r.json()["error"]["code"] == "auth_unavailable"
    assert client.get("/health").status_code == 503


def test_app_with_key_protects_everything_but_health() -> None:
    client = TestClient(make_app(api_key="k-123"))
    assert client.post("/native/embed", json={"inputs": "x"}).status_code == 401
    assert client.get("/native/info").status_code == 401
    assert client.get("/nowhere").status_code == 401  # no route discovery without the key
    embed = {"inputs": "x"}
    assert client.post("/native/embed", json=embed, headers={"authorization": "Bearer k-12"}).status_code == 401
    assert client.post("/native/embed", json=embed, headers={"authorization": "Bearer k-123"}).status_code == 200
    assert client.get("/health").status_code == 200
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/native/info", headers={"authorization": "Bearer k-123"}).json()["limits"]["auth"] == "api_key"
