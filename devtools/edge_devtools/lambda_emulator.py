"""Run the function here as the Lambda image runs it: a task root + awslambdaric under the real Runtime
Interface Emulator (RIE) that the aws-sam-cli wheel ships, bound to 127.0.0.1. No Docker needed.

One module for the e2e test (tests/e2e), `make invoke-local` and `make demo`:

    python -m edge_devtools.lambda_emulator build                 # lay out .taskroot/task, print its size
    python -m edge_devtools.lambda_emulator invoke events/*.json  # start, send each event, print, stop
    python -m edge_devtools.lambda_emulator serve                 # keep it up until Ctrl-C

Layout (mirrors Dockerfile.lambda; the image's /var/task is .taskroot/task here):
    .taskroot/deps-<key>/   pip install --target from requirements/lambda.txt (cached: key = that file +
                            Python version; `make test` does not reinstall)
    .taskroot/base-<key>/   stand-in for the base image's own packages (awslambdaric, boto3):
                            requirements/lambda-base.txt, on PYTHONPATH after the task root
    .taskroot/task/         deps (hard links) + handler/ + edge_encoders/ + bundles/{embed,rerank}
The function runs with Python 3.12 (the base image's) when this machine has one.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_devtools.torch_side import IMPORTS as TORCH_SIDE

REPO = Path(__file__).resolve().parents[2]
TASKROOT_DIR = REPO / ".taskroot"
REQUIREMENTS = REPO / "requirements" / "lambda.txt"
BASE_REQUIREMENTS = REPO / "requirements" / "lambda-base.txt"
HANDLER = "handler.lambda_main.handler"  # what the image runs (Dockerfile.lambda CMD)
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
LAMBDA_PYTHON = (3, 12)


class EmulatorError(RuntimeError):
    """Something in the local Lambda set-up failed; the message says what to do."""


# --------------------------------------------------------------------------------------------------------------
# Python for the function
# --------------------------------------------------------------------------------------------------------------
def _python_version(python: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.split()
        return int(out[0]), int(out[1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def find_python() -> tuple[str, tuple[int, int]]:
    """The interpreter the function runs with: $EDGE_LAMBDA_PYTHON, else a Python 3.12 (Lambda's), else ours."""
    explicit = os.environ.get("EDGE_LAMBDA_PYTHON")
    candidates = [explicit] if explicit else []
    candidates += [
        shutil.which("python3.12") or "",
        *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12"))),
    ]
    candidates += ["/usr/bin/python3.12", "/usr/local/bin/python3.12"]
    for candidate in candidates:
        version = _python_version(candidate) if candidate else None
        if version is not None and (explicit or version == LAMBDA_PYTHON):
            return candidate, version
    version = (sys.version_info.major, sys.version_info.minor)
    print(
        f"warning: no Python 3.12 found (the Lambda base image's); running the function with {sys.executable} "
        f"{version[0]}.{version[1]}. Set EDGE_LAMBDA_PYTHON to choose.",
        file=sys.stderr,
    )
    return sys.executable, version


# --------------------------------------------------------------------------------------------------------------
# Task root
# --------------------------------------------------------------------------------------------------------------
@dataclass
class TaskRoot:
    path: Path
    base: Path
    python: str
    python_version: tuple[int, int]
    bundles: dict[str, Path]
    size_bytes: int  # without bundles: what the image adds for code and dependencies
    bundle_bytes: int

    def summary(self) -> dict[str, Any]:
        return {
            "task_root": str(self.path),
            "python": f"{self.python_version[0]}.{self.python_version[1]}",
            "task_root_mb_without_bundles": round(self.size_bytes / 1e6, 1),
            "bundles_mb": round(self.bundle_bytes / 1e6, 1),
            "bundles": {kind: str(path) for kind, path in self.bundles.items()},
        }


def _tree_bytes(root: Path, skip: Path | None = None) -> int:
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        if skip is not None and Path(dirpath) == skip.parent:
            dirnames[:] = [d for d in dirnames if Path(dirpath, d) != skip]
        for name in filenames:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def _cache_key(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def _pip_install(python: str, target: Path, requirements: Path, *, no_deps: bool) -> None:
    """Install into a fresh folder, then move it in place: a failed install never leaves a half cache."""
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    cmd = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-warn-script-location"]
    cmd += ["--only-binary=:all:", "--target", str(staging), "-r", str(requirements)]
    if no_deps:
        cmd.append("--no-deps")
    print(f"installing {requirements.relative_to(REPO)} into {target.relative_to(REPO)} ...", file=sys.stderr)
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise EmulatorError(f"pip install -r {requirements} failed:\n{result.stdout}\n{result.stderr}")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)


def _cached_install(python: str, version: tuple[int, int], requirements: Path, name: str, *, no_deps: bool) -> Path:
    key = _cache_key(requirements.read_text(), f"{version}", platform.machine(), str(no_deps))
    target = TASKROOT_DIR / f"{name}-{key}"
    if not (target / ".complete").is_file():
        for stale in TASKROOT_DIR.glob(f"{name}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        _pip_install(python, target, requirements, no_deps=no_deps)
        (target / ".complete").write_text(requirements.read_text())
    return target


def _link_tree(source: Path, dest: Path) -> None:
    """Hard-link a tree (fast, no extra disk); copy where links cannot be made (other filesystem)."""

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, dest, copy_function=link, dirs_exist_ok=True, symlinks=True)


def default_bundles() -> dict[str, Path]:
    """artifacts/embed + artifacts/rerank (what `make export` writes)."""
    return {"embed": REPO / "artifacts" / "embed", "rerank": REPO / "artifacts" / "rerank"}


def dev_bundles() -> dict[str, Path]:
    return {"embed": REPO / "artifacts" / "dev" / "embed", "rerank": REPO / "artifacts" / "dev" / "rerank"}


def build_task_root(bundles: dict[str, Path] | None = None, *, dest: Path | None = None) -> TaskRoot:
    """Lay out the task root as Dockerfile.lambda does: deps, then src + handler, then bundles."""
    bundles = bundles or default_bundles()
    for kind, path in bundles.items():
        if not (path / "manifest.json").is_file():
            raise EmulatorError(f"no {kind} bundle at {path}: run `make export` first (or pass --dev)")
    python, version = find_python()
    TASKROOT_DIR.mkdir(exist_ok=True)
    deps = _cached_install(python, version, REQUIREMENTS, "deps", no_deps=True)
    base = _cached_install(python, version, BASE_REQUIREMENTS, "base", no_deps=False)

    task = dest or TASKROOT_DIR / "task"
    shutil.rmtree(task, ignore_errors=True)
    task.mkdir(parents=True)
    _link_tree(deps, task)
    (task / ".complete").unlink(missing_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "py.typed")
    shutil.copytree(REPO / "src" / "edge_encoders", task / "edge_encoders", ignore=ignore)
    shutil.copytree(REPO / "handler", task / "handler", ignore=ignore)
    # The image compiles at build time: /var/task is read-only at run time, so no .pyc could be written then.
    subprocess.run([python, "-m", "compileall", "-q", str(task / "edge_encoders"), str(task / "handler")], check=True)
    for kind, source in bundles.items():
        _link_tree(source, task / "bundles" / kind)
    return TaskRoot(
        path=task,
        base=base,
        python=python,
        python_version=version,
        bundles={kind: task / "bundles" / kind for kind in bundles},
        size_bytes=_tree_bytes(task, skip=task / "bundles"),
        bundle_bytes=_tree_bytes(task / "bundles"),
    )


def forbidden_packages(task_root: Path) -> list[str]:
    """Top-level names in the task root that must never ship (torch and friends)."""
    found = []
    for entry in task_root.iterdir():
        name = entry.name.split("-")[0].lower()
        if name in TORCH_SIDE:
            found.append(entry.name)
    return sorted(found)


# --------------------------------------------------------------------------------------------------------------
# Emulator
# --------------------------------------------------------------------------------------------------------------
def find_rie() -> Path:
    """The RIE binary from the aws-sam-cli wheel (this venv's, or .tools/sam's), made executable."""
    arch = "arm64" if platform.machine().lower() in ("aarch64", "arm64") else "x86_64"
    name = f"aws-lambda-rie-{arch}"
    roots: list[Path] = []
    try:
        import samcli  # type: ignore[import-not-found,unused-ignore]

        roots.append(Path(samcli.__file__).parent)
    except ImportError:
        pass
    roots += [
        Path(p) for p in glob.glob(str(REPO / ".tools" / "sam" / "lib" / "python3*" / "site-packages" / "samcli"))
    ]
    for root in roots:
        binary = root / "local" / "rapid" / name
        if binary.is_file():
            if os.access(binary, os.X_OK):
                return binary
            copy = TASKROOT_DIR / "bin" / name
            if not copy.is_file() or copy.stat().st_size != binary.stat().st_size:
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(binary, copy)
                copy.chmod(0o755)
            return copy
    raise EmulatorError(
        f"{name} not found: it ships in the aws-sam-cli wheel (pip install aws-sam-cli, or scripts/setup_tools.sh)"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Invocation:
    status: int  # HTTP status of the RIE's invoke API (200 even when the function errored: see payload)
    payload: Any  # the function's return value (a function URL response dict) or Lambda's error object
    seconds: float

    @property
    def function_error(self) -> str | None:
        """errorType when the function (or the runtime) failed instead of answering."""
        if isinstance(self.payload, dict) and "errorType" in self.payload:
            return str(self.payload["errorType"])
        return None

    @property
    def http_status(self) -> int | None:
        return self.payload.get("statusCode") if isinstance(self.payload, dict) else None

    def json_body(self) -> Any:
        """Decode a function URL response's body (base64 or not)."""
        import base64

        body = self.payload.get("body", "") if isinstance(self.payload, dict) else ""
        if isinstance(self.payload, dict) and self.payload.get("isBase64Encoded"):
            body = base64.b64decode(body).decode("utf-8")
        return json.loads(body) if body else None

    def header(self, name: str) -> str | None:
        headers = self.payload.get("headers", {}) if isinstance(self.payload, dict) else {}
        return next((str(v) for k, v in headers.items() if k.lower() == name.lower()), None)


@dataclass
class LambdaEmulator:
    """The RIE + awslambdaric + our handler, as a context manager that always stops what it started."""

    task_root: TaskRoot
    handler: str = HANDLER
    timeout_s: int = 30
    memory_mb: int = 2048
    env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    port: int = 0
    _process: subprocess.Popen[bytes] | None = None
    _log: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{INVOKE_PATH}"

    def _environment(self) -> dict[str, str]:
        task = self.task_root.path
        env = {
            # What Lambda sets (a clean environment: nothing from this shell leaks into the function).
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": "/tmp",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "LAMBDA_TASK_ROOT": str(task),
            "LAMBDA_RUNTIME_DIR": str(self.task_root.base),
            "PYTHONPATH": f"{task}:{self.task_root.base}",
            "_HANDLER": self.handler,
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_LAMBDA_FUNCTION_NAME": "edge-encoders",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(self.timeout_s),
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/edge-encoders",
            "AWS_LAMBDA_LOG_STREAM_NAME": "local",
            # What Dockerfile.lambda and template.yaml set.
            "HF_HUB_OFFLINE": "1",
            "EDGE_EMBED_BUNDLE": str(self.task_root.bundles.get("embed", task / "bundles" / "embed")),
            "EDGE_RERANK_BUNDLE": str(self.task_root.bundles.get("rerank", task / "bundles" / "rerank")),
            "EDGE_BUNDLE_CACHE_DIR": str(TASKROOT_DIR / "tmp" / "edge-bundles"),
        }
        env.update(self.env)
        return env

    def start(self, wait_s: float = 15.0) -> LambdaEmulator:
        if self._process is not None:
            return self
        rie = find_rie()
        self.port = self.port or free_port()
        api_port = free_port()
        log_path = self.log_path or TASKROOT_DIR / "logs" / f"rie-{self.port}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 (closed in stop())
        cmd = [
            str(rie),
            "--runtime-interface-emulator-address",
            f"127.0.0.1:{self.port}",
            "--runtime-api-address",
            f"127.0.0.1:{api_port}",
            self.task_root.python,
            "-m",
            "awslambdaric",
            self.handler,
        ]
        self._process = subprocess.Popen(
            cmd,
            cwd=self.task_root.path,
            env=self._environment(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stop() ends the RIE and the runtime together
        )
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                tail = self.log_text()[-2000:]
                self.stop()
                raise EmulatorError(f"the emulator exited at start:\n{tail}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return self
            time.sleep(0.05)
        self.stop()
        raise EmulatorError(f"the emulator did not listen on 127.0.0.1:{self.port} within {wait_s} s")

    def invoke(self, event: dict[str, Any] | bytes, *, timeout_s: float | None = None) -> Invocation:
        data = event if isinstance(event, bytes) else json.dumps(event).encode("utf-8")
        request = urllib.request.Request(self.url, data=data, method="POST")
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=timeout_s or self.timeout_s + 30) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        seconds = time.perf_counter() - started
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode("utf-8", errors="replace")
        return Invocation(status, payload, seconds)

    def log_text(self) -> str:
        if self._log is not None:
            self._log.flush()
        try:
            return self.log_path.read_text(errors="replace") if self.log_path else ""
        except OSError:
            return ""

    def init_duration_ms(self) -> float | None:
        """The RIE's own measure of the init phase (imports + model loads + warm-up in our handler)."""
        match = re.search(r"INIT REPORT\(durationMs: ([0-9.]+)\)", self.log_text())
        if match:
            return float(match.group(1))
        match = re.search(r"Init Duration: ([0-9.]+) ms", self.log_text())
        return float(match.group(1)) if match else None

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        elif process is not None:
            # the RIE is gone; make sure no runtime it started is left behind in its group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LambdaEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def running(bundles: dict[str, Path] | None = None, **kwargs: Any) -> Iterator[LambdaEmulator]:
    """Build the task root and run the function until the block ends (Ctrl-C and errors included)."""
    root = build_task_root(bundles)
    emulator = LambdaEmulator(root, **kwargs)
    try:
        yield emulator.start()
    finally:
        emulator.stop()


# --------------------------------------------------------------------------------------------------------------
# CLI: make invoke-local
# --------------------------------------------------------------------------------------------------------------
def _print_invocation(name: str, result: Invocation) -> None:
    if result.function_error:
        print(f"{name}: function error {result.function_error}: {result.payload.get('errorMessage')}")
        return
    try:
        body = result.json_body()
    except ValueError:
        body = result.payload.get("body") if isinstance(result.payload, dict) else result.payload
    text = json.dumps(body)
    if len(text) > 600:
        text = text[:600] + f"... ({len(text)} chars)"
    print(f"{name}: HTTP {result.http_status} in {result.seconds * 1000:.0f} ms\n  {text}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["build", "invoke", "serve"])
    parser.add_argument("events", nargs="*", type=Path, help="event JSON files (invoke)")
    parser.add_argument("--dev", action="store_true", help="use artifacts/dev bundles (wiring only)")
    parser.add_argument("--embed", type=Path, help="embed bundle folder (default artifacts/embed)")
    parser.add_argument("--rerank", type=Path, help="rerank bundle folder (default artifacts/rerank)")
    parser.add_argument("--port", type=int, default=0, help="emulator port on 127.0.0.1 (serve; default free)")
    parser.add_argument("--env", action="append", default=[], metavar="K=V", help="extra env for the function")
    args = parser.parse_args(argv)
    bundles = dev_bundles() if args.dev else default_bundles()
    if args.embed:
        bundles["embed"] = args.embed.resolve()
    if args.rerank:
        bundles["rerank"] = args.rerank.resolve()
    extra = dict(item.split("=", 1) for item in args.env)
    try:
        root = build_task_root(bundles)
        print(json.dumps(root.summary(), indent=2))
        if args.command == "build":
            return 0
        with LambdaEmulator(root, env=extra, port=args.port) as emulator:
            if args.command == "serve":
                print(f"function up: POST events to {emulator.url}  (log: {emulator.log_path}); Ctrl-C stops it")
                while emulator.alive():
                    time.sleep(0.5)
                print("the emulator exited:\n" + emulator.log_text()[-2000:])
                return 1
            paths = args.events or sorted((REPO / "events").glob("*.json"))
            for path in paths:
                _print_invocation(path.name, emulator.invoke(json.loads(path.read_text())))
            print(f"init duration: {emulator.init_duration_ms()} ms (log: {emulator.log_path})")
        return 0
    except EmulatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
