"""Cold starts of the Lambda image under podman, several configurations interleaved in one run (this machine
is shared and noisy: compare within a run, not across runs).

    python scripts/cold_starts.py --runs 5 [--image edge-encoders:x86_64] [--config NAME=ENV=VALUE,...]

Each cold start is a fresh container (read-only root, /tmp tmpfs, 2 GB) under the image's own entrypoint (the
Runtime Interface Emulator), one embed event. Reported per configuration (medians, ms): process_ms = Python
start to the handler ready (interpreter, imports, model loads, warm-up: what Lambda's INIT spends in the
function), init_ms = the model loads alone, first_answer_ms = `podman run` to the first answer; with the
image's entry point handler.lambda_main also its phase_* figures (start, imports, models, app, ready, cpu);
first_invoke_ms = the first request's duration in the function (its access log line); cpu_ms_init_and_first_invoke
= CPU time of the function's process after its first answer (any entry point). With --requests N, N warm requests
follow the first: warm_median_ms and warm_p90_ms (their durations in the function) and rss_mb_after_warm.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from typing import Any

from edge_devtools import image_harness as ih

INVOKE_PATH = "/2015-03-31/functions/function/invocations"
DEFAULT_CONFIGS: dict[str, dict[str, str]] = {"image as built": {}}


def _init_record(name: str, event: str = "init") -> dict[str, Any]:
    """The function's {"event": "init"} line (or another event's), from the container's log."""
    logs = ih.run(["podman", "logs", name])
    match = re.search(r'(\{"event":"' + re.escape(event) + r'".*\})', logs.stdout + logs.stderr)
    if not match:
        raise RuntimeError(f"no {event} record in the log:\n{(logs.stdout + logs.stderr)[-1500:]}")
    record: dict[str, Any] = json.loads(match.group(1))
    return record


def _request_durations(name: str) -> list[float]:
    """Every request's duration in the function (its access log lines), oldest first."""
    logs = ih.run(["podman", "logs", name])
    lines = re.findall(r'(\{"event":"request".*\})', logs.stdout + logs.stderr)
    return [float(json.loads(line)["duration_ms"]) for line in lines]


def _function_rss_mb(name: str) -> float | None:
    """Resident memory of the function's Python process (VmRSS), in MB."""
    proc = ih.run(["podman", "exec", name, "sh", "-c", "grep -H -e ^Name -e ^VmRSS /proc/[0-9]*/status"], check=False)
    pids = {line.split(":")[0] for line in proc.stdout.splitlines() if "python" in line.split("\t")[-1]}
    for line in proc.stdout.splitlines():
        if line.split(":")[0] in pids and ":VmRSS:" in line:
            return round(int(line.split()[-2]) / 1024, 1)
    return None


def _function_cpu_ms(name: str) -> float | None:
    """CPU time (user + system, all threads) of the function's Python process in the container so far: a figure
    that contention on a shared host inflates far less than wall time."""
    proc = ih.run(["podman", "exec", name, "sh", "-c", "cat /proc/[0-9]*/stat"], check=False)
    for line in proc.stdout.splitlines():
        comm, _, rest = line.partition(")")
        if "python" in comm:
            fields = rest.split()
            return (int(fields[11]) + int(fields[12])) * 10.0  # utime + stime, 100 ticks per second
    return None


def cold_start(image: str, env: dict[str, str], event: dict[str, Any], requests: int = 0) -> dict[str, float]:
    extra = ["--read-only", "--tmpfs", "/tmp", "--memory", "2g"]
    image = env.get("IMAGE", image)  # IMAGE=<tag> in a config: another image (e.g. one built without a step)
    command = (env["CMD"],) if "CMD" in env else ()  # CMD=<module.handler>: another entry point
    if "CPUSET" in env:  # CPUSET=0: the function on one CPU, as a function of 1,769 MB or less gets one vCPU
        extra += ["--cpuset-cpus", env["CPUSET"]]
    for key, value in env.items():
        if key in ("IMAGE", "CMD", "CPUSET"):
            continue
        extra += ["-e", f"{key}={value}"]
    started = time.perf_counter()
    with ih.running(image, *extra, command=command) as (base, name):
        ih.first_answer(base + INVOKE_PATH, event)
        first = (time.perf_counter() - started) * 1000
        record = _init_record(name)
        figures = {"process_ms": record["process_ms"], "init_ms": record["init_ms"], "first_answer_ms": round(first, 1)}
        request = _init_record(name, "request")  # the first (cold) request's own line
        figures["first_invoke_ms"] = request["duration_ms"]
        cpu = _function_cpu_ms(name)
        if cpu is not None:
            figures["cpu_ms_init_and_first_invoke"] = cpu
        if requests:  # warm requests after the first: their duration in the function, and the memory after
            for _ in range(requests):
                ih.post_json(base + INVOKE_PATH, event)
            warm = sorted(_request_durations(name)[1:])
            if warm:
                figures["warm_median_ms"] = statistics.median(warm)
                figures["warm_p90_ms"] = warm[int(0.9 * (len(warm) - 1))]
            rss = _function_rss_mb(name)
            if rss is not None:
                figures["rss_mb_after_warm"] = rss
        try:  # the phases line of handler.lambda_main; images with another entry point have none
            phases = _init_record(name, "init_phases")
        except RuntimeError:
            return figures
    return {**figures, **{f"phase_{k}": v for k, v in phases.items() if k != "event" and v is not None}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--image", default="edge-encoders:x86_64")
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        help="NAME=KEY=VALUE[,...]; IMAGE=<tag> another image, CMD=<handler> another entry point, CPUSET=<cpus> "
        "the CPUs the container may use (CPUSET=0: one)",
    )
    parser.add_argument(
        "--requests", type=int, default=0, help="warm requests after the first, per cold start (their median, p90, RSS)"
    )
    args = parser.parse_args(argv)
    configs = dict(DEFAULT_CONFIGS)
    for spec in args.config:
        name, _, pairs = spec.partition("=")
        configs[name] = dict(pair.split("=", 1) for pair in pairs.split(",") if pair)
    event = json.loads((ih.REPO / "events" / "embed.json").read_text())
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in configs}
    for _ in range(args.runs):
        for name, env in configs.items():  # interleaved: drift on the machine hits every config alike
            samples[name].append(cold_start(args.image, env, event, args.requests))
    summary = {
        name: {key: round(statistics.median(s[key] for s in runs), 1) for key in runs[0] if all(key in s for s in runs)}
        for name, runs in samples.items()
    }
    print(json.dumps({"runs": args.runs, "image": args.image, "median": summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
