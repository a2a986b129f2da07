"""onnxruntime session creation with explicit options.

Why explicit: onnxruntime's defaults size the thread pool from the host's cores, not from what a Lambda
function or a container's cgroup really grants, and oversubscription costs more than it gains on 1-2 vCPUs.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from edge_encoders.errors import BundleError
from edge_encoders.scheduling import RUN_MODES


def _cgroup_cpu_limit() -> float | None:
    """CPUs granted by a cgroup v2 (cpu.max) or v1 (cfs quota) limit, if one is set."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            return int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_v1 = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period_v1 = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        if quota_v1 > 0 and period_v1 > 0:
            return quota_v1 / period_v1
    except (OSError, ValueError):
        pass
    return None


def available_cpus() -> int:
    """CPUs this process may really use: affinity mask, capped by a cgroup quota (rounded up, at least 1)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        cpus = os.cpu_count() or 1
    limit = _cgroup_cpu_limit()
    if limit is not None:
        cpus = min(cpus, max(1, math.ceil(limit)))
    return max(1, cpus)


@dataclass(frozen=True)
class SessionConfig:
    """How to run a model: plain values, no environment lookups (the handler reads settings)."""

    intra_op_threads: int | None = None  # None: available_cpus()
    inter_op_threads: int = 1
    cpu_mem_arena: bool = True  # arena: faster repeated runs; off: lower steady RSS after large batches
    arena_shrinkage: bool = False  # with the arena: hand its unused chunks back after every run
    graph_optimization: str = "all"  # "all" | "extended" | "basic" | "disabled"
    # Idle intra-op threads spin a while before they sleep: lower latency when the cores are the process's own,
    # but on a Lambda share of a core (1 vCPU per 1,769 MB) or a busy host the spinning burns the CPU the work
    # needs. Off measured in the Lambda image: session creation -40% CPU, batch-32 embed no slower.
    allow_spinning: bool = True
    # A call's micro-batches: "auto" follows the bundle's run hint (the build measured both), "sequential" runs
    # them one after another on intra_op_threads, "concurrent" runs that many at once (edge_encoders.scheduling).
    run_mode: str = "auto"

    def __post_init__(self) -> None:
        if self.run_mode not in ("auto", *RUN_MODES):
            raise ValueError(f"run_mode must be auto, {' or '.join(RUN_MODES)}; got {self.run_mode!r}")


_LEVELS = {
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
}


def create_session(model_path: str | Path, config: SessionConfig | None = None) -> ort.InferenceSession:
    """Open an ONNX model on the CPU with the given options; a corrupt file becomes a BundleError."""
    cfg = config or SessionConfig()
    options = ort.SessionOptions()
    options.intra_op_num_threads = cfg.intra_op_threads or available_cpus()
    options.inter_op_num_threads = cfg.inter_op_threads
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.enable_cpu_mem_arena = cfg.cpu_mem_arena
    try:
        options.graph_optimization_level = _LEVELS[cfg.graph_optimization]
    except KeyError:
        raise ValueError(f"graph_optimization must be one of {sorted(_LEVELS)}") from None
    options.log_severity_level = 3
    if not cfg.allow_spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(model_path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad graphs
        raise BundleError(f"onnxruntime cannot load {model_path}: {exc}") from None


def run_options(config: SessionConfig | None = None) -> ort.RunOptions | None:
    """Per-run options: arena shrinkage (memory back after each run, the arena kept within one) when asked."""
    cfg = config or SessionConfig()
    if not (cfg.cpu_mem_arena and cfg.arena_shrinkage):
        return None
    options = ort.RunOptions()
    options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    return options
