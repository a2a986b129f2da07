"""The bulk function as Lambda runs it: handler.bulk.handler in the image's task root under awslambdaric and
the Runtime Interface Emulator, fed Distributed Map batches, writing to moto's S3 on 127.0.0.1.

Also pins the error names the state machine's Retry matches on (template.yaml: StoreError).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from edge_devtools import lambda_emulator as lem

from edge_encoders import Embedder

pytestmark = pytest.mark.e2e

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")
pq = pytest.importorskip("pyarrow.parquet")

BUCKET = "bulk-out"


@pytest.fixture(scope="module")
def s3(s3_endpoint: str) -> tuple[Any, dict[str, str]]:
    """The bucket on the shared moto server, and the environment that points the function at it."""
    env = {"AWS_ENDPOINT_URL_S3": s3_endpoint, "AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t"}
    client = boto3.client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    client.create_bucket(Bucket=BUCKET)
    return client, env


@pytest.fixture(scope="module")
def bulk(s3: tuple[Any, dict[str, str]], tmp_path_factory: pytest.TempPathFactory) -> Iterator[lem.LambdaEmulator]:
    bundles = lem.default_bundles()
    if not (bundles["embed"] / "manifest.json").is_file():
        bundles = lem.dev_bundles()
    root = lem.build_task_root(bundles, dest=tmp_path_factory.mktemp("bulk") / "task")
    env = {**s3[1], "EDGE_BULK_OUTPUT": f"s3://{BUCKET}/default"}
    with lem.LambdaEmulator(root, handler="handler.bulk.handler", env=env) as running:
        yield running


def test_batch_under_the_lambda_runtime(bulk: lem.LambdaEmulator, s3: tuple[Any, dict[str, str]]) -> None:
    client, _ = s3
    texts = ["bulk embedding under the Lambda runtime", "zweiter Text", "third " * 200]
    event = {
        "Items": [{"id": f"d{i}", "text": t} for i, t in enumerate(texts)] + [{"id": "bad", "text": ""}],
        "BatchInput": {"output": f"s3://{BUCKET}/run", "options": {"precision": "float32"}},
    }
    result = bulk.invoke(event)
    assert result.function_error is None, result.payload
    summary = result.payload
    assert summary["count"] == 3 and summary["failed"] == 1 and summary["skipped"] is False
    assert summary["errors"][0]["code"] == "empty_text"
    body = client.get_object(Bucket=BUCKET, Key=f"run/{summary['shard']}")["Body"].read()
    table = pq.read_table(io.BytesIO(body))
    assert table.column("id").to_pylist() == ["d0", "d1", "d2"]
    embedder = Embedder.from_bundle(bulk.task_root.bundles["embed"])
    got = np.array(table.column("embedding").to_pylist(), dtype=np.float32)
    want = embedder.embed(texts)
    cos = (got * want).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1))
    assert cos.min() > 0.9999, cos  # same texts, same call: the same vectors (threads may differ)

    again = bulk.invoke(event)
    assert again.payload["skipped"] is True and again.payload["digest"] == summary["digest"]
    default = bulk.invoke({"Items": event["Items"][:1], "BatchInput": {}})
    assert default.payload["shard_uri"].startswith(f"s3://{BUCKET}/default/shards/")


def test_error_names_the_state_machine_matches(bulk: lem.LambdaEmulator) -> None:
    broken = bulk.invoke({"items": []})
    assert broken.function_error == "BulkEventError" and "Items" in broken.payload["errorMessage"]
    missing = bulk.invoke({"Items": [{"id": 1, "text": "a"}], "BatchInput": {"output": "s3://no-such-bucket/x"}})
    assert missing.function_error == "StoreError", missing.payload  # retried by template.yaml's Retry
    template = (lem.REPO / "template.yaml").read_text()
    assert "ErrorEquals: [StoreError]" in template
