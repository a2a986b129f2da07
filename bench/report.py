"""Turning results into the printed markdown, results/bench.md, results/bench.json and a small SVG chart.

Pure formatting over the results dict (tested); no measurement here.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from bench.stats import ratio

REFERENCE = "st-torch"  # every "x" ratio is against sentence-transformers on PyTorch CPU

# (key, description, threshold, higher_is_better)
TARGETS: tuple[tuple[str, str, float, bool], ...] = (
    ("b32_vs_torch", "embed batch 32 throughput vs sentence-transformers/torch", 2.5, True),
    ("b32_vs_st_onnx", "embed batch 32 throughput vs sentence-transformers ONNX backend (same file)", 1.0, True),
    ("b32_vs_fastembed", "embed batch 32 throughput vs fastembed (same file)", 3.0, True),
    ("single_vs_torch", "single-text latency p50, times faster than torch", 5.0, True),
    ("rerank_vs_torch", "rerank 1x50 latency p50, times faster than CrossEncoder/torch", 2.0, True),
    ("cold_start_s", "cold start to first embedding (s)", 0.5, False),
    ("rss_both_mb", "peak RSS serving both MiniLM bundles (MB)", 300.0, False),
    ("b32_vs_o3", "embed batch 32 throughput, int8 vs the O3 (fp32-weight) bundle", 1.8, True),
    ("single_vs_o3", "single-text latency p50, times faster than the O3 bundle", 1.0, True),
    (
        "rerank_vs_fp32",
        "rerank 1x50 latency p50, times faster than the plain fp32 rerank export (each in its run mode)",
        2.0,
        True,
    ),
    (
        "rerank_vs_fp32_lambda",
        "rerank 1x50 latency p50, times faster than the plain fp32 rerank export, Lambda image settings (spinning off)",
        2.0,
        True,
    ),
    ("int8_peak_fraction", "embed batch 32, fraction of this machine's int8 GEMM peak", 0.5, True),
)


def fmt(value: float | None, digits: int = 0) -> str:
    """A number for a table cell; '-' when missing."""
    if value is None:
        return "-"
    if digits == 0 and abs(value) >= 100:
        return f"{value:,.0f}"
    if digits == 0:
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return f"{value:.{digits}f}"


def with_ratio(value: float | None, reference: float | None, *, lower_is_better: bool = False, digits: int = 0) -> str:
    """'value (N.Nx)' where N is how many times better than the reference (speed-up for latencies)."""
    if value is None:
        return "-"
    r = ratio(reference, value) if lower_is_better else ratio(value, reference)
    return fmt(value, digits) if r is None else f"{fmt(value, digits)} ({r:.2f}x)"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub markdown table; cells are used as given."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _get(d: dict[str, Any] | None, *keys: str) -> Any:
    cur: Any = d
    for key in keys:
        if not isinstance(cur, dict) or key not in cur:
            return None
        cur = cur[key]
    return cur


def embed_table(systems: dict[str, dict[str, Any]]) -> str:
    ref = systems.get(REFERENCE, {})
    header = [
        "system",
        "model file",
        "b1 texts/s",
        "b32 texts/s",
        "b256 texts/s",
        "b32 tokens/s",
        "padding b32 / b256",
        "single p50 ms",
        "single p99 ms",
        "cold start s",
        "peak RSS MB",
    ]
    rows = []
    for key, s in systems.items():
        if s.get("task") != "embed":
            continue
        if s.get("error"):
            rows.append([s["label"], s.get("file_label", "-"), f"failed: {s['error']}"] + ["-"] * 8)
            continue
        tp = {b: _get(s, "throughput", b, "texts_per_s") for b in ("1", "32", "256")}
        ref_tp = {b: _get(ref, "throughput", b, "texts_per_s") for b in ("1", "32", "256")}
        pad = s.get("padding", {})
        rows.append(
            [
                s["label"],
                s.get("file_label", "-"),
                with_ratio(tp["1"], ref_tp["1"]),
                with_ratio(tp["32"], ref_tp["32"]),
                with_ratio(tp["256"], ref_tp["256"]),
                with_ratio(_get(s, "tokens_per_s", "32"), _get(ref, "tokens_per_s", "32")),
                f"{fmt(pad.get('32'), 2)} / {fmt(pad.get('256'), 2)}",
                with_ratio(_get(s, "single", "p50_ms"), _get(ref, "single", "p50_ms"), lower_is_better=True, digits=1),
                with_ratio(_get(s, "single", "p99_ms"), _get(ref, "single", "p99_ms"), lower_is_better=True, digits=1),
                with_ratio(_get(s, "cold", "first_s"), _get(ref, "cold", "first_s"), lower_is_better=True, digits=2),
                with_ratio(s.get("peak_rss_mb"), ref.get("peak_rss_mb"), lower_is_better=True),
            ]
        )
        del key
    return markdown_table(header, rows)


def rerank_table(systems: dict[str, dict[str, Any]], reference: str = "ce-torch") -> str:
    ref = systems.get(reference, {})
    header = ["system", "model file", "1x50 p50 ms", "1x50 p99 ms", "pairs/s", "cold start s", "peak RSS MB"]
    rows = []
    for s in systems.values():
        if s.get("task") != "rerank":
            continue
        if s.get("error"):
            rows.append([s["label"], s.get("file_label", "-"), f"failed: {s['error']}"] + ["-"] * 4)
            continue
        p50 = _get(s, "rerank", "p50_ms")
        rows.append(
            [
                s["label"],
                s.get("file_label", "-"),
                with_ratio(p50, _get(ref, "rerank", "p50_ms"), lower_is_better=True, digits=1),
                with_ratio(_get(s, "rerank", "p99_ms"), _get(ref, "rerank", "p99_ms"), lower_is_better=True, digits=1),
                fmt(50_000.0 / p50 if p50 else None),
                with_ratio(_get(s, "cold", "first_s"), _get(ref, "cold", "first_s"), lower_is_better=True, digits=2),
                with_ratio(s.get("peak_rss_mb"), ref.get("peak_rss_mb"), lower_is_better=True),
            ]
        )
    return markdown_table(header, rows)


def efficiency_table(systems: dict[str, dict[str, Any]]) -> str:
    header = [
        "system",
        "batch",
        "padded tokens/s",
        "hardware GFLOP/s (incl. padding)",
        "useful GFLOP/s",
        "GEMM peak (kind)",
        "fraction of peak",
    ]
    rows = []
    for s in systems.values():
        for batch, e in (s.get("efficiency") or {}).items():
            rows.append(
                [
                    s["label"],
                    batch,
                    fmt(e["padded_tokens_per_s"]),
                    fmt(e["hardware_gflops"], 1),
                    fmt(e["useful_gflops"], 1),
                    f"{fmt(e['peak_gflops'])} ({e['peak_kind']})",
                    f"{100 * e['fraction_of_peak']:.1f}%",
                ]
            )
    return markdown_table(header, rows)


def evaluate_targets(values: dict[str, dict[str, float | None]]) -> list[dict[str, Any]]:
    """values: target key -> {column: value}; a target is reached when the shipped ('int8') column meets it."""
    out = []
    for key, text, threshold, higher in TARGETS:
        cols = values.get(key, {})
        shipped = cols.get("int8")
        reached = None if shipped is None else (shipped >= threshold if higher else shipped <= threshold)
        out.append(
            {"key": key, "target": text, "threshold": threshold, "higher_is_better": higher, **cols, "reached": reached}
        )
    return out


def targets_table(targets: list[dict[str, Any]]) -> str:
    header = ["target", "wanted", "edge_encoders int8 (shipped)", "edge_encoders O3", "reached (int8)"]
    rows = []
    for t in targets:
        wanted = f"{'>=' if t['higher_is_better'] else '<='} {fmt(t['threshold'], 1 if t['threshold'] < 10 else 0)}"
        reached = {True: "yes", False: "NO", None: "not measured"}[t["reached"]]
        rows.append([t["target"], wanted, fmt(t.get("int8"), 2), fmt(t.get("O3"), 2), reached])
    return markdown_table(header, rows)


def bar_chart_svg(items: Sequence[tuple[str, float]], title: str, unit: str) -> str:
    """A dependency-free horizontal bar chart (one bar per system)."""
    width, left, bar_h, gap, top = 760, 260, 22, 8, 40
    height = top + len(items) * (bar_h + gap) + 20
    vmax = max((v for _, v in items), default=1.0) or 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
        'font-size="13">',
        f'<text x="10" y="24" font-size="15" font-weight="bold">{html.escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(items):
        y = top + i * (bar_h + gap)
        w = (width - left - 90) * value / vmax
        parts.append(f'<text x="{left - 8}" y="{y + 16}" text-anchor="end">{html.escape(label)}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="#4a7bd0"/>')
        parts.append(f'<text x="{left + w + 6:.1f}" y="{y + 16}">{value:,.0f} {html.escape(unit)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
