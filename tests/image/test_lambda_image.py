"""The Lambda image as users build and run it: the stand-in base (scripts/image/lambda-base), `make image
DOCKER=podman`, then every events/ file through `sam build` + `sam local invoke` with DOCKER_HOST at a podman
socket, each answer checked against the runtime called in-process on the same bundles; and cold starts of
the image under its own entrypoint (the Runtime Interface Emulator), timed."""

from __future__ import annotations

import contextlib
import json
import platform
import re
import statistics
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import image_harness as ih
import pytest
from answers import check_answer
from image_report import report, skip_loudly

from edge_encoders import Embedder, Reranker

pytestmark = pytest.mark.image

EVENTS = sorted((ih.REPO / "events").glob("*.json"))
ARCH = "arm64" if platform.machine().lower() in ("aarch64", "arm64") else "x86_64"
TAG = f"edge-encoders:{ARCH}"
BUNDLES = {"embed": ih.REPO / "artifacts" / "embed", "rerank": ih.REPO / "artifacts" / "rerank"}
INVOKE_PATH = "/2015-03-31/functions/function/invocations"


@pytest.fixture(scope="module")
def lambda_image() -> str:
    try:
        ih.ensure_tools()
        ih.ensure_engine_runs()
        base = ih.ensure_lambda_base()
        ih.podman_ok_to_run(ih.LAMBDA_BASE_TAG)
    except ih.EngineUnavailable as exc:
        pytest.skip(skip_loudly(str(exc)))
    report(lambda_base=base)
    seconds = ih.make_image(ARCH)
    report(
        image=TAG,
        image_build_s=round(seconds, 1),
        image_mb=round(ih.image_size_mb(TAG), 1),
        base_mb=round(ih.image_size_mb(ih.LAMBDA_BASE_TAG), 1),
    )
    return TAG


@pytest.fixture(scope="module")
def reference() -> tuple[Embedder, Reranker]:
    return Embedder.from_bundle(BUNDLES["embed"]), Reranker.from_bundle(BUNDLES["rerank"])


@pytest.fixture(scope="module")
def sam_built(lambda_image: str) -> Iterator[str]:
    """sam build (Docker's API on podman's socket) once; yields DOCKER_HOST for the invokes."""
    with ih.podman_socket() as docker_host:
        started = time.perf_counter()
        result = ih.sam(["build", "--config-file", "samconfig.toml", "--config-env", ARCH], docker_host)
        assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
        report(sam_build_s=round(time.perf_counter() - started, 1))
        yield docker_host


def _function_result(stdout: str) -> dict[str, Any]:
    """sam local invoke prints the function's result as the last JSON line on stdout."""
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            result: dict[str, Any] = json.loads(line)
            return result
    raise AssertionError(f"no JSON result in sam local invoke's output:\n{stdout[-2000:]}")


@pytest.mark.parametrize("event_file", EVENTS, ids=[p.name for p in EVENTS])
def test_sam_local_invoke_answers_every_event(
    sam_built: str, reference: tuple[Embedder, Reranker], event_file: Path
) -> None:
    started = time.perf_counter()
    result = ih.sam(
        [
            "local",
            "invoke",
            "EdgeEncodersFunction",
            "--config-file",
            "samconfig.toml",
            "--config-env",
            ARCH,
            "--skip-pull-image",
            "-e",
            str(event_file),
        ],
        sam_built,
        timeout=600,
    )
    seconds = time.perf_counter() - started
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    event = json.loads(event_file.read_text())
    check_answer(event, _function_result(result.stdout), *reference)
    report(**{f"sam_local_invoke_s[{event_file.name}]": round(seconds, 1)})


@contextlib.contextmanager
def _running(image: str, *extra: str) -> Iterator[tuple[str, str]]:
    """The image under its own entrypoint (the RIE on 8080), published on 127.0.0.1; yields (url, name)."""
    port = ih.free_port()
    name = f"edge-encoders-test-{port}"
    ih.run(["podman", "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8080", *extra, image], timeout=120)
    try:
        yield f"http://127.0.0.1:{port}{INVOKE_PATH}", name
    finally:
        ih.run(["podman", "rm", "-f", "-t", "2", name], check=False, timeout=120)


def _post(url: str, event: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
    request = urllib.request.Request(url, data=json.dumps(event).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        result: dict[str, Any] = json.loads(response.read())
        return result


def _first_answer(url: str, event: dict[str, Any], deadline_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            return _post(url, event)
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _init_record(name: str) -> dict[str, Any]:
    logs = ih.run(["podman", "logs", name], timeout=60)
    for line in (logs.stdout + logs.stderr).splitlines():
        match = re.search(r"(\{\"event\":\"init\".*\})", line)
        if match:
            record: dict[str, Any] = json.loads(match.group(1))
            return record
    raise AssertionError(f"no init record in the function's log:\n{(logs.stdout + logs.stderr)[-2000:]}")


def test_cold_starts_read_only_root(lambda_image: str, reference: tuple[Embedder, Reranker]) -> None:
    """Three cold starts as Lambda runs the image: read-only root, /tmp the only writable place."""
    event = json.loads((ih.REPO / "events" / "embed.json").read_text())
    first_answer, init_ms, process_ms = [], [], []
    for _ in range(3):
        started = time.perf_counter()
        with _running(lambda_image, "--read-only", "--tmpfs", "/tmp", "--memory", "2g") as (url, name):
            response = _first_answer(url, event)
            first_answer.append(time.perf_counter() - started)
            check_answer(event, response, *reference)
            record = _init_record(name)
            assert record["failed"] == {}, record
            init_ms.append(record["init_ms"])
            process_ms.append(record.get("process_ms"))
    report(
        cold_start_first_answer_s=[round(s, 2) for s in first_answer],
        cold_start_models_init_ms_median=round(statistics.median(init_ms), 1),
        cold_start_process_to_ready_ms=process_ms,
    )


def test_build_refuses_an_altered_bundle(lambda_image: str, tmp_path: Path) -> None:
    """The check at the end of the build stops an image whose bundle does not match its manifest."""
    context = tmp_path / "context"
    for name in ("requirements/lambda.txt", "scripts/check_bundles.py", "src/edge_encoders", "handler"):
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cp", "-a", str(ih.REPO / name), str(context / name)], check=True)
    for kind, source in BUNDLES.items():
        (context / "artifacts").mkdir(exist_ok=True)
        subprocess.run(["cp", "-a", str(source), str(context / "artifacts" / kind)], check=True)
    tokenizer = context / "artifacts" / "rerank" / "tokenizer.json"
    tokenizer.write_text(tokenizer.read_text().replace('"[SEP]"', '"[SEQ]"', 1))  # same size, other bytes
    try:
        result = ih.run(
            ["podman", "build", "-f", str(ih.REPO / "Dockerfile.lambda"), "-t", "edge-encoders:altered", str(context)],
            check=False,
            timeout=900,
        )
        output = result.stdout + result.stderr
        assert result.returncode != 0, output[-2000:]
        assert "bundle check failed" in output and "tokenizer.json" in output, output[-2000:]
    finally:
        ih.run(["podman", "rmi", "-f", "edge-encoders:altered"], check=False)
