"""boto3 clients give up in bounded time: an endpoint that accepts connections and never answers (what a VPC
without a route looks like once connected) costs max_attempts reads, not botocore's 60 s x several retries."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("boto3")

from edge_encoders.aws import aws_clients
from edge_encoders.aws.s3_bundles import fetch_bundle
from edge_encoders.errors import BundleError
from handler.auth import load_api_key
from handler.settings import Settings


@pytest.fixture
def silent_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[socket.socket]]:
    """A TCP server on 127.0.0.1 that accepts every connection and never sends a byte."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            accepted.append(conn)

    threading.Thread(target=serve, daemon=True).start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}"
    for name in ("AWS_ENDPOINT_URL_SSM", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.setenv(name, url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    yield accepted
    server.close()
    for conn in accepted:
        conn.close()


def test_clients_carry_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for service, budget in aws_clients.BUDGETS.items():
        config = aws_clients.client(service).meta.config
        assert config.connect_timeout == budget.connect_timeout_s
        assert config.read_timeout == budget.read_timeout_s
        assert config.retries == {"total_max_attempts": budget.max_attempts, "mode": "standard"}
    # Lambda stops init at 10 s: a key source that does not answer must fail before that, and so must an
    # S3 endpoint that cannot be reached (connect timeouts only).
    assert aws_clients.SMALL_CALLS.worst_case_s() < 10.0
    s3 = aws_clients.S3
    assert s3.max_attempts * s3.connect_timeout_s + (s3.max_attempts - 1) < 10.0


@pytest.fixture
def quick_budgets(monkeypatch: pytest.MonkeyPatch) -> aws_clients.Budget:
    """Same attempts, shorter reads: the tests count attempts without waiting out the real timeouts."""
    budgets = {name: aws_clients.Budget(0.5, 0.3, budget.max_attempts) for name, budget in aws_clients.BUDGETS.items()}
    monkeypatch.setattr(aws_clients, "BUDGETS", budgets)
    return budgets["ssm"]


@pytest.mark.parametrize(
    ("settings", "service"),
    [
        (Settings(api_key_ssm_parameter="/edge/key"), "ssm"),
        (Settings(api_key_secret_id="edge-key"), "secretsmanager"),
    ],
)
def test_api_key_source_that_never_answers_fails_closed_within_the_budget(
    silent_endpoint: list[socket.socket], quick_budgets: aws_clients.Budget, settings: Settings, service: str
) -> None:
    budget = aws_clients.BUDGETS[service]
    started = time.monotonic()
    key = load_api_key(settings)
    elapsed = time.monotonic() - started
    assert key.key is None and key.error is not None  # every protected route answers 503, never serves open
    assert len(silent_endpoint) == budget.max_attempts
    assert elapsed < budget.worst_case_s() + 1.0, elapsed  # botocore's defaults: minutes


def test_s3_bundles_from_an_endpoint_that_never_answers_fail_with_a_message(
    silent_endpoint: list[socket.socket], quick_budgets: aws_clients.Budget, tmp_path: Path
) -> None:
    with pytest.raises(BundleError, match=r"s3://bucket/embed/manifest\.json"):
        fetch_bundle("s3://bucket/embed", tmp_path / "embed")
    assert len(silent_endpoint) == aws_clients.BUDGETS["s3"].max_attempts
