"""Single-thread CPU time of every variant `make export` staged: a speed ratio that survives a busy machine.

Wall-clock throughput on a shared 2-vCPU box moves by 2x between runs; the CPU time one onnxruntime thread
spends (spinning off, `time.process_time`) on the same calls moves far less, so the int8-vs-fp32 ratio it gives
is the one to compare variants by. Same process, same inputs, best of REPEATS, round-robin over the variants.

    python -m bench.cputime [embed|rerank] [variant ...]      (default: both kinds, every staged variant)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 3
BATCH = 32


def _stage(kind: str) -> Path:
    stages = sorted((ROOT / "artifacts" / ".work" / kind).glob("*/stage"))
    if not stages:
        raise SystemExit(f"bench.cputime: no staged {kind} variants under artifacts/.work; run `make export` first")
    return stages[-1]


def _inputs(kind: str, stage: Path) -> tuple[list[dict], list[dict], list[str]]:
    from edge_encoders.manifest import read_manifest
    from edge_encoders.text_tokenizer import TextTokenizer

    manifest = read_manifest(stage / "fp32")
    tok = TextTokenizer(stage / "fp32" / manifest.tokenizer_file, manifest.max_seq_length)
    if kind == "embed":
        texts = json.loads((ROOT / "data" / "validation" / "embed_texts.json").read_text(encoding="utf-8"))[:96]
        encodings = tok.encode(texts, truncate=True)
    else:
        items = json.loads((ROOT / "data" / "validation" / "rerank.json").read_text(encoding="utf-8"))
        pairs = [(item["query"], p) for item in items[:3] for p in item["passages"]][:50]
        encodings = tok.encode_pairs(pairs, truncate=True)
    encodings = sorted(encodings, key=lambda e: len(e.ids))
    names = manifest.input_names
    batches = [tok.pad(encodings[i : i + BATCH]).feeds(names) for i in range(0, len(encodings), BATCH)]
    singles = [tok.pad([e]).feeds(names) for e in encodings[::4]]
    return batches, singles, names


def measure(kind: str, variants: list[str] | None = None) -> dict[str, dict[str, float]]:
    """CPU ms per batch-32 pass and per single text, for each staged variant."""
    import onnxruntime as ort

    stage = _stage(kind)
    batches, singles, _ = _inputs(kind, stage)
    chosen = variants or sorted(p.name for p in stage.iterdir() if (p / "model.onnx").is_file())
    sessions = {}
    for name in chosen:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sessions[name] = ort.InferenceSession(
            str(stage / name / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
    best = {name: [float("inf"), float("inf")] for name in sessions}
    for _ in range(REPEATS):
        for name, session in sessions.items():
            for j, feeds in enumerate((batches, singles)):
                started = time.process_time()
                for feed in feeds:
                    session.run(None, feed)
                best[name][j] = min(best[name][j], time.process_time() - started)
    return {n: {"batch32_ms": b[0] * 1000, "single_ms": b[1] * 1000 / len(singles)} for n, b in best.items()}


def main(argv: list[str]) -> None:
    kinds = [argv[0]] if argv and argv[0] in ("embed", "rerank") else ["embed", "rerank"]
    variants = argv[1:] if argv and argv[0] in ("embed", "rerank") else argv
    for kind in kinds:
        figures = measure(kind, variants or None)
        base = figures.get("fp32")
        print(f"{kind}: single-thread CPU time (lower is better); x = fp32 / variant")
        for name, f in figures.items():
            ratio = (
                f"  x{base['batch32_ms'] / f['batch32_ms']:.2f}  x{base['single_ms'] / f['single_ms']:.2f}"
                if base
                else ""
            )
            print(f"  {name:20s} batch-32 pass {f['batch32_ms']:7.0f} ms   single {f['single_ms']:6.2f} ms{ratio}")


if __name__ == "__main__":
    main(sys.argv[1:])
