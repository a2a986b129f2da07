"""The Lambda image as users build and run it: the stand-in base (scripts/image/lambda-base), `make image
DOCKER=podman`, then every events/ file through `sam build` + `sam local invoke` with DOCKER_HOST at a podman
socket, each answer checked against the runtime called in-process on the same bundles; and cold starts of
the image under its own entrypoint (the Runtime Interface Emulator), timed."""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from edge_devtools import image_harness as ih
from helpers.image_answers import check_answer
from helpers.image_report import report

from edge_encoders import Embedder, Reranker, load_cache

pytestmark = pytest.mark.image

EVENTS = sorted((ih.REPO / "events").glob("*.json"))


@pytest.fixture(scope="module")
def sam_built(lambda_image: str) -> Iterator[str]:
    """sam build (Docker's API on podman's socket) once; yields DOCKER_HOST for the invokes."""
    with ih.podman_socket() as docker_host:
        started = time.perf_counter()
        template = str(ih.sam_template())  # template.yaml with this checkout's own image tag
        result = ih.sam(
            ["build", "--template-file", template, "--config-file", "samconfig.toml", "--config-env", ih.ARCH],
            docker_host,
        )
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
            ih.ARCH,
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


def _init_record(name: str, event: str = "init") -> dict[str, Any]:
    logs = ih.run(["podman", "logs", name], timeout=60)
    for line in (logs.stdout + logs.stderr).splitlines():
        match = re.search(r'(\{"event":"' + re.escape(event) + r'".*\})', line)
        if match:
            record: dict[str, Any] = json.loads(match.group(1))
            return record
    raise AssertionError(f"no {event} record in the function's log:\n{(logs.stdout + logs.stderr)[-2000:]}")


def test_cold_starts_read_only_root(lambda_image: str, reference: tuple[Embedder, Reranker]) -> None:
    """Three cold starts as Lambda runs the image: read-only root, /tmp the only writable place."""
    event = json.loads((ih.REPO / "events" / "embed.json").read_text())
    first_answer, init_ms, process_ms, phases = [], [], [], []
    for _ in range(3):
        started = time.perf_counter()
        with ih.running(lambda_image, "--read-only", "--tmpfs", "/tmp", "--memory", "2g") as (base, name):
            url = base + ih.INVOKE_PATH
            response = ih.first_answer(url, event)
            first_answer.append(time.perf_counter() - started)
            check_answer(event, response, *reference)
            record = _init_record(name)
            assert record["failed"] == {}, record
            init_ms.append(record["init_ms"])
            process_ms.append(record.get("process_ms"))
            phases.append(_init_record(name, "init_phases"))  # handler.lambda_main, the image's entry point
    report(
        cold_start_first_answer_s=[round(s, 2) for s in first_answer],
        cold_start_models_init_ms_median=round(statistics.median(init_ms), 1),
        cold_start_process_to_ready_ms=process_ms,
        cold_start_init_phases_ms_median={
            key: round(statistics.median(p[key] for p in phases), 1)
            for key in ("start_ms", "imports_ms", "models_ms", "app_ms", "ready_ms", "imports_cpu_ms", "cpu_ms")
            if all(p.get(key) is not None for p in phases)
        },
    )


def test_build_refuses_an_altered_bundle(lambda_image: str, tmp_path: Path) -> None:
    """The check at the end of the build stops an image whose bundle does not match its manifest."""
    context = tmp_path / "context"
    for name in ("requirements/lambda.txt", "scripts/check_bundles.py", "src/edge_encoders", "handler"):
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cp", "-a", str(ih.REPO / name), str(context / name)], check=True)
    for kind, source in ih.BUNDLES.items():
        (context / "artifacts").mkdir(exist_ok=True)
        subprocess.run(["cp", "-a", str(source), str(context / "artifacts" / kind)], check=True)
    tokenizer = context / "artifacts" / "rerank" / "tokenizer.json"
    tokenizer.write_text(tokenizer.read_text().replace('"[SEP]"', '"[SEQ]"', 1))  # same size, other bytes
    try:
        result = ih.run(
            ["podman", "build", "-f", str(ih.REPO / "Dockerfile.lambda"), "-t", ih.ALTERED_TAG, str(context)],
            check=False,
            timeout=900,
        )
        output = result.stdout + result.stderr
        assert result.returncode != 0, output[-2000:]
        assert "bundle check failed" in output and "tokenizer.json" in output, output[-2000:]
    finally:
        ih.run(["podman", "rmi", "-f", ih.ALTERED_TAG], check=False)


def test_image_ships_a_graph_cache_the_runtime_accepts(lambda_image: str) -> None:
    """The build step's optimized graphs match this image's onnxruntime and models, so init skips optimizing, and
    its tokenizer records let the two MiniLM bundles share one tokenizer, loaded from its split parts."""
    probe = (
        "from pathlib import Path\n"
        "from edge_encoders import load_cache\n"
        "from edge_encoders.manifest import read_manifest\n"
        "for kind in ('embed', 'rerank'):\n"
        "    path = Path('/var/task/bundles') / kind; m = read_manifest(path)\n"
        "    print(kind, load_cache.find(path, m, m.model_for_machine()[1], verify=True))\n"
        "    print(kind + '-tokenizer', load_cache.tokenizer_key(path, m), m.max_seq_length)\n"
        "    print(kind + '-parts', load_cache.tokenizer_parts(path, m, verify=True) is not None)\n"
    )
    result = ih.run(["podman", "run", "--rm", "--read-only", "--entrypoint", "python3", lambda_image, "-c", probe])
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    expected = {f"{kind}{what}" for kind in ("embed", "rerank") for what in ("", "-tokenizer", "-parts")}
    assert set(lines) == expected, result.stdout + result.stderr
    assert all(f"/{load_cache.CACHE_DIR}/" in lines[kind] for kind in ("embed", "rerank")), lines
    assert lines["embed-tokenizer"].startswith("content:"), lines
    assert lines["embed-tokenizer"] == lines["rerank-tokenizer"], lines  # the same MiniLM tokenizer
    assert lines["embed-parts"] == lines["rerank-parts"] == "True", lines  # the tokenizer split for a faster load
    assert "not using the pre-optimized graph" not in result.stderr
    assert "not using the split tokenizer" not in result.stderr


def test_cold_start_compiles_no_python_module(lambda_image: str) -> None:
    """Every module a cold start imports (runtime client, entry point, handler built) loads from current bytecode:
    the root is read-only at run time, so a module without it would be compiled again at every INIT. The
    dependencies and our code are compiled when installed; the base image's stdlib and runtime client by
    Dockerfile.lambda's first step, whatever the base ships."""
    probe = (Path(__file__).parent / "bytecode_probe.py").read_text()
    run = ["podman", "run", "--rm", "-i", "--read-only", "--tmpfs", "/tmp", "--entrypoint", "python3"]
    env = ["-e", "PYTHONPATH=/var/task:/var/runtime", "-e", "EDGE_ACCESS_LOG=false"]  # as /var/runtime/bootstrap
    result = subprocess.run(
        [*run, *env, lambda_image, "-"],
        input=probe,
        env=ih.engine_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["checked"] > 300, found  # the stdlib, FastAPI, pydantic, numpy, ... and ours
    assert found["compiled_at_start"] == {}, found["compiled_at_start"]
