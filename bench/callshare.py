"""Where an embed() call's CPU goes: inside onnxruntime's session.run, or outside it (tokenizing, padding,
batching, pooling, checks), and how close whole calls come to the one-thread int8 GEMM peak.

Why one thread and CPU time: on a shared 2-vCPU box wall-clock figures move by 2x between runs; the CPU time of
one onnxruntime thread (spinning off, `time.process_time`, which also counts the tokenizer's own threads) moves
far less. For each bundle, on make bench's 512 texts: embed() in calls of 32 and of 256, short texts one per call, and
the very same micro-batches' padded inputs through session.run alone (prepared beforehand), interleaved for
REPEATS rounds, least CPU time kept. Outside = 1 - session.run alone / embed(). Fraction of peak = the FLOPs
of those micro-batches (bench.flops, padding included) / embed()'s CPU seconds / the one-thread int8
MatMulInteger peak (bench.gemm, CPU time): the one-thread form of make bench's "fraction of peak".

    python -m bench.callshare [bundle ...]      (default: artifacts/embed)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 9
CALLS = {"b32": 32, "b256": 256}
SINGLE_ROUNDS = 8  # the short texts, each alone, this many times per round


def micro_batches(embedder: Any, calls: list[list[str]]) -> list[dict[str, Any]]:
    """The padded inputs embed() hands onnxruntime for these calls, micro-batch by micro-batch, in order."""
    from edge_encoders.batching import plan_batches

    tok, names = embedder.tokenizer, embedder.manifest.input_names
    feeds = []
    for call in calls:
        encodings = tok.encode(call, truncate=True)
        for indices in plan_batches([len(e) for e in encodings], embedder.batch_policy):
            feeds.append(tok.pad([encodings[i] for i in indices]).feeds(names))
    return feeds


def _least_cpu(rounds: list[tuple[str, Any]], repeats: int) -> dict[str, float]:
    """Least CPU seconds of each named piece of work, the pieces interleaved round by round."""
    best = {name: float("inf") for name, _ in rounds}
    for _ in range(repeats):
        for name, work in rounds:
            started = time.process_time()
            work()
            best[name] = min(best[name], time.process_time() - started)
    return best


def measure(bundle: Path, texts: list[str], short: list[str], peak_gops: float) -> dict[str, float]:
    """CPU ms per call (embed and session.run alone), the share outside onnxruntime, the fraction of the peak."""
    from bench.flops import count_model_flops
    from edge_encoders.embedder import Embedder
    from edge_encoders.session import SessionConfig

    embedder = Embedder.from_bundle(bundle, session_config=SessionConfig(intra_op_threads=1, allow_spinning=False))
    session, output = embedder._bundle.session, embedder.manifest.output_name
    work = {kind: [texts[i : i + size] for i in range(0, len(texts), size)] for kind, size in CALLS.items()}
    work["single"] = [[t] for t in short] * SINGLE_ROUNDS
    feeds = {kind: micro_batches(embedder, calls) for kind, calls in work.items()}
    embedder.embed(work["b32"][0])
    rounds: list[tuple[str, Any]] = []
    for kind in work:
        rounds.append((f"{kind} embed", lambda k=kind: [embedder.embed(c) for c in work[k]]))
        rounds.append((f"{kind} run", lambda k=kind: [session.run([output], f) for f in feeds[k]]))
    best = _least_cpu(rounds, REPEATS)
    flops = count_model_flops(bundle / embedder.manifest.model_file, embedder.dimension)
    out: dict[str, float] = {}
    for kind in work:
        n = len(work[kind])
        total, inside = best[f"{kind} embed"], best[f"{kind} run"]
        gop = sum(flops.batch_flops(*f["input_ids"].shape) for f in feeds[kind]) / 1e9
        out[f"{kind}_embed_ms"] = 1000 * total / n
        out[f"{kind}_run_ms"] = 1000 * inside / n
        out[f"{kind}_outside"] = 1 - inside / total
        out[f"{kind}_peak_fraction"] = gop / total / peak_gops
        out[f"{kind}_kernel_peak_fraction"] = gop / inside / peak_gops
    return out


def main(argv: list[str]) -> None:
    from bench.gemm import measure_peaks
    from bench.texts import load_text_set

    bundles = [Path(a) for a in argv] or [ROOT / "artifacts" / "embed"]
    text_set = load_text_set(ROOT, 512)
    peak = float(measure_peaks(1, clock=time.process_time)["int8_gops"])  # type: ignore[arg-type]
    print(f"one-thread int8 MatMulInteger peak (CPU time): {peak:.0f} GOP/s")
    for bundle in bundles:
        r = measure(bundle, text_set.texts, text_set.short, peak)
        for kind, label in (("b32", "calls of 32"), ("b256", "calls of 256"), ("single", "single text")):
            print(
                f"{bundle} {label}: embed() {r[f'{kind}_embed_ms']:.3f} ms CPU per call, session.run alone "
                f"{r[f'{kind}_run_ms']:.3f}; outside onnxruntime {100 * r[f'{kind}_outside']:.1f}%; "
                f"fraction of the one-thread int8 peak {100 * r[f'{kind}_peak_fraction']:.1f}% "
                f"(session.run alone {100 * r[f'{kind}_kernel_peak_fraction']:.1f}%)"
            )


if __name__ == "__main__":
    main(sys.argv[1:])
