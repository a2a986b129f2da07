"""Combining the rounds of one system (pure, tested).

Why rounds: on a shared machine the load drifts over minutes; measuring every system once per round, for a
few rounds, spreads the busy periods over all systems instead of penalising whichever ran at a bad moment.
"""

from __future__ import annotations

from typing import Any

from bench.stats import median


def _median_fields(dicts: list[dict[str, float]]) -> dict[str, float]:
    out = {k: median([d[k] for d in dicts]) for k in dicts[0] if k != "n"}
    out["n"] = float(sum(d.get("n", 0) for d in dicts))
    return out


def merge_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians across rounds (peak RSS: the maximum); the first error wins."""
    errors = [r["error"] for r in rounds if r.get("error")]
    if errors:
        return {"error": errors[0], "rounds": len(rounds)}
    merged: dict[str, Any] = {"rounds": len(rounds)}
    for key in ("load_s", "rss_after_load_mb", "worker_wall_s"):
        values = [r[key] for r in rounds if r.get(key) is not None]
        if values:
            merged[key] = median(values)
    merged["peak_rss_mb"] = max(r.get("peak_rss_mb", 0.0) for r in rounds)
    if all("throughput" in r for r in rounds):
        merged["throughput"] = {}
        for batch in rounds[0]["throughput"]:
            parts = [r["throughput"][batch] for r in rounds]
            seconds = [s for p in parts for s in p["seconds"]]
            texts = parts[0]["texts"]
            merged["throughput"][batch] = {
                "texts": texts,
                "reps": len(seconds),
                "seconds": seconds,
                "texts_per_s": texts / median(seconds),
            }
    for key in ("single", "rerank"):
        if all(key in r for r in rounds):
            merged[key] = _median_fields([r[key] for r in rounds])
    return merged


def merge_gemm(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Peak = median over rounds of each round's best (a busy moment lowers one round, not the figure)."""
    good = [r for r in rounds if not r.get("error")]
    if not good:
        return rounds[0] if rounds else {}
    return {
        "threads": good[0]["threads"],
        "fp32_gflops": median([r["fp32_gflops"] for r in good]),
        "int8_gops": median([r["int8_gops"] for r in good]),
        "per_round": [{"fp32_gflops": r["fp32_gflops"], "int8_gops": r["int8_gops"]} for r in good],
        "runs": good[-1]["runs"],
    }
