"""How long this process has been running, read from /proc: the clock of a Lambda INIT phase, which starts
with the interpreter, before any of our code runs."""

from __future__ import annotations

import os


def process_age_ms() -> float | None:
    """Milliseconds since this process started (Linux, 10 ms resolution): interpreter start, imports and model
    loads, i.e. what a Lambda INIT phase spends in the function. None where /proc cannot tell."""
    try:
        with open("/proc/self/stat") as stat, open("/proc/uptime") as uptime:
            start_ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
            now_s = float(uptime.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return round((now_s - start_ticks / os.sysconf("SC_CLK_TCK")) * 1000, 1)
