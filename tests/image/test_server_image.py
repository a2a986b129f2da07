"""The HTTP server image (Dockerfile.server) as Cloud Run / Kubernetes run it: --cpus 2 --memory 1g,
read-only root, /tmp in memory, non-root. Answers must equal the Lambda image's for the same request; SIGTERM
during a request lets it finish and the container exits 0; threads follow the CPU quota."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from edge_devtools import image_harness as ih
from helpers.image_report import report

pytestmark = pytest.mark.image

SERVER_TAG = ih.SERVER_TAG  # `make image-server` under this checkout's own tag
LIMITS = ("--cpus", "2", "--memory", "1g", "--read-only", "--tmpfs", "/tmp")
# (events/ file whose body is sent, the path it is sent to): the Lambda path's answer is the reference.
REQUESTS = [
    ("embed.json", "/native/embed"),
    ("tei_embed.json", "/embed"),
    ("rerank.json", "/native/rerank"),
    ("openai_embeddings.json", "/v1/embeddings"),
    ("cohere_rerank.json", "/v1/rerank"),
]
VOLATILE = {"id", "request_id"}  # differ between any two calls


@pytest.fixture(scope="module")
def server_image(lambda_image: str) -> str:
    seconds = ih.make_server_image(ih.ARCH, SERVER_TAG, lambda_image)
    report(
        server_image=SERVER_TAG,
        server_image_build_s=round(seconds, 1),
        server_image_mb=round(ih.image_size_mb(SERVER_TAG), 1),
    )
    return SERVER_TAG


@pytest.fixture(scope="module")
def server(server_image: str) -> Iterator[tuple[str, str]]:
    started = time.perf_counter()
    with ih.running(server_image, *LIMITS) as (base, name):
        ih.wait_ready(base + "/health", deadline_s=90)
        report(server_start_to_ready_s=round(time.perf_counter() - started, 2))
        yield base, name


def _stable(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: _stable(v) for k, v in body.items() if k not in VOLATILE}
    if isinstance(body, list):
        return [_stable(v) for v in body]
    return body


@pytest.fixture(scope="module")
def lambda_answers(lambda_image: str) -> dict[str, Any]:
    """Each request's body as the Lambda image answers it (through the RIE, as a function URL event)."""
    answers = {}
    with ih.running(lambda_image, *LIMITS) as (base, _):
        for event_name, path in REQUESTS:
            event = json.loads((ih.REPO / "events" / event_name).read_text())
            assert event["rawPath"] == path
            result = ih.first_answer(base + ih.INVOKE_PATH, event)
            assert result["statusCode"] == 200, result
            answers[event_name] = json.loads(result["body"])
    return answers


@pytest.mark.parametrize(("event_name", "path"), REQUESTS)
def test_server_answers_equal_the_lambda_path(
    server: tuple[str, str], lambda_answers: dict[str, Any], event_name: str, path: str
) -> None:
    base, _ = server
    request = json.loads(json.loads((ih.REPO / "events" / event_name).read_text())["body"])
    status, body = ih.post_json(base + path, request)
    assert status == 200, body
    assert _stable(body) == _stable(lambda_answers[event_name])


def test_runs_as_non_root_with_threads_from_the_cpu_quota(server: tuple[str, str]) -> None:
    _, name = server
    assert ih.run(["podman", "exec", name, "id", "-u"]).stdout.strip() == "10001"
    probe = (
        "from edge_encoders.session import _cgroup_cpu_limit, available_cpus; "
        "print(_cgroup_cpu_limit(), available_cpus())"
    )
    limit, cpus = ih.run(["podman", "exec", name, "python3", "-c", probe]).stdout.split()
    assert float(limit) == 2.0 and int(cpus) <= 2  # --cpus 2 is read from the cgroup, not the host's count
    one = ih.run(["podman", "run", "--rm", "--cpus", "1", "--entrypoint", "python3", SERVER_TAG, "-c", probe])
    assert one.stdout.split() == ["1.0", "1"]  # the host has more: the quota wins
    assert ih.run(["podman", "healthcheck", "run", name], check=False).returncode == 0
    assert ih.wait_ready(server[0] + "/ready", deadline_s=10) >= 0  # the readiness route the manifests use


def test_sigterm_finishes_the_request_in_flight_and_exits_0(server_image: str) -> None:
    documents = [f"passage {i} " + "about the weather and other things " * 30 for i in range(120)]
    outcome: dict[str, Any] = {}
    with ih.running(server_image, *LIMITS) as (base, name):
        ih.wait_ready(base + "/health", deadline_s=90)

        def call() -> None:
            outcome["status"], outcome["body"] = ih.post_json(
                base + "/native/rerank", {"query": "weather", "texts": documents}, timeout=120
            )

        worker = threading.Thread(target=call)
        worker.start()
        time.sleep(0.5)  # the request is being computed (several seconds on 2 vCPUs)
        ih.run(["podman", "kill", "--signal", "TERM", name])
        worker.join(timeout=120)
        exit_code = ih.run(["podman", "wait", name], timeout=120).stdout.strip()
        logs = ih.run(["podman", "logs", name]).stderr
    assert outcome.get("status") == 200, outcome
    assert len(outcome["body"]["results"]) == len(documents)
    assert exit_code == "0", logs[-2000:]
    assert "Shutting down" in logs and "Finished server process" in logs


def test_image_declares_its_healthcheck_and_user(server_image: str) -> None:
    config = json.loads(ih.run(["podman", "image", "inspect", server_image]).stdout)[0]
    inner = config.get("Config") or {}
    assert inner.get("User") == "10001:10001"
    health = config.get("Healthcheck") or inner.get("Healthcheck") or {}  # podman: top level; docker: Config
    assert "/health" in " ".join(health.get("Test", [])), config.keys()
