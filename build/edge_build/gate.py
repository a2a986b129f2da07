"""The validation gate: which fidelity figures a variant must reach to be shipped.

Thresholds are lower bounds ("metric >= value") keyed like config/models.toml's [gates] table; each model
family declares its own (edge_build.families). fp32 and O3 keep fp32 weights and must match torch almost
exactly; int8 variants get looser, quality-level thresholds. Every threshold must hold on both parts of the
validation set: the tune part (which the search and the choice look at) and the held-out part (which no choice
looks at); the figures of a part are metrics[part].
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from edge_build.errors import BuildError
from edge_build.families import FAMILIES

# gate key -> (model family, variant precision, metric), from each family's GateSpecs
GATE_METRICS: dict[str, tuple[str, str, str]] = {
    g.key: (f.name, g.precision, g.metric) for f in FAMILIES.values() for g in f.gates
}
PARTS = ("tune", "heldout")

DEFAULT_GATES: dict[str, float] = {g.key: g.default for f in FAMILIES.values() for g in f.gates}


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


def thresholds_for(kind: str, precision: str, gates: Mapping[str, float]) -> dict[str, float]:
    """The gate keys (with thresholds) that apply to a model family and a variant precision ("exact"/"int8")."""
    return {k: gates[k] for k, (g_kind, g_prec, _) in GATE_METRICS.items() if (g_kind, g_prec) == (kind, precision)}


def for_family(kind: str, gates: Mapping[str, float]) -> dict[str, float]:
    """The thresholds of one model family: every gate key starts with its family's name (unknown ones too, so
    resolve_gates can refuse them)."""
    return {k: v for k, v in gates.items() if k.startswith(kind + "_")}


def evaluate(
    kind: str, precision: str, metrics: Mapping[str, Mapping[str, float]], gates: Mapping[str, float]
) -> list[Check]:
    """All checks for one variant, on every part of the validation set; it passes when every check is ok."""
    checks = []
    for part in PARTS:
        if part not in metrics:
            raise BuildError(f"validation figures for the {part} part are missing")
        for key, threshold in thresholds_for(kind, precision, gates).items():
            metric = GATE_METRICS[key][2]
            checks.append(Check(key, metric, threshold, float(metrics[part][metric]), part))
    return checks


def failure_reason(checks: list[Check]) -> str:
    """Short text for the table: every failed check, or '' when all pass."""
    return "; ".join(c.describe() for c in checks if not c.ok)
