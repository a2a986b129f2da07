"""The validation gate: which fidelity figures a variant must reach to be shipped.

Thresholds are lower bounds ("metric >= value") keyed like config/models.toml's [gates] table. fp32 and O3
keep fp32 weights and must match torch almost exactly; int8 variants get looser, quality-level thresholds.
Every threshold must hold on both parts of the validation set: the tune part (which the search and the choice
look at) and the held-out part (which no choice looks at); the figures of a part are metrics[part].
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from edge_build.errors import BuildError

# gate key -> (kind, family, metric); the metric names are those of edge_build.metrics
GATE_METRICS: dict[str, tuple[str, str, str]] = {
    "embed_fp_min_cos": ("embed", "exact", "cos_min"),
    "embed_int8_mean_cos": ("embed", "int8", "cos_mean"),
    "embed_int8_min_cos": ("embed", "int8", "cos_min"),
    "rerank_fp_spearman_min": ("rerank", "exact", "spearman_min"),
    "rerank_fp_top1": ("rerank", "exact", "top1_agreement"),
    "rerank_int8_spearman_mean": ("rerank", "int8", "spearman_mean"),
    "rerank_int8_spearman_min": ("rerank", "int8", "spearman_min"),
    "rerank_int8_top1": ("rerank", "int8", "top1_agreement"),
}
PARTS = ("tune", "heldout")

DEFAULT_GATES: dict[str, float] = {
    "embed_fp_min_cos": 0.9999,
    "embed_int8_mean_cos": 0.995,
    "embed_int8_min_cos": 0.985,
    "rerank_fp_spearman_min": 0.999,
    "rerank_fp_top1": 1.0,
    "rerank_int8_spearman_mean": 0.99,
    "rerank_int8_spearman_min": 0.95,
    "rerank_int8_top1": 0.95,
}


@dataclass
class Check:
    """One threshold applied to one figure."""

    gate: str
    metric: str
    threshold: float
    value: float
    part: str = "tune"

    @property
    def ok(self) -> bool:
        return self.value >= self.threshold

    def describe(self) -> str:
        return f"{self.part} {self.metric} {self.value:.4f} < {self.threshold:g}"


def resolve_gates(overrides: Mapping[str, float] | None) -> dict[str, float]:
    """Defaults with the config's values on top; an unknown gate name is an error, not silently ignored."""
    gates = dict(DEFAULT_GATES)
    for key, value in (overrides or {}).items():
        if key not in GATE_METRICS:
            raise BuildError(f"unknown gate {key!r}; known gates: {', '.join(GATE_METRICS)}")
        gates[key] = float(value)
    return gates


def thresholds_for(kind: str, family: str, gates: Mapping[str, float]) -> dict[str, float]:
    """The gate keys (with thresholds) that apply to a kind and variant family."""
    return {k: gates[k] for k, (g_kind, g_family, _) in GATE_METRICS.items() if (g_kind, g_family) == (kind, family)}


def evaluate(
    kind: str, family: str, metrics: Mapping[str, Mapping[str, float]], gates: Mapping[str, float]
) -> list[Check]:
    """All checks for one variant, on every part of the validation set; it passes when every check is ok."""
    checks = []
    for part in PARTS:
        if part not in metrics:
            raise BuildError(f"validation figures for the {part} part are missing")
        for key, threshold in thresholds_for(kind, family, gates).items():
            metric = GATE_METRICS[key][2]
            checks.append(Check(key, metric, threshold, float(metrics[part][metric]), part))
    return checks


def failure_reason(checks: list[Check]) -> str:
    """Short text for the table: every failed check, or '' when all pass."""
    return "; ".join(c.describe() for c in checks if not c.ok)
