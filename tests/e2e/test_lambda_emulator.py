"""The function under the real Lambda runtime contract: the task root the image lays out, awslambdaric,
and the Runtime Interface Emulator from the aws-sam-cli wheel, on 127.0.0.1. Every events/ file must get
a correct answer, checked against the runtime library called in-process on the same bundles."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from edge_devtools import lambda_emulator as lem
from helpers.e2e_report import report

from edge_encoders import Embedder, Reranker

pytestmark = pytest.mark.e2e

EVENTS = sorted((lem.REPO / "events").glob("*.json"))
TASK_ROOT_LIMIT_MB = 200.0


def _bundles() -> tuple[dict[str, Path], str]:
    real = lem.default_bundles()
    if all((path / "manifest.json").is_file() for path in real.values()):
        return real, "artifacts (make export)"
    return lem.dev_bundles(), "artifacts/dev (wiring only: run make export for the real bundles)"


@pytest.fixture(scope="module")
def emulator() -> Iterator[lem.LambdaEmulator]:
    bundles, which = _bundles()
    root = lem.build_task_root(bundles)
    report(
        bundles=which,
        python=root.summary()["python"],
        task_root_mb_without_bundles=root.summary()["task_root_mb_without_bundles"],
        bundles_mb=root.summary()["bundles_mb"],
    )
    with lem.LambdaEmulator(root) as running:
        yield running
        report(init_duration_ms=running.init_duration_ms(), rie_log=str(running.log_path))


@pytest.fixture(scope="module")
def reference() -> tuple[Embedder, Reranker]:
    bundles, _ = _bundles()
    return Embedder.from_bundle(bundles["embed"]), Reranker.from_bundle(bundles["rerank"])


def _check_embeddings(vectors: list[list[float]], texts: list[str], embedder: Embedder) -> None:
    got = np.asarray(vectors, dtype=np.float32)
    want = embedder.embed(texts)
    assert got.shape == want.shape == (len(texts), embedder.dimension)
    cos = (got * want).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1))
    assert cos.min() > 0.9999, cos


def _check_rerank(
    hits: list[dict[str, Any]], query: str, docs: list[str], top_n: int | None, reranker: Reranker, score_key: str
) -> None:
    want = reranker.rerank(query, docs, top_n=top_n)
    assert [h["index"] for h in hits] == [w.index for w in want]
    assert np.allclose([h[score_key] for h in hits], [w.score for w in want], atol=1e-4)
    scores = [h[score_key] for h in hits]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("event_file", EVENTS, ids=[p.name for p in EVENTS])
def test_event_answers_200_with_correct_content(
    emulator: lem.LambdaEmulator, reference: tuple[Embedder, Reranker], event_file: Path
) -> None:
    embedder, reranker = reference
    event = json.loads(event_file.read_text())
    result = emulator.invoke(event)
    assert result.status == 200 and result.function_error is None, result.payload
    assert result.http_status == 200, result.payload
    body = result.json_body()
    request = json.loads(event["body"]) if event.get("body") else {}
    path = event["rawPath"]
    if path == "/native/embed":
        _check_embeddings(body["embeddings"], request["inputs"], embedder)
    elif path == "/embed":  # TEI: a bare list of vectors
        _check_embeddings(body, request["inputs"], embedder)
    elif path == "/v1/embeddings":
        assert body["object"] == "list"
        assert [d["index"] for d in body["data"]] == list(range(len(request["input"])))
        _check_embeddings([d["embedding"] for d in body["data"]], request["input"], embedder)
        assert body["usage"]["prompt_tokens"] == sum(
            len(e.ids) for e in embedder.tokenizer.encode(request["input"], truncate=True)
        )
    elif path == "/native/rerank":
        _check_rerank(body["results"], request["query"], request["texts"], request.get("top_n"), reranker, "score")
        assert all(h["text"] == request["texts"][h["index"]] for h in body["results"])
    elif path in ("/v1/rerank", "/v2/rerank"):
        docs = [d if isinstance(d, str) else d["text"] for d in request["documents"]]
        _check_rerank(body["results"], request["query"], docs, request.get("top_n"), reranker, "relevance_score")
        assert all(h["document"]["text"] == docs[h["index"]] for h in body["results"])
    elif path == "/health":
        assert body["status"] == "ok"
    else:
        pytest.fail(f"{event_file.name}: no content check for {path}; add one here")


def test_body_over_the_handler_limit_is_a_413(emulator: lem.LambdaEmulator) -> None:
    # The RIE refuses events over 6 MB itself (next test), so the handler's own body limit is lowered here
    # to reach it through a second function on the same task root.
    env = {"EDGE_MAX_BODY_BYTES": "100000", "EDGE_RERANK_BUNDLE": ""}
    with lem.LambdaEmulator(emulator.task_root, env=env) as small:
        event = json.loads((lem.REPO / "events" / "embed.json").read_text())
        event["body"] = json.dumps({"inputs": ["word " * 100] * 300})  # about 150 kB
        result = small.invoke(event)
        assert result.function_error is None, result.payload
        assert result.http_status == 413, result.payload
        error = result.json_body()["error"]
        assert error["code"] == "body_too_large" and "100000" in error["message"], error
        assert small.invoke(json.loads((lem.REPO / "events" / "health.json").read_text())).http_status == 200


def test_request_over_lambdas_6mb_is_an_error_not_a_crash(emulator: lem.LambdaEmulator) -> None:
    event = json.loads((lem.REPO / "events" / "embed.json").read_text())
    event["body"] = json.dumps({"inputs": ["x" * 1_000_000] * 7})  # 7 MB: over the invoke payload limit
    result = emulator.invoke(event)
    assert result.function_error or (result.http_status or 0) >= 400, result.payload
    if not result.function_error:
        assert result.http_status == 413 and "error" in result.json_body()
    # and the function still serves the next request
    after = emulator.invoke(json.loads((lem.REPO / "events" / "health.json").read_text()))
    assert after.http_status == 200, after.payload
    assert emulator.alive()
    report(oversized_request=result.function_error or f"HTTP {result.http_status}")


def test_task_root_is_torch_free_and_small(emulator: lem.LambdaEmulator) -> None:
    root = emulator.task_root
    assert lem.forbidden_packages(root.path) == []
    names = {p.name.split("-")[0].lower() for p in root.path.iterdir()}
    assert {"onnxruntime", "numpy", "tokenizers", "fastapi", "mangum", "handler", "edge_encoders"} <= names
    assert "huggingface_hub" not in names  # tokenizers is installed without its hub dependency
    assert root.size_bytes / 1e6 <= TASK_ROOT_LIMIT_MB, f"task root {root.size_bytes / 1e6:.1f} MB"


def test_bundles_from_s3_at_init(emulator: lem.LambdaEmulator, tmp_path: Path) -> None:
    """EDGE_BUNDLE_S3_URI: init downloads and verifies both bundles (moto's S3 on 127.0.0.1), then serves."""
    boto3 = pytest.importorskip("boto3")
    moto_server = pytest.importorskip("moto.server")
    from edge_encoders.aws.s3_bundles import publish_bundle

    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        aws = {
            "AWS_ENDPOINT_URL_S3": f"http://{host}:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
        client = boto3.client(
            "s3",
            endpoint_url=aws["AWS_ENDPOINT_URL_S3"],
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.create_bucket(Bucket="bundles")
        bundles, _ = _bundles()
        for kind, folder in bundles.items():
            publish_bundle(folder, f"s3://bundles/v1/{kind}", client=client)
        cache = tmp_path / "edge-bundles"
        env = {**aws, "EDGE_BUNDLE_S3_URI": "s3://bundles/v1", "EDGE_BUNDLE_CACHE_DIR": str(cache)}
        with lem.LambdaEmulator(emulator.task_root, env=env) as from_s3:
            result = from_s3.invoke(json.loads((lem.REPO / "events" / "embed.json").read_text()))
            assert result.function_error is None and result.http_status == 200, result.payload
            assert (cache / "embed" / "manifest.json").read_bytes() == (bundles["embed"] / "manifest.json").read_bytes()
            assert (cache / "rerank" / "manifest.json").is_file()

        # an altered object in S3 fails init with a clear message; requests get 503, not a crash
        client.put_object(Bucket="bundles", Key="v1/embed/tokenizer.json", Body=b"{}")
        env["EDGE_BUNDLE_CACHE_DIR"] = str(tmp_path / "fresh-cache")
        with lem.LambdaEmulator(emulator.task_root, env=env) as broken:
            result = broken.invoke(json.loads((lem.REPO / "events" / "embed.json").read_text()))
            log = broken.log_text()
        assert result.http_status == 503 or result.function_error, result.payload
        assert "tokenizer.json" in log and "does not match" in log, log[-3000:]
    finally:
        server.stop()


def test_direct_invocations_and_hand_written_events_under_the_real_runtime(emulator: lem.LambdaEmulator) -> None:
    """What `aws lambda invoke --payload '{"inputs": "x"}'` and a hand-written test event get from the function as
    Lambda runs it: a clear 400 for the first, vectors for the second, and no traceback in the function's log."""
    start = len(emulator.log_text())  # the module's emulator: earlier tests' lines come before this
    direct = emulator.invoke({"inputs": "x"})
    assert direct.function_error is None and direct.http_status == 400, direct.payload
    error = direct.json_body()["error"]
    assert error["code"] == "unsupported_event" and "rawPath" in error["message"], error
    hand_written = {"version": "2.0", "rawPath": "/embed", "requestContext": {}, "body": '{"inputs": "hello"}'}
    served = emulator.invoke(hand_written)
    assert served.function_error is None and served.http_status == 200, served.payload
    assert len(served.json_body()) == 1
    lines = ("refused a Lambda event: a direct invocation payload", '"path":"/embed","route":"/embed","status":200')
    deadline = time.monotonic() + 10  # the runtime's stderr reaches the log after the answer: wait for both lines
    while not all(x in emulator.log_text()[start:] for x in lines) and time.monotonic() < deadline:
        time.sleep(0.1)
    log = emulator.log_text()[start:]
    assert all(x in log for x in lines) and "Traceback" not in log, log[-3000:]
