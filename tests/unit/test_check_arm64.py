"""The comparison and the verdict of scripts/check_arm64.py (the emulated run itself is `make check-arm64`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_arm64.py"
spec = importlib.util.spec_from_file_location("check_arm64", SCRIPT)
assert spec is not None and spec.loader is not None
check_arm64 = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_arm64)

GATES = {"rerank_int8_spearman_mean": 0.99, "rerank_int8_spearman_min": 0.95, "rerank_int8_top1": 0.95}


def test_embed_cosines() -> None:
    metrics = check_arm64.compare("embed", [[1.0, 0.0], [0.0, 2.0]], [[2.0, 0.0], [1.0, 1.0]], [])
    assert metrics["cos_mean"] == pytest.approx((1 + 2**-0.5) / 2)
    assert metrics["cos_min"] == pytest.approx(2**-0.5)


def test_rerank_ranks_top1_and_the_margin_of_a_flip() -> None:
    # query 1: same order; query 2: the reference prefers passage 0 by 0.05, the other run passage 1
    metrics = check_arm64.compare("rerank", [0.1, 0.5, 0.9, 0.3, 0.4], [0.2, 0.6, 0.7, 0.35, 0.30], [3, 2])
    assert metrics["top1"] == 0.5
    assert metrics["spearman_min"] == pytest.approx(-1.0)
    assert metrics["top1_flip_max_reference_margin"] == pytest.approx(0.05)
    assert check_arm64.compare("rerank", [0.3, 0.4], [0.35, 0.30], [2], tie=0.06)["top1"] == 1.0  # a near tie
    assert check_arm64.compare("rerank", [0.3, 0.4], [0.35, 0.30], [2], tie=0.04)["top1"] == 0.0


def test_a_gate_fails_only_where_arm64_is_below_it_and_below_x86() -> None:
    good = {"spearman_mean": 0.999, "spearman_min": 0.99, "top1": 1.0}
    flipped = {**good, "top1": 0.875}
    assert check_arm64.gates_missed("rerank", flipped, good, GATES) == ["rerank top1 0.8750 < 0.95"]
    assert check_arm64.gates_missed("rerank", flipped, flipped, GATES) == []  # x86 does no better on the slice
    assert check_arm64.gates_missed("rerank", good, good, GATES) == []
