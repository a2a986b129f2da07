"""The human-readable report: results/bench.md (tables from bench.report), the batch-32 bar chart, and a
warning when the machine was busy while it measured."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import report


def render_markdown(results: dict[str, Any]) -> str:
    """results/bench.md from results/bench.json's content."""
    meta, systems = results["meta"], results["systems"]
    fl, gemm, both = results["flops_model"], results["gemm_peak"], results["both_bundles"]
    cpu = meta["cpu"]
    b = meta["bundles"]
    lines = [
        "# edge-encoders benchmark" + (" (quick)" if meta["quick"] else ""),
        "",
        f"{meta['created_at']} · {cpu['model']} ({cpu['machine']}, {cpu['affinity']} CPUs usable, "
        f"SIMD: {' '.join(cpu['simd_flags'][:8])}{' …' if len(cpu['simd_flags']) > 8 else ''}) · "
        f"**every system pinned to {meta['threads']} threads** (onnxruntime intra-op, torch.set_num_threads, "
        "fastembed threads, OMP/MKL/RAYON env) · each system measured in its own fresh process · "
        f"run took {meta['wall_s']:.0f} s",
        "",
        *contention_warning(meta, cpu),
        f"Texts: {meta['texts']['count']} ({meta['texts']['source']}); mean {fl.get('mean_tokens', 0):.0f} tokens, "
        f"max {fl.get('max_tokens', 0)} (truncated at 256). Bundles: embed int8 `{b['int8']['path']}` "
        f"({b['int8']['variant']}), O3 `{b['O3']['path']}` ({b['O3']['variant']}), rerank `{b['rerank']['path']}` "
        f"({b['rerank']['variant']}). CrossEncoder reference: {meta['crossencoder_reference']['note']}.",
        "",
        "## Embeddings (ratios: x vs sentence-transformers on torch; for latencies, RSS and cold start: times lower)",
        "",
        report.embed_table(systems),
        "",
        "`bN` = the caller hands N texts per call and sets the library's batch_size to N (edge_encoders cuts its "
        "own length-sorted micro-batches within a call). Padding = padded tokens / real tokens that call pattern "
        "computes. Single = one short query-like text per call. Cold start = spawn of a new python process to the "
        "first result, imports included (median of "
        f"{meta['sizes']['cold_reps'] * meta['sizes']['rounds']}, page cache warm). Every system was measured once "
        f"per round, {meta['sizes']['rounds']} round(s), medians across rounds "
        "(spreads a busy machine's noise). Peak RSS = ru_maxrss of that system's process after all its "
        "measurements (batch 256 included).",
        "",
        "## Rerank: 1 query x 50 passages",
        "",
        report.rerank_table(systems),
        "",
        f"Both MiniLM bundles in one process (embed int8 + rerank, batches 1/32/256 and three 1x50 reranks): "
        f"RSS after load {report.fmt(both.get('rss_after_load_mb'))} MB, peak "
        f"**{report.fmt(both.get('peak_rss_mb'))} MB**.",
        "",
        "## How close to the machine's GEMM limit",
        "",
        f"Practical peak measured now with onnxruntime ({gemm.get('threads')} threads, best of BERT-shaped and "
        f"2048^3 graphs): fp32 MatMul **{report.fmt(gemm.get('fp32_gflops'))} GFLOP/s**, int8 MatMulInteger "
        f"**{report.fmt(gemm.get('int8_gops'))} GOP/s**.",
        "",
        report.efficiency_table(systems),
        "",
        f"Estimate: dense layers {fl.get('dense_flops_per_token', 0) / 1e6:.1f} MFLOP per token (2·K·N summed over "
        f"the graph's weight matrices), plus attention 4·L²·hidden per sequence and layer ({fl.get('layers')} "
        f"layers, hidden {fl.get('hidden')}, L = padded width of the micro-batch). Hardware FLOP/s counts padded "
        "positions (work done), useful FLOP/s only real tokens. The int8 model runs its dense layers in int8 but "
        "attention, softmax, layer norms and the (de)quantization in fp32, so its fraction of the int8 peak is "
        "a lower bound on how busy the int8 units are.",
        "",
        "## Targets (reported, not asserted)",
        "",
        report.targets_table(results["targets"]),
        "",
    ]
    return "\n".join(lines)


def contention_warning(meta: dict[str, Any], cpu: dict[str, Any]) -> list[str]:
    """Other processes on these few cores skew every number: say so when the load average shows them."""
    loads = [x for x in (meta.get("load_average") or {}).values() if x]
    worst = max((x[0] for x in loads), default=0.0)
    cpus = cpu.get("affinity") or cpu.get("cpus") or 1
    if worst <= 0.5 * cpus + meta["threads"]:
        return []
    return [
        f"> **Warning: the machine was busy** (1-min load average up to {worst:.1f} on {cpus} CPUs, this bench "
        f"uses {meta['threads']}): other processes competed for the cores, so absolute numbers are low and "
        "noisy, and ratios between systems measured at different moments are less reliable. Rerun on an idle "
        "machine for figures to quote.",
        "",
    ]


def write_outputs(results: dict[str, Any], out_dir: Path) -> None:
    """bench.json, bench.md and bench_b32.svg in `out_dir`; the markdown is also printed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    markdown = render_markdown(results)
    items = [
        (s["label"], s["throughput"]["32"]["texts_per_s"])
        for s in results["systems"].values()
        if s.get("task") == "embed" and not s.get("error") and "32" in s.get("throughput", {})
    ]
    if items:
        svg = report.bar_chart_svg(items, "Embedding throughput, batch 32 (texts/s, higher is better)", "texts/s")
        (out_dir / "bench_b32.svg").write_text(svg, encoding="utf-8")
        markdown += "\n![batch 32 throughput](bench_b32.svg)\n"
    (out_dir / "bench.md").write_text(markdown, encoding="utf-8")
    print(markdown)
