"""moto's real HTTP S3 server on 127.0.0.1 and an empty bucket on it, for every tier that talks to S3.

boto3 finds the server through AWS_ENDPOINT_URL_S3, exactly as a deployment finds a custom endpoint, so the
code under test keeps its unchanged boto3 client.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


@contextmanager
def moto_endpoint() -> Iterator[str]:
    """A ThreadedMotoServer on a free loopback port; yields its http URL and stops it afterwards."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_bucket(endpoint: str, monkeypatch: pytest.MonkeyPatch, bucket: str) -> Iterator[Any]:
    """Point boto3 at `endpoint` with dummy credentials, create `bucket`, yield a client; empty and drop it after.

    Use as the body of a generator fixture: `yield from s3_bucket(endpoint, monkeypatch, "name")`.
    """
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    client = boto3.client("s3")
    client.create_bucket(Bucket=bucket)
    yield client
    for item in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        client.delete_object(Bucket=bucket, Key=item["Key"])
    client.delete_bucket(Bucket=bucket)
