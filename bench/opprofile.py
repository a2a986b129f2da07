"""Where each staged variant spends its time, by operator type, from onnxruntime's own profiler.

Why: the int8-vs-fp32 ratio alone does not say what to make faster. This runs every staged variant on the same
batches (one onnxruntime thread, spinning off, the graph as onnxruntime optimizes it at load) with
SessionOptions.enable_profiling, takes for every node the least time it took over REPEATS runs (the machine is
shared: the least is the one least disturbed), and sums by operator type. It also prints how many nodes of each
type remain after onnxruntime's optimization, i.e. which fusions fired (Attention, SkipLayerNormalization,
BiasGelu, Gelu, ...).

    python -m bench.opprofile [embed|rerank] [variant ...]

(default: embed; fp32, O3, int8-rowwise, int8-rowwise-fused, int8-hybrid, int8-hybrid-fused and int8-hybrid-attn8)
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench.cputime import _inputs, _stage

REPEATS = 3
TOP = 12
DEFAULT_VARIANTS = (
    "fp32",
    "O3",
    "int8-rowwise",
    "int8-rowwise-fused",
    "int8-hybrid",
    "int8-hybrid-fused",
    "int8-hybrid-attn8",
)


def _session(model: Path, profile_prefix: str | None = None, optimized: Path | None = None) -> object:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    if profile_prefix:
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
    if optimized:
        options.optimized_model_filepath = str(optimized)
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


def node_times(model: Path, feeds: list[dict], workdir: Path) -> tuple[dict[str, float], dict[str, str]]:
    """Per node: least total microseconds over REPEATS passes over the feeds; and each node's operator type."""
    best: dict[str, float] = {}
    op_of: dict[str, str] = {}
    for rep in range(REPEATS):
        session = _session(model, profile_prefix=str(workdir / f"rep{rep}"))
        for feed in feeds:
            session.run(None, feed)  # type: ignore[attr-defined]
        events = json.loads(Path(session.end_profiling()).read_text(encoding="utf-8"))  # type: ignore[attr-defined]
        total: Counter[str] = Counter()
        for event in events:
            if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
                name = event["name"][: -len("_kernel_time")]
                total[name] += event["dur"]
                op_of[name] = event["args"].get("op_name", "?")
        for name, micros in total.items():
            best[name] = min(best.get(name, float("inf")), float(micros))
    return best, op_of


def optimized_op_counts(model: Path, workdir: Path) -> Counter[str]:
    """Node count per operator type after onnxruntime's load-time optimization (ORT_ENABLE_ALL)."""
    import onnx

    out = workdir / "optimized.onnx"
    _session(model, optimized=out)
    return Counter(node.op_type for node in onnx.load(str(out), load_external_data=False).graph.node)


def report(kind: str, variants: list[str]) -> None:
    stage = _stage(kind)
    batches, _, _ = _inputs(kind, stage)
    for variant in variants:
        model = stage / variant / "model.onnx"
        if not model.is_file():
            print(f"{kind} {variant}: not staged under {stage}")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            times, op_of = node_times(model, batches, Path(tmp))
            counts = optimized_op_counts(model, Path(tmp))
        by_op: Counter[str] = Counter()
        for name, micros in times.items():
            by_op[op_of[name]] += int(micros)
        total = sum(by_op.values()) or 1
        print(f"{kind} {variant}: {total / 1000:.1f} ms in {sum(counts.values())} nodes (batch-32 passes, 1 thread)")
        for op, micros in by_op.most_common(TOP):
            print(f"  {op:28s} {micros / 1000:8.1f} ms {100 * micros / total:5.1f}%  nodes {counts.get(op, 0)}")


def main(argv: list[str]) -> None:
    kind = argv[0] if argv and argv[0] in ("embed", "rerank") else "embed"
    variants = argv[1:] if argv and argv[0] in ("embed", "rerank") else argv
    report(kind, list(variants) or list(DEFAULT_VARIANTS))


if __name__ == "__main__":
    main(sys.argv[1:])
