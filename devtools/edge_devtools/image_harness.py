"""Container images under podman, as a user builds and runs them: for `make test-image` (tests/image).

No Docker daemon here and the AWS base image cannot be pulled, so: podman from Debian packages (installed if
missing), settings from scripts/image/containers.conf via CONTAINERS_CONF (nothing under /etc changes), a
stand-in for public.ecr.aws/lambda/python:3.12 (scripts/image/lambda-base), the image built by `make image
DOCKER=podman`, and `sam build` / `sam local invoke` talking to podman's Docker-compatible API socket.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CONTAINERS_CONF = REPO / "scripts" / "image" / "containers.conf"
LAMBDA_BASE = REPO / "scripts" / "image" / "lambda-base" / "build.sh"
SAM = REPO / ".tools" / "sam" / "bin" / "sam"
LAMBDA_BASE_TAG = "public.ecr.aws/lambda/python:3.12"
ARCH = "arm64" if platform.machine().lower() in ("aarch64", "arm64") else "x86_64"  # what this machine builds
BUNDLES = {"embed": REPO / "artifacts" / "embed", "rerank": REPO / "artifacts" / "rerank"}
INVOKE_PATH = "/2015-03-31/functions/function/invocations"  # the Runtime Interface Emulator's invoke URL
APT_PACKAGES = ("podman", "runc", "fuse-overlayfs", "slirp4netns", "uidmap", "debootstrap", "patchelf")
# What the image tier needs from the machine that podman does not check itself.
TOOLS = ("podman", "runc", "debootstrap", "patchelf")


# This checkout's own names for what the image tier builds: the user-facing names (edge-encoders:ARCH, sam
# build's edgeencodersfunction:python3.12-v1) are one per host, so two checkouts testing at once on one host
# would overwrite each other's images and test the other's code. The stand-in base keeps the real name
# (Dockerfile.lambda's FROM); every checkout builds it the same way.
CHECKOUT_ID = hashlib.sha256(str(REPO).encode()).hexdigest()[:10]
LAMBDA_TAG = f"edge-encoders-test-{CHECKOUT_ID}:{ARCH}"
SERVER_TAG = f"edge-encoders-server-test-{CHECKOUT_ID}:{ARCH}"
ALTERED_TAG = f"edge-encoders-test-{CHECKOUT_ID}:altered"
# template.yaml with sam build's image names made this checkout's: each image function gets a DockerImage (the
# repository sam build tags, and sam local invoke derives its `<repository>:rapid-ARCH` image from), nothing else
# changes. In the repository root, so its DockerContext "." still means the repository (ignored by git).
SAM_TEMPLATE = REPO / ".sam-test-template.yaml"
_RESOURCE = re.compile(r"^  ([A-Za-z0-9]+):\s*$")
_DOCKER_TAG = re.compile(r"^(\s+)DockerTag: .*$")


class EngineUnavailable(RuntimeError):
    """The container engine cannot run on this machine; the message says exactly why."""


def engine_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment with the project's podman settings."""
    env = {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF), "PIP_ROOT_USER_ACTION": "ignore"}
    env.update(extra or {})
    return env


