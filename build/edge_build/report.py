"""What the build prints: progress lines with elapsed seconds, and the per-variant table at the end."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Progress = Callable[[str], None]


def print_progress(message: str) -> None:
    print(message, flush=True)


@contextmanager
def step(progress: Progress, label: str) -> Iterator[None]:
    """Print `label ...` then `label: done in N s` (or failed), so long steps are visible."""
    started = time.perf_counter()
    progress(f"{label} ...")
    try:
        yield
    except BaseException:
        progress(f"{label}: failed after {time.perf_counter() - started:.1f} s")
        raise
    progress(f"{label}: done in {time.perf_counter() - started:.1f} s")


def fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def part(v: dict[str, Any], part: str, *names: str, digits: int = 4) -> str:
    figures = v["metrics"].get(part, {})
    if not all(n in figures for n in names):
        return "-"
    return "/".join(fmt(float(figures[n]), digits) for n in names)


def _verdict(v: dict[str, Any]) -> str:
    if v.get("error"):
        return f"ERROR: {v['error']}"
    if v["passed"]:
        return "pass"
    return f"FAIL: {v['reason']}"


def format_table(report: dict[str, Any]) -> str:
    """The per-variant table of one model's validation report (validation.json content)."""
    from edge_build.families import get_family

    columns = get_family(report["kind"]).columns
    headers = ["variant", *[c[0] for c in columns], "gate", "shipped"]
    rows = []
    for name, v in report["variants"].items():
        cells = [name]
        cells += ["-" if v.get("error") else fn(v) for _, fn in columns]
        cells.append(_verdict(v))
        cells.append(v.get("shipped_as") or "")
        rows.append(cells)
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = [" | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def format_report(report: dict[str, Any]) -> str:
    """Heading, table, gates, reference and notes for one model."""
    ref = report.get("reference", {})
    device = ref.get("device", "?") + (f" ({ref['gpu']})" if ref.get("gpu") else "")
    head = (
        f"== {report['kind']}: {report.get('name', '')}  "
        f"(reference: sentence-transformers on {device}, torch {ref.get('torch', '?')}; "
        f"{report.get('validation_set', {})})"
    )
    gates = ", ".join(f"{k} >= {v:g}" for k, v in report.get("gates", {}).items())
    lines = [head, format_table(report), f"gates (on the tune AND the held-out part): {gates}"]
    pareto = report.get("pareto")
    if pareto:
        lines.append(
            f"pareto (*): not beaten on both {pareto['fidelity']} and {pareto['speed']} by another variant: "
            + ", ".join(pareto["front"])
        )
    lines += [f"note: {n}" for n in report.get("notes", [])]
    shipped = report.get("shipped")
    lines.append(f"shipped: {shipped} -> {report.get('bundle_dir', '')}" if shipped else "shipped: NOTHING")
    return "\n".join(lines)
