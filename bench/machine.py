"""What the bench ran on: CPU model and SIMD flags, package versions, load average (a busy machine skews
every number, so the report says so)."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any


def loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for pkg in (
        "onnxruntime",
        "tokenizers",
        "numpy",
        "torch",
        "sentence-transformers",
        "transformers",
        "optimum",
        "optimum-onnx",
        "fastembed",
        "onnx",
    ):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def cpu() -> dict[str, Any]:
    model: str = platform.processor() or ""
    flags: list[str] = []
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not model:
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = [f for f in line.split(":", 1)[1].split() if f.startswith(("avx", "fma", "amx"))]
    except OSError:
        pass
    return {
        "model": model,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "simd_flags": flags,
    }