def run(
    cmd: Sequence[str], *, timeout: float = 600, env: dict[str, str] | None = None, check: bool = True, cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    """Run a command with the project's podman settings; on failure raise with its output's tail."""
    result = subprocess.run(
        list(cmd), cwd=cwd, env=env or engine_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        tail = (result.stdout + result.stderr)[-3000:]
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {result.returncode}):\n{tail}")
    return result


def ensure_tools() -> None:
    """Install podman and friends from Debian packages when missing (as root, with apt-get)."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists()]
    if not missing:
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise EngineUnavailable(
            f"{', '.join(missing)} missing and cannot be installed here (needs root and apt-get): "
            f"install {' '.join(APT_PACKAGES)}"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *APT_PACKAGES]
    if run(install, env=env, check=False, timeout=900).returncode != 0:
        run(["apt-get", "update", "-q"], env=env, timeout=600)
        run(install, env=env, timeout=900)


def ensure_engine_runs() -> None:
    """A container must start (namespaces, cgroups, overlay): else say why, in podman's own words."""
    result = run(
        ["podman", "info", "--format", "{{.Host.OCIRuntime.Name}} {{.Store.GraphDriverName}}"], check=False, timeout=120
    )
    if result.returncode != 0:
        raise EngineUnavailable(f"`podman info` fails on this machine: {(result.stderr or result.stdout)[-800:]}")


def ensure_lambda_base() -> str:
    """Build (or reuse) the stand-in base image; returns the script's one-line summary."""
    result = run(["bash", str(LAMBDA_BASE)], timeout=1200)
    lines = [line for line in result.stdout.splitlines() if line.startswith("lambda-base:")]
    return lines[-1] if lines else result.stdout.strip()


def podman_ok_to_run(image: str) -> None:
    """Start one container of the image; a failure here is the engine's, not the project's."""
    result = run(["podman", "run", "--rm", "--entrypoint", "/bin/true", image], check=False, timeout=300)
    if result.returncode != 0:
        raise EngineUnavailable(f"podman cannot start a container here: {(result.stderr or result.stdout)[-800:]}")


def make_image(arch: str = "x86_64", tag: str = LAMBDA_TAG) -> float:
    """`make image DOCKER=podman ARCH=... IMAGE=<this checkout's tag>`, as a user runs it; returns seconds."""
    started = time.perf_counter()
    run(["make", "--no-print-directory", "image", "DOCKER=podman", f"ARCH={arch}", f"IMAGE={tag}"], timeout=1800)
    return time.perf_counter() - started


def make_server_image(arch: str = "x86_64", tag: str = SERVER_TAG, lambda_tag: str = LAMBDA_TAG) -> float:
    """`make image-server DOCKER=podman ARCH=...` (builds the Lambda image first) under this checkout's tags;
    returns seconds."""
    started = time.perf_counter()
    names = [f"IMAGE={lambda_tag}", f"SERVER_IMAGE={tag}"]
    run(["make", "--no-print-directory", "image-server", "DOCKER=podman", f"ARCH={arch}", *names], timeout=1800)
    return time.perf_counter() - started


def sam_template() -> Path:
    """SAM_TEMPLATE written from template.yaml, each image function's image repository made this checkout's own
    (`<logical id, lower case>-test-<CHECKOUT_ID>`, what sam build would name it, plus the checkout's hash)."""
    out: list[str] = []
    resource = ""
    for line in (REPO / "template.yaml").read_text(encoding="utf-8").splitlines():
        out.append(line)
        found = _RESOURCE.match(line)
        resource = found.group(1) if found else resource
        tag = _DOCKER_TAG.match(line)
        if tag and resource:
            out.append(f"{tag.group(1)}DockerImage: {resource.lower()}-test-{CHECKOUT_ID}")
    if not any("DockerImage:" in line for line in out):
        raise RuntimeError("template.yaml has no image function with a DockerTag: update image_harness")
    SAM_TEMPLATE.write_text("\n".join(out) + "\n", encoding="utf-8")
    return SAM_TEMPLATE


def image_size_mb(tag: str) -> float:
    return int(run(["podman", "image", "inspect", "--format", "{{.Size}}", tag]).stdout.strip()) / 1e6


@contextlib.contextmanager
def podman_socket() -> Iterator[str]:
    """`podman system service` on a private unix socket for the test's lifetime; yields DOCKER_HOST."""
    folder = Path(tempfile.mkdtemp(prefix="edge-podman-"))
    sock = folder / "podman.sock"
    log = open(folder / "service.log", "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{sock}"],
        env=engine_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not sock.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise EngineUnavailable(
                    f"podman system service did not start: {(folder / 'service.log').read_text()[-800:]}"
                )
            time.sleep(0.1)
        yield f"unix://{sock}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def sam(args: Sequence[str], docker_host: str, *, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """The project's SAM CLI against the podman socket (no telemetry, no update check)."""
    env = engine_env(
        {
            "DOCKER_HOST": docker_host,
            "SAM_CLI_TELEMETRY": "0",
            "SAM_CLI_DISABLE_UPDATE_CHECK": "1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
    )
    return run([str(SAM), *args], env=env, timeout=timeout, check=False)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def running(image: str, *extra: str, port: int = 8080, command: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
    """`podman run -d` with the container's port published on 127.0.0.1; yields (base URL, container name).
    `command` replaces the image's CMD (for a Lambda image: the handler). The container is removed afterwards
    (its logs stay readable until then)."""
    host_port = free_port()
    name = f"edge-encoders-test-{host_port}"
    ports = ["-p", f"127.0.0.1:{host_port}:{port}"]
    run(["podman", "run", "-d", "--name", name, *ports, *extra, image, *command], timeout=120)
    try:
        yield f"http://127.0.0.1:{host_port}", name
    finally:
        run(["podman", "rm", "-f", "-t", "2", name], check=False, timeout=120)


def post_json(url: str, payload: Any, timeout: float = 60) -> tuple[int, Any]:
    """POST a JSON body; (status, decoded JSON body), error statuses included."""
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), method="POST", headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def first_answer(url: str, payload: Any, deadline_s: float = 60) -> Any:
    """POST until the server answers (it may still be starting); returns the decoded body of a 200."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            status, body = post_json(url, payload)
            assert status == 200, body
            return body
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def wait_ready(url: str, deadline_s: float = 60) -> float:
    """GET url until it answers 200; returns the seconds waited."""
    started = time.monotonic()
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        if time.monotonic() - started > deadline_s:
            raise TimeoutError(f"{url} not ready within {deadline_s} s")
        time.sleep(0.05)
