"""Embed calls with micro-batches one after another or several at once, interleaved in one process.

Why: the build writes a run hint for the embed bundle from one probe call; this shows where the two run modes
differ and by how much, per call size and bundle. Every bundle is loaded twice (sequential and concurrent, same
threads, thread spinning off as in the Lambda image and the build's probe) and all of them alternate call by
call, so the ratios compare like with like on a shared box. Each call's vectors are checked bit for bit against
the sequential run first: the run mode must not change an answer.

    python -m bench.embedmodes [--threads 2] [--rounds 20] [--batches 32,256] BUNDLE [BUNDLE ...]

Prints, per bundle and call size, the p50 and fastest call of each mode and x = sequential / concurrent.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODES = ("sequential", "concurrent")


def main(argv: list[str] | None = None) -> int:
    from bench.texts import load_text_set
    from edge_encoders import Embedder, SessionConfig

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundles", nargs="+", help="embed bundle folders")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--batches", default="32,256", help="texts per call, comma-separated")
    args = parser.parse_args(argv)
    sizes = [int(b) for b in args.batches.split(",") if b.strip()]
    texts = load_text_set(ROOT, max(sizes)).texts
    models: list[tuple[str, str, Embedder]] = []
    for folder in args.bundles:
        for mode in MODES:
            config = SessionConfig(intra_op_threads=args.threads, allow_spinning=False, run_mode=mode)
            models.append((folder, mode, Embedder.from_bundle(folder, session_config=config, verify=False)))
    print(f"embed calls, wall clock, {args.threads} threads, spinning off, {args.rounds} interleaved rounds")
    for size in sizes:
        call = texts[:size]
        expected = {folder: model.embed(call) for folder, mode, model in models if mode == "sequential"}
        for folder, _mode, model in models:  # warm-up at the call's shapes, and the answers compared
            if not np.array_equal(model.embed(call), expected[folder]):
                raise SystemExit(f"{folder}: vectors differ between run modes")
        samples: dict[tuple[str, str], list[float]] = {(f, m): [] for f, m, _ in models}
        for _ in range(args.rounds):
            for folder, mode, model in models:
                started = time.perf_counter()
                model.embed(call)
                samples[(folder, mode)].append(time.perf_counter() - started)
        print(f"batch {size} (identical vectors in both modes)")
        for folder in args.bundles:
            seq, conc = samples[(folder, "sequential")], samples[(folder, "concurrent")]
            p50s, p50c = statistics.median(seq), statistics.median(conc)
            print(
                f"  sequential p50 {p50s * 1e3:7.1f} ms min {min(seq) * 1e3:7.1f} | concurrent p50 {p50c * 1e3:7.1f}"
                f" ms min {min(conc) * 1e3:7.1f} | x{p50s / p50c:5.2f} p50  x{min(seq) / min(conc):5.2f} min  {folder}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
