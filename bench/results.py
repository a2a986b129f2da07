"""From raw measurements to results: tokens/s, padding and fraction of the GEMM peak per system, the
target ratios, and the one results document (results/bench.json) that the summary renders."""

from __future__ import annotations

import argparse
import platform
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import machine, report
from bench.bundles import rel
from bench.flops import count_model_flops, edge_batches, padding_ratio, single_batches
from bench.stats import ratio


def derive(
    systems: dict[str, dict[str, Any]],
    texts: list[str],
    gemm: dict[str, Any],
    files: dict[str, Path],
    manifests: dict[str, Any],
    policy: dict[str, int],
    max_len: int,
) -> None:
    """tokens/s, padding overhead and fraction of the GEMM peak, from token counts and the model's FLOPs."""
    from edge_encoders.batching import BatchPolicy
    from edge_encoders.text_tokenizer import TextTokenizer

    tok = TextTokenizer(Path(files["int8"]).parent / manifests["int8"]["tokenizer_file"], max_len)
    lengths = [len(e.ids) for e in tok.encode(texts, truncate=True)]
    batch_policy = BatchPolicy(**policy) if policy else BatchPolicy()
    hidden = int(manifests["int8"].get("dimension") or 384)
    flops = count_model_flops(files["O3"], hidden)
    for s in systems.values():
        if s.get("task") != "embed" or s.get("error"):
            continue
        s["tokens_per_s"], s["padding"] = {}, {}
        for batch, res in s["throughput"].items():
            n, b = res["texts"], int(batch)
            lens = lengths[:n]
            seconds = n / res["texts_per_s"]
            s["tokens_per_s"][batch] = sum(lens) / seconds
            is_edge = s["spec"]["type"] == "edge"
            batches = edge_batches(lens, b, batch_policy) if is_edge else single_batches(lens, b)
            s["padding"][batch] = padding_ratio(batches, lens)
            if is_edge and b > 1:
                kind = "int8" if s["file"] == "int8" and "int8" in manifests["int8"]["variant"] else "fp32"
                peak = gemm.get("int8_gops" if kind == "int8" else "fp32_gflops")
                hw = sum(flops.batch_flops(r, w) for r, w in batches) / seconds / 1e9
                s.setdefault("efficiency", {})[batch] = {
                    "padded_tokens_per_s": sum(r * w for r, w in batches) / seconds,
                    "hardware_gflops": hw,
                    "useful_gflops": flops.useful_flops(lens) / seconds / 1e9,
                    "peak_gflops": peak,
                    "peak_kind": kind,
                    "fraction_of_peak": (hw / peak) if peak else 0.0,
                }
    systems["_flops"] = {
        "task": "meta",
        "dense_flops_per_token": flops.dense_per_token,
        "layers": flops.layers,
        "hidden": flops.hidden,
        "mean_tokens": sum(lengths) / len(lengths),
        "max_tokens": max(lengths),
        "short_tokens": None,
    }


def target_values(systems: dict[str, dict[str, Any]], both: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """The figures the README's targets are about, as ratios measured in this run."""

    def g(key: str, *path: str) -> Any:
        cur: Any = systems.get(key)
        for p in path:
            cur = cur.get(p) if isinstance(cur, dict) else None
        return cur

    out: dict[str, dict[str, float | None]] = {}
    for tag in ("int8", "O3"):
        edge = f"edge-{tag}"
        tp = g(edge, "throughput", "32", "texts_per_s")
        out.setdefault("b32_vs_torch", {})[tag] = ratio(tp, g("st-torch", "throughput", "32", "texts_per_s"))
        out.setdefault("b32_vs_st_onnx", {})[tag] = ratio(tp, g(f"st-onnx-{tag}", "throughput", "32", "texts_per_s"))
        out.setdefault("b32_vs_fastembed", {})[tag] = ratio(
            tp, g(f"fastembed-{tag}", "throughput", "32", "texts_per_s")
        )
        out.setdefault("single_vs_torch", {})[tag] = ratio(
            g("st-torch", "single", "p50_ms"), g(edge, "single", "p50_ms")
        )
        out.setdefault("cold_start_s", {})[tag] = g(edge, "cold", "first_s")
    out["rerank_vs_torch"] = {"int8": ratio(g("ce-torch", "rerank", "p50_ms"), g("edge-rerank", "rerank", "p50_ms"))}
    # the int8 promise, measured side by side in this run: int8 against the fp32-weight bundles
    int8_b32 = g("edge-int8", "throughput", "32", "texts_per_s")
    out["b32_vs_o3"] = {"int8": ratio(int8_b32, g("edge-O3", "throughput", "32", "texts_per_s"))}
    out["single_vs_o3"] = {"int8": ratio(g("edge-O3", "single", "p50_ms"), g("edge-int8", "single", "p50_ms"))}
    out["rerank_vs_fp32"] = {
        "int8": ratio(g("edge-rerank-fp32", "rerank", "p50_ms"), g("edge-rerank", "rerank", "p50_ms"))
    }
    out["rerank_vs_fp32_lambda"] = {
        "int8": ratio(g("edge-rerank-fp32-lambda", "rerank", "p50_ms"), g("edge-rerank-lambda", "rerank", "p50_ms"))
    }
    fraction = g("edge-int8", "efficiency", "32", "fraction_of_peak")
    out["int8_peak_fraction"] = {"int8": None if fraction is None else float(fraction)}
    out["rss_both_mb"] = {"int8": both.get("peak_rss_mb")}
    return out


def assemble(
    args: argparse.Namespace,
    sizes: Any,
    texts: Any,
    bundles: dict[str, Path],
    manifests: dict[str, Any],
    ce: dict[str, Any],
    gemm: dict[str, Any],
    systems: dict[str, dict[str, Any]],
    both: dict[str, Any],
    started: float,
    load_at_start: list[float] | None,
) -> dict[str, Any]:
    """results/bench.json: what ran where, every system's figures, the GEMM peak and the targets."""
    flops = systems.pop("_flops", {})
    targets = report.evaluate_targets(target_values(systems, both))
    return {
        "meta": {
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "quick": args.quick,
            "threads": args.threads,
            "cpu": machine.cpu(),
            "python": platform.python_version(),
            "versions": machine.versions(),
            "texts": {
                "count": len(texts.texts),
                "source": texts.source,
                "short_texts": len(texts.short),
                "rerank_passages": len(texts.passages),
            },
            "sizes": {
                "throughput": sizes.throughput,
                "latency_calls": sizes.latency_calls,
                "rerank_reps": sizes.rerank_reps,
                "cold_reps": sizes.cold_reps,
                "rounds": sizes.rounds,
                "budget_s": sizes.budget_s,
            },
            "bundles": {
                k: {
                    "path": rel(p),
                    "variant": manifests[k]["variant"],
                    "source": manifests[k].get("source"),
                }
                for k, p in bundles.items()
            },
            "crossencoder_reference": ce,
            "wall_s": time.perf_counter() - started,
            "load_average": {"start": load_at_start, "end": machine.loadavg()},
        },
        "gemm_peak": gemm,
        "flops_model": flops,
        "systems": {
            k: {kk: vv for kk, vv in v.items() if kk != "spec"} | {"spec": v["spec"]} for k, v in systems.items()
        },
        "both_bundles": both,
        "targets": targets,
    }
