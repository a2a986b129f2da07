"""Which run mode serves the shipped graph faster on two threads: micro-batches one after another, or at once.

Why measured per bundle: measured on 2 vCPUs, one rerank 1x50 call, the int8 reranker ran 10-15% faster with
two micro-batches at once (one thread each) than with each run split over both threads, and the fp32 one ran
5% slower. The answer is a property of the graph (how well its operators split over threads at small batch
sizes), so the build times both modes on the same call, interleaved, and writes the winner into the manifest
(`run_hints`); the runtime follows it unless told otherwise (SessionConfig.run_mode, EDGE_RUN_MODE).

Wall clock on two threads is what the modes differ in, so this is the one figure the build takes from the wall
clock. On a shared box other jobs slow some calls by 2-3x; the fastest of several interleaved calls is the best
estimate of an idle box's time, so the modes are compared by their minimum, and concurrent needs a clear margin.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from edge_encoders.scheduling import CONCURRENT, SEQUENTIAL
from edge_encoders.session import SessionConfig, available_cpus

THREADS = 2  # the smallest box where the modes differ: a Lambda with 2 vCPUs, the bench's box
ROUNDS = 15  # interleaved calls per mode; the fastest of each decides (a 50-pair call: 0.1-0.2 s)
MARGIN = 0.05  # concurrent ships only when its fastest call is this much below the sequential one

Call = Callable[[], object]


def probe_run_modes(variant: str, open_call: Callable[[SessionConfig], Call]) -> dict[str, Any]:
    """The run hint for one graph: `open_call(config)` loads it with that session config and returns one call.

    Empty (no hint: the runtime runs sequentially) when this process has fewer than THREADS CPUs.
    """
    if available_cpus() < THREADS:
        return {}
    calls = {
        mode: open_call(SessionConfig(intra_op_threads=THREADS, allow_spinning=False, run_mode=mode))
        for mode in (SEQUENTIAL, CONCURRENT)
    }
    samples: dict[str, list[float]] = {mode: [] for mode in calls}
    for call in calls.values():
        call()  # warm-up at the probe's shapes
    for _ in range(ROUNDS):
        for mode, call in calls.items():
            started = time.perf_counter()
            call()
            samples[mode].append(time.perf_counter() - started)
    fastest = {mode: min(times) for mode, times in samples.items()}
    faster = fastest[CONCURRENT] < fastest[SEQUENTIAL] * (1 - MARGIN)
    return {
        "run_mode": CONCURRENT if faster else SEQUENTIAL,
        "variant": variant,
        "threads": THREADS,
        "sequential_ms": round(fastest[SEQUENTIAL] * 1e3, 1),
        "concurrent_ms": round(fastest[CONCURRENT] * 1e3, 1),
    }


def probe_calls(variant: str, open_calls: Mapping[str, Callable[[SessionConfig], Call]]) -> dict[str, Any]:
    """One hint for several call sizes (label -> opener, each probed as probe_run_modes does): concurrent only
    when it wins on every one, since the runtime applies the hint to every call. The top-level figures are
    the sums over the calls; `calls` keeps each call's own. Empty on fewer than THREADS CPUs."""
    per_call = {label: probe_run_modes(variant, open_call) for label, open_call in open_calls.items()}
    if not per_call or not all(per_call.values()):
        return {}
    everywhere = all(hints["run_mode"] == CONCURRENT for hints in per_call.values())
    return {
        "run_mode": CONCURRENT if everywhere else SEQUENTIAL,
        "variant": variant,
        "threads": THREADS,
        "sequential_ms": round(sum(h["sequential_ms"] for h in per_call.values()), 1),
        "concurrent_ms": round(sum(h["concurrent_ms"] for h in per_call.values()), 1),
        "calls": {
            label: {key: hints[key] for key in ("run_mode", "sequential_ms", "concurrent_ms")}
            for label, hints in per_call.items()
        },
    }
