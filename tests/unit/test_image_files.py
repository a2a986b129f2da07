"""Dockerfile.lambda and requirements/lambda.txt keep the promises the e2e task root relies on (no Docker
here, so the file itself is checked): pinned closure, no torch side, layer order, entry point."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from edge_devtools import image_harness as ih
from edge_devtools.torch_side import torch_side_distributions

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = (REPO / "Dockerfile.lambda").read_text()


def _requirements(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.\-+]+)", line)
            assert match, f"{path.name}: {line!r} is not pinned with =="
            pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def test_lambda_requirements_are_pinned_and_torch_free() -> None:
    pins = _requirements(REPO / "requirements" / "lambda.txt")
    assert not torch_side_distributions(set(pins))
    assert pins["onnxruntime"] == "1.32.0" and pins["tokenizers"] == "0.22.2"
    assert {"numpy", "fastapi", "mangum", "pydantic", "pydantic-core", "starlette"} <= set(pins)
    assert "awslambdaric" not in pins and "boto3" not in pins  # the base image has them


def test_dockerfile_installs_the_same_file_without_deps() -> None:
    assert re.search(r"^FROM \$\{BASE_IMAGE\}", DOCKERFILE, re.M)
    assert "ARG BASE_IMAGE=public.ecr.aws/lambda/python:3.12" in DOCKERFILE
    install = re.search(r"RUN pip install[^\n]*\\\n[^\n]*", DOCKERFILE)
    assert install and "--no-deps" in install.group(0) and "/tmp/requirements-lambda.txt" in install.group(0)
    assert "COPY requirements/lambda.txt /tmp/requirements-lambda.txt" in DOCKERFILE


def test_dockerfile_layer_order_and_entry_point() -> None:
    order = [
        DOCKERFILE.index("COPY requirements/lambda.txt"),
        DOCKERFILE.index("COPY src/edge_encoders"),
        DOCKERFILE.index("COPY handler"),
        DOCKERFILE.index("COPY ${BUNDLES}/embed"),
    ]
    assert order == sorted(order), "dependencies, then code, then bundles"
    assert "HF_HUB_OFFLINE=1" in DOCKERFILE
    assert DOCKERFILE.rstrip().endswith('CMD ["handler.lambda_main.handler"]')


def test_dockerignore_keeps_the_context_small() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    assert lines[[line.startswith("#") for line in lines].index(False)] == "*"
    assert "!handler/" in lines and "!src/edge_encoders/" in lines


def _make_n(*args: str) -> str:
    done = subprocess.run(["make", "-n", "--no-print-directory", *args], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_image_tier_builds_under_tags_of_its_own_checkout_and_users_keep_theirs(tmp_path: Path) -> None:
    """Two checkouts running `make test-image` on one host must not overwrite each other's images."""
    assert "-t edge-encoders:x86_64 " in _make_n("image", "ARCH=x86_64")  # the documented names stay
    server = _make_n("image-server", "ARCH=arm64")
    assert "LAMBDA_IMAGE=edge-encoders:arm64 -t edge-encoders-server:arm64 " in server
    ours = _make_n("image-server", f"IMAGE={ih.LAMBDA_TAG}", f"SERVER_IMAGE={ih.SERVER_TAG}")
    assert f"-t {ih.LAMBDA_TAG} " in ours and f"LAMBDA_IMAGE={ih.LAMBDA_TAG} -t {ih.SERVER_TAG} " in ours
    tags = {ih.LAMBDA_TAG, ih.SERVER_TAG, ih.ALTERED_TAG}
    assert len(tags) == 3 and all(ih.CHECKOUT_ID in tag for tag in tags)
    other = subprocess.run(  # the same module in another checkout's folder names other tags
        [sys.executable, "-c", "import image_harness as ih; print(ih.LAMBDA_TAG)"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(_copy_harness(tmp_path))},
        capture_output=True,
        text=True,
        check=True,
    )
    assert other.stdout.strip() != ih.LAMBDA_TAG
    template = ih.sam_template().read_text()
    for function in ("edgeencodersfunction", "bulkembedfunction"):  # both image functions, under their own names
        assert f"      DockerImage: {function}-test-{ih.CHECKOUT_ID}\n" in template
    original = (REPO / "template.yaml").read_text()
    assert [line for line in template.splitlines() if "DockerImage:" not in line] == original.splitlines()


def _copy_harness(root: Path) -> Path:
    folder = root / "other-checkout" / "devtools" / "edge_devtools"
    folder.mkdir(parents=True)
    shutil.copy(Path(ih.__file__), folder / "image_harness.py")
    return folder


def test_dockerfile_compiles_the_base_python_before_the_dependencies() -> None:
    """The base's stdlib and runtime client get their bytecode in the first step (a layer no code or dependency
    change rebuilds); the image tier checks that a cold start then compiles nothing."""
    step = re.search(r"^RUN python -m compileall [^\n]*\\\n[^\n]*", DOCKERFILE, re.M)
    assert step, "no compileall step for the base image's Python"
    assert 'sysconfig.get_path("stdlib")' in step.group(0) and "${LAMBDA_RUNTIME_DIR}" in step.group(0)
    assert step.start() < DOCKERFILE.index("COPY requirements/lambda.txt")


def test_the_image_skips_the_warm_up_inference() -> None:
    """Measured in the image: the warm-up cost INIT CPU and the first request's duration did not change."""
    assert re.search(r"^\s+EDGE_WARMUP=false \\$", DOCKERFILE, re.M)
