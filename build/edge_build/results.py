"""Typed per-variant results and the validation report built from them (validation.json, the manifest summary).

The JSON shapes are what earlier builds wrote (validation.json is read by people, tests and the bench), so
to_json() keeps every key and its order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from edge_build import gate
from edge_build.families import Family
from edge_build.gate import Check
from edge_build.variants import ARM64_VARIANT

SELECTION = (
    "fastest variant whose gate holds on both the tune and the held-out part, by throughput measured on "
    "this build host; failures never ship"
)


@dataclass
class VariantResult:
    """What the build learned about one variant: its file, its figures, its gate checks, whether it shipped."""

    name: str
    precision: str  # the gate family: "exact" or "int8" (written as "family" in validation.json)
    error: str | None = None  # the variant could not be built; nothing else is known
    file_sha256: str = ""
    size: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    same_bytes_as: str | None = None  # an earlier variant with a byte-identical file (measured once)
    checks: list[Check] = field(default_factory=list)
    passed: bool = False
    reason: str = ""
    pareto: bool = False
    shipped_as: str | None = None

    def speed(self, family: Family) -> float:
        return float(self.metrics.get(family.speed_metric, 0.0))

    def fidelity(self, family: Family) -> float:
        """The fidelity axis of the Pareto front: the family's figure on the tune part."""
        return float(self.metrics["tune"][family.fidelity_metric])

    def to_json(self) -> dict[str, Any]:
        if self.error is not None:
            return {"error": self.error, "passed": False, "size": 0, "metrics": {}, "pareto": self.pareto}
        out: dict[str, Any] = {
            "file_sha256": self.file_sha256,
            "size": self.size,
            "family": self.precision,
            "metrics": self.metrics,
        }
        if self.same_bytes_as is not None:
            out["same_bytes_as"] = self.same_bytes_as
        out["checks"] = [{**asdict(c), "ok": c.ok} for c in self.checks]
        out["passed"] = self.passed
        out["reason"] = self.reason
        out["pareto"] = self.pareto
        if self.shipped_as is not None:
            out["shipped_as"] = self.shipped_as
        return out


def apply_gate(family: Family, result: VariantResult, gates: dict[str, float]) -> None:
    """Fill checks, passed and reason of a measured variant."""
    result.checks = gate.evaluate(family.name, result.precision, result.metrics, gates)
    result.passed = all(c.ok for c in result.checks)
    result.reason = gate.failure_reason(result.checks)


def mark_pareto(family: Family, results: dict[str, VariantResult]) -> None:
    """pareto = True where no other variant is at least as fast and as faithful, and better in one."""
    measured = {v: r for v, r in results.items() if r.error is None and "tune" in r.metrics}
    for variant, result in results.items():
        if variant not in measured:
            result.pareto = False
            continue
        f, sp = result.fidelity(family), result.speed(family)
        result.pareto = not any(
            o.fidelity(family) >= f and o.speed(family) >= sp and (o.fidelity(family) > f or o.speed(family) > sp)
            for v, o in measured.items()
            if v != variant
        )


def notes(family: Family, results: dict[str, VariantResult]) -> list[str]:
    """Remarks for the report: how int8-arm64 was validated, static vs dynamic int8."""
    out = []
    arm = results.get(ARM64_VARIANT)
    if arm and arm.error is None:
        twin = f"; its file is byte-identical to {arm.same_bytes_as}" if arm.same_bytes_as else ""
        out.append(
            "int8-arm64 was validated on this x86 host with the same quantized graph a Graviton runs "
            f"(onnxruntime's arm64 kernels may differ slightly){twin}"
        )
    static = results.get("int8-static")
    dynamic = [v for v in ("int8-avx512_vnni", "int8-avx2") if v in results and results[v].metrics]
    if static and static.metrics and dynamic:
        d, s = results[dynamic[0]].metrics, static.metrics
        inv, fid, speed = family.batch_invariance_metric, family.mean_metric, family.speed_metric
        out.append(
            f"static int8 vs dynamic ({dynamic[0]}): batch invariance {s[inv]:.6f} vs {d[inv]:.6f} ({inv}); "
            f"{fid} {s[fid]:.4f} vs {d[fid]:.4f}; speed {s[speed]:.0f} vs {d[speed]:.0f} per s"
        )
    return out


def report(
    family: Family,
    name: str,
    ref_info: dict[str, Any],
    gates: dict[str, float],
    fingerprint: dict[str, Any],
    results: dict[str, VariantResult],
) -> dict[str, Any]:
    """validation.json before anything ships (shipped None)."""
    return {
        "kind": family.name,
        "name": name,
        "reference": ref_info,
        "gates": gate.for_family(family.name, gates),
        "validation_set": fingerprint,
        "selection": SELECTION,
        "pareto": {
            "fidelity": f"tune {family.fidelity_metric}",
            "speed": family.speed_metric,
            "front": [v for v, r in results.items() if r.pareto],
        },
        "variants": {v: r.to_json() for v, r in results.items()},
        "notes": notes(family, results),
        "shipped": None,
    }


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The manifest's short version of validation.json."""
    shipped = report["shipped"]
    return {
        "passed": True,
        "reference": report["reference"],
        "gates": report["gates"],
        "validation_set": report["validation_set"],
        "shipped": shipped,
        "metrics": report["variants"][shipped]["metrics"],
        "variants": {
            v: {"passed": r.get("passed", False), "reason": r.get("error") or r.get("reason", "")}
            for v, r in report["variants"].items()
        },
        "arch_variants": report.get("arch_variants", {}),
    }
