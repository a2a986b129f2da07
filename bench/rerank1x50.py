"""Rerank 1 query x 50 passages (the bench's request) through the runtime, several rerank bundles interleaved.

Why: `make bench` takes 6+ minutes and runs each system in its own process at a different time, so on a shared
box its rerank ratio moves with the neighbours' load. This loads every bundle in one process and alternates
them call by call (same texts, same threads, same micro-batching), so the p50 ratios against the first bundle
compare like with like. Bundles are folders (a manifest and its files), or `folder=graph.onnx` to time another
graph with that folder's tokenizer and manifest (copied to a temporary folder, the manifest's digest updated).

    python -m bench.rerank1x50 [--threads 2] [--rounds 30] [--cpu] [--modes auto,sequential,concurrent]
        FP32_BUNDLE INT8_BUNDLE [folder=graph.onnx ...]

--modes times every bundle but the baseline in each of the named run modes (edge_encoders.scheduling: "auto"
follows the bundle's run hint); the baseline always runs as its manifest says.

--cpu times each call by the process's CPU time on one onnxruntime thread, as the build ranks variants: on a
box others are using, the wall clock of a 2-thread call swings by tens of percent. Thread spinning is off in
both modes (several sessions share the process), so wall-clock figures here are not `make bench`'s, which runs
each bundle alone in its own process with spinning on.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bundle(spec: str, scratch: Path) -> tuple[str, Path]:
    """(label, bundle folder) for `folder` or `folder=graph.onnx` (a copy with that graph as its model)."""
    if "=" not in spec:
        return spec, Path(spec)
    folder, graph = (Path(p) for p in spec.split("=", 1))
    dest = scratch / f"{len(list(scratch.iterdir()))}-{graph.stem}"
    shutil.copytree(folder, dest, ignore=shutil.ignore_patterns("*.extended.data", "*.cache*"))
    manifest = json.loads((dest / "manifest.json").read_text(encoding="utf-8"))
    model = dest / manifest["model_file"]
    shutil.copyfile(graph, model)
    data = model.read_bytes()
    manifest["files"][manifest["model_file"]] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return str(graph), dest


def main(argv: list[str] | None = None) -> int:
    from bench.texts import load_text_set
    from edge_encoders import Reranker, SessionConfig

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundles", nargs="+", help="rerank bundle folders (the first is the baseline)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--cpu", action="store_true", help="one thread, spinning off, process CPU time")
    parser.add_argument("--modes", default="auto", help="run modes of the bundles after the first, comma-separated")
    args = parser.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    texts = load_text_set(ROOT, 512)
    threads = 1 if args.cpu else args.threads
    clock = time.process_time if args.cpu else time.perf_counter
    # spinning off in both modes: with several sessions in one process, one session's spinning threads take the
    # cores from the next call (measured idle, 2 threads: int8-rowwise-cls x1.76 fp32 with spinning, x2.06 without)
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        models = []
        for position, spec in enumerate(args.bundles):
            label, folder = _bundle(spec, scratch)
            for mode in ["auto"] if position == 0 else modes:
                config = SessionConfig(intra_op_threads=threads, allow_spinning=False, run_mode=mode)
                model = Reranker.from_bundle(folder, session_config=config)
                model.rerank(texts.query, texts.passages)  # warm-up at the real shape
                plan = model.run_plan
                models.append((f"{label} [{plan.mode} x{plan.workers}]", model))
        samples: dict[str, list[float]] = {label: [] for label, _ in models}
        for _ in range(args.rounds):
            for label, model in models:
                t0 = clock()
                model.rerank(texts.query, texts.passages)
                samples[label].append(clock() - t0)
    base = statistics.median(samples[models[0][0]])
    what = "CPU time, 1 thread" if args.cpu else f"wall clock, {threads} threads"
    # the minimum too: on a shared box the fastest of interleaved rounds is the best estimate of an idle one
    floor = min(samples[models[0][0]])
    print(f"rerank 1x50, {what}, {args.rounds} interleaved rounds; x = baseline p50 / p50 (and min / min)")
    for label, _ in models:
        p50, low = statistics.median(samples[label]), min(samples[label])
        print(f"  {p50 * 1e3:8.1f} ms  x{base / p50:5.2f}   min {low * 1e3:7.1f} ms  x{floor / low:5.2f}  {label}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
