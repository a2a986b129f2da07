"""Fidelity metrics and gate decisions: pure functions, checked on hand-made numbers."""

from __future__ import annotations

import numpy as np
import pytest
from edge_build import gate, metrics
from edge_build.errors import BuildError


def test_cosine_summary_of_identical_and_rotated_vectors() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(50, 16))
    same = metrics.cosine_summary(a, a * 3.0)  # scale does not matter
    assert same["cos_min"] == pytest.approx(1.0)
    b = a.copy()
    b[0] = -b[0]
    assert metrics.cosine_summary(a, b)["cos_min"] == pytest.approx(-1.0)
    assert metrics.cosine_summary(a, b)["cos_p5"] > 0.99  # one bad row of 50 is below the 5th percentile


def test_ndcg_is_one_for_same_order_and_lower_for_a_scrambled_top() -> None:
    truth = np.arange(20, dtype=float)
    assert metrics.ndcg_at_k(truth, truth * 2 + 1) == pytest.approx(1.0)
    assert metrics.ndcg_at_k(truth, -truth) < 0.2
    swapped = truth.copy()
    swapped[[19, 18]] = swapped[[18, 19]]
    assert 0.9 < metrics.ndcg_at_k(truth, swapped) < 1.0


def test_ranking_summary_figures() -> None:
    ref = [np.array([3.0, 2.0, 1.0, 0.0, -1.0, -2.0]), np.array([0.0, 1.0, 2.0])]
    same = metrics.ranking_summary(ref, [r + 0.01 for r in ref])
    assert same["spearman_min"] == pytest.approx(1.0)
    assert same["top1_agreement"] == 1.0 and same["top5_agreement"] == 1.0
    assert same["max_abs_diff"] == pytest.approx(0.01)
    flipped = metrics.ranking_summary(ref, [ref[0], -ref[1]])
    assert flipped["spearman_min"] == pytest.approx(-1.0)
    assert flipped["top1_agreement"] == 0.5
    assert flipped["kendall_min"] == pytest.approx(-1.0)


def _parts(tune: dict[str, float], heldout: dict[str, float] | None = None) -> dict[str, dict[str, float]]:
    return {"tune": tune, "heldout": heldout if heldout is not None else dict(tune)}


def test_gates_follow_variant_family() -> None:
    gates = gate.resolve_gates(None)
    good_int8 = _parts({"cos_mean": 0.998, "cos_min": 0.99})
    assert all(c.ok for c in gate.evaluate("embed", "int8", good_int8, gates))
    # the same figures fail the exact (fp32/O3) gate, and the reason names the part and the metric
    checks = gate.evaluate("embed", "exact", good_int8, gates)
    assert not all(c.ok for c in checks)
    assert "tune cos_min 0.9900 < 0.9999" in gate.failure_reason(checks)
    rerank = {"spearman_mean": 0.995, "spearman_min": 0.96, "top1_agreement": 0.9}
    assert "top1_agreement" in gate.failure_reason(gate.evaluate("rerank", "int8", _parts(rerank), gates))


def test_raised_int8_gates() -> None:
    gates = gate.resolve_gates(None)
    # what the shipped dynamic int8 embedder reached before (mean 0.9917, min 0.9595) no longer passes
    old = gate.evaluate("embed", "int8", _parts({"cos_mean": 0.9917, "cos_min": 0.9595}), gates)
    assert {c.metric for c in old if not c.ok} == {"cos_mean", "cos_min"}
    # a low single query fails the reranker even when the mean is high
    spiky = {"spearman_mean": 0.995, "spearman_min": 0.94, "top1_agreement": 1.0}
    assert gate.failure_reason(gate.evaluate("rerank", "int8", _parts(spiky), gates)).count("spearman_min") == 2


def test_gate_must_hold_on_the_heldout_part_too() -> None:
    gates = gate.resolve_gates(None)
    figures = _parts({"cos_mean": 0.999, "cos_min": 0.99}, {"cos_mean": 0.999, "cos_min": 0.98})
    checks = gate.evaluate("embed", "int8", figures, gates)
    assert gate.failure_reason(checks) == "heldout cos_min 0.9800 < 0.985"
    with pytest.raises(BuildError, match="heldout"):
        gate.evaluate("embed", "int8", {"tune": {"cos_mean": 1.0, "cos_min": 1.0}}, gates)


def test_gate_overrides_and_unknown_names() -> None:
    assert gate.resolve_gates({"embed_int8_mean_cos": 0.5})["embed_int8_mean_cos"] == 0.5
    with pytest.raises(BuildError, match="unknown gate"):
        gate.resolve_gates({"embed_int8_mean": 0.5})
