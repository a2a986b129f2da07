"""Measuring: every measurement runs in a fresh subprocess (bench.worker, bench.cold) with the same thread
settings, so imports, thread pools and peak RSS of one system never leak into another's numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.stats import median

ROOT = Path(__file__).resolve().parents[1]


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def child_env(threads: int) -> dict[str, str]:
    """The environment of every measuring subprocess: every thread pool pinned to `threads`, hubs offline."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS"):
        env[var] = str(threads)
    env["TOKENIZERS_PARALLELISM"] = "true"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env


def run_worker(plan: dict[str, Any], threads: int, timeout: int, log_dir: Path, key: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        plan_file, out_file = Path(tmp) / "plan.json", Path(tmp) / "out.json"
        plan_file.write_text(json.dumps(plan), encoding="utf-8")
        log_file = log_dir / f"{key}.{plan['task']}.log"
        started = time.perf_counter()
        try:
            with log_file.open("w") as log:
                proc = subprocess.run(
                    [sys.executable, "-m", "bench.worker", str(plan_file), str(out_file)],
                    cwd=ROOT,
                    env=child_env(threads),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=timeout,
                    check=False,
                )
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout} s (log: {log_file})"}
        if proc.returncode != 0 or not out_file.is_file():
            tail = log_file.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            return {"error": f"exit {proc.returncode}: {tail[0][:160]} (log: {log_file})"}
        result: dict[str, Any] = json.loads(out_file.read_text(encoding="utf-8"))
        result["worker_wall_s"] = time.perf_counter() - started
        return result


def cold_start(spec: dict[str, Any], threads: int, reps: int) -> dict[str, Any]:
    """Spawn-to-first-result wall time, median over `reps` fresh processes (page cache warm)."""
    samples: list[dict[str, float]] = []
    for _ in range(reps):
        t0 = time.time()
        proc = subprocess.run(
            [sys.executable, "-m", "bench.cold", json.dumps(spec), str(threads)],
            cwd=ROOT,
            env=child_env(threads),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode != 0 or not lines:
            return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1][:160]}
        t = json.loads(lines[-1])
        samples.append(
            {
                "interpreter_s": t["t_start"] - t0,
                "imports_s": t["t_imported"] - t0,
                "loaded_s": t["t_loaded"] - t0,
                "first_s": t["t_first"] - t0,
            }
        )
    return {k: median([s[k] for s in samples]) for k in samples[0]} | {"reps": reps}
