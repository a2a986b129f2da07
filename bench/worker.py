"""Measure one system in this (fresh) process and write a JSON result: `python -m bench.worker PLAN OUT`.

Protocol, identical for every system: load; warm up (one 32-text call and a few single texts); throughput at
call size B = 32, 256, 1 (the caller hands B texts per call and sets the library's batch_size to B; repeated
within a time budget, median kept); single-text latency over short texts; rerank 1 query x 50 passages; then peak RSS.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from bench.memory import current_rss_mb, peak_rss_mb
from bench.stats import latency_summary, median
from bench.systems import make_system


def _chunks(texts: list[str], size: int) -> list[list[str]]:
    return [texts[i : i + size] for i in range(0, len(texts), size)]


def throughput(system: Any, texts: list[str], batch: int, reps: int, budget_s: float) -> dict[str, Any]:
    """Up to `reps` passes over the texts; no new pass once `budget_s` is spent (slow systems get fewer)."""
    calls = _chunks(texts, batch)
    times: list[float] = []
    while len(times) < reps and sum(times) < budget_s:
        t0 = time.perf_counter()
        for call in calls:
            system.embed(call, batch)
        times.append(time.perf_counter() - t0)
    best_median = median(times)
    return {"texts": len(texts), "reps": reps, "seconds": times, "texts_per_s": len(texts) / best_median}


def single_latency(system: Any, short: list[str], calls: int, budget_s: float) -> dict[str, float]:
    samples: list[float] = []
    started = time.perf_counter()
    for i in range(calls):
        if i >= 30 and time.perf_counter() - started > budget_s:
            break
        text = short[i % len(short)]
        t0 = time.perf_counter()
        system.embed([text], 1)
        samples.append(time.perf_counter() - t0)
    return latency_summary(samples)


def rerank_latency(system: Any, query: str, passages: list[str], reps: int, budget_s: float) -> dict[str, float]:
    system.rerank(query, passages)  # warm-up at the real shape
    samples: list[float] = []
    while len(samples) < reps and (len(samples) < 3 or sum(samples) < budget_s):
        t0 = time.perf_counter()
        system.rerank(query, passages)
        samples.append(time.perf_counter() - t0)
    return latency_summary(samples)


def run_embed(plan: dict[str, Any]) -> dict[str, Any]:
    texts: list[str] = plan["texts"]
    t0 = time.perf_counter()
    system = make_system(plan["system"], plan["threads"])
    system.load()
    out: dict[str, Any] = {"load_s": time.perf_counter() - t0}
    system.embed(texts[:32], 32)
    for text in plan["short"][:4]:
        system.embed([text], 1)
    out["rss_after_load_mb"] = current_rss_mb()
    out["throughput"] = {}
    for batch, count, reps in plan["throughput"]:
        out["throughput"][str(batch)] = throughput(system, texts[:count], batch, reps, plan["budget_s"])
    out["single"] = single_latency(system, plan["short"], plan["latency_calls"], plan["budget_s"])
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def run_rerank(plan: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    system = make_system(plan["system"], plan["threads"])
    system.load()
    out: dict[str, Any] = {"load_s": time.perf_counter() - t0}
    out["rerank"] = rerank_latency(system, plan["query"], plan["passages"], plan["rerank_reps"], plan["budget_s"])
    out["rss_after_load_mb"] = current_rss_mb()
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def run_both(plan: dict[str, Any]) -> dict[str, Any]:
    """Both MiniLM bundles in one process, as the handler serves them; a realistic mixed workload."""
    embed = make_system(plan["system"], plan["threads"])
    rerank = make_system(plan["rerank_system"], plan["threads"])
    embed.load()
    rerank.load()
    out: dict[str, Any] = {"rss_after_load_mb": current_rss_mb()}
    texts: list[str] = plan["texts"]
    for batch in (1, 32, 256):
        for call in _chunks(texts[: max(batch, 64)], batch):
            embed.embed(call, batch)
    for _ in range(3):
        rerank.rerank(plan["query"], plan["passages"])
    out["rss_after_work_mb"] = current_rss_mb()
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def run_gemm(plan: dict[str, Any]) -> dict[str, Any]:
    from bench.gemm import measure_peaks

    return measure_peaks(plan["threads"], min_seconds=plan.get("gemm_seconds", 1.0))


TASKS = {"embed": run_embed, "rerank": run_rerank, "both": run_both, "gemm": run_gemm}


def main(argv: list[str]) -> int:
    plan = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    result = TASKS[plan["task"]](plan)
    Path(argv[1]).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
