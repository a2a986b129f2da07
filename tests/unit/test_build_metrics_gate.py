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


def test_gates_follow_variant_family() -> None:
    gates = gate.resolve_gates(None)
    good_int8 = {"cos_mean": 0.995, "cos_min": 0.96}
    assert all(c.ok for c in gate.evaluate("embed", "int8", good_int8, gates))
    # the same figures fail the exact (fp32/O3) gate, and the reason names the metric
    checks = gate.evaluate("embed", "exact", good_int8, gates)
    assert not all(c.ok for c in checks)
    assert "cos_min 0.9600 < 0.9999" in gate.failure_reason(checks)
    rerank = {"spearman_mean": 0.99, "spearman_min": 0.9, "top1_agreement": 0.9}
    assert "top1_agreement" in gate.failure_reason(gate.evaluate("rerank", "int8", rerank, gates))


def test_gate_overrides_and_unknown_names() -> None:
    assert gate.resolve_gates({"embed_int8_mean_cos": 0.5})["embed_int8_mean_cos"] == 0.5
    with pytest.raises(BuildError, match="unknown gate"):
        gate.resolve_gates({"embed_int8_mean": 0.5})
