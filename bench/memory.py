"""Process memory figures from the kernel (no psutil needed): current RSS and the peak since process start."""

from __future__ import annotations

import resource
import sys
from pathlib import Path


def _status_mb(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        return None
    return None


def current_rss_mb() -> float | None:
    return _status_mb("VmRSS")


def peak_rss_mb() -> float:
    """ru_maxrss: kilobytes on Linux, bytes on macOS."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0
