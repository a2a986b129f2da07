"""Micro-batch planning: every input exactly once, within the token budget, longest first."""

from __future__ import annotations

import random

import pytest

from edge_encoders.batching import BatchPolicy, plan_batches
from edge_encoders.session import SessionConfig, available_cpus, create_session


@pytest.mark.parametrize("seed", range(5))
def test_plan_covers_inputs_within_budget(seed: int) -> None:
    rng = random.Random(seed)
    lengths = [rng.randint(1, 300) for _ in range(rng.randint(1, 400))]
    policy = BatchPolicy(token_budget=1024, max_batch_size=16)
    batches = list(plan_batches(lengths, policy))
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    for batch in batches:
        width = max(lengths[i] for i in batch)
        assert len(batch) <= 16
        assert width * len(batch) <= 1024 or len(batch) == 1
    widths = [max(lengths[i] for i in b) for b in batches]
    assert widths == sorted(widths, reverse=True)


def test_oversized_single_input_gets_its_own_batch() -> None:
    assert list(plan_batches([10, 5000, 10], BatchPolicy(token_budget=100))) == [[1], [0, 2]]


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        BatchPolicy(token_budget=0)


def test_available_cpus_is_positive() -> None:
    assert available_cpus() >= 1


def test_session_rejects_unknown_level(tmp_path) -> None:
    with pytest.raises(ValueError, match="graph_optimization"):
        create_session(tmp_path / "x.onnx", SessionConfig(graph_optimization="turbo"))


def _budget_only(lengths: list[int], policy: BatchPolicy) -> list[list[int]]:
    """The naive plan: longest first, cut only when the budget or row limit is reached."""
    plan: list[list[int]] = [[]]
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        batch = plan[-1]
        width = lengths[batch[0]] if batch else lengths[i]
        if batch and (width * (len(batch) + 1) > policy.token_budget or len(batch) >= policy.max_batch_size):
            plan.append([])
        plan[-1].append(i)
    return plan


def _padded(lengths: list[int], plan: list[list[int]]) -> int:
    return sum(len(b) * max(lengths[i] for i in b) for b in plan)


def test_one_long_text_does_not_pad_the_short_ones() -> None:
    lengths = [8] * 31 + [256]
    plan = list(plan_batches(lengths, BatchPolicy(token_budget=8192)))
    assert plan[0] == [31]  # the long text alone, the 31 short ones together
    assert _padded(lengths, plan) == 256 + 31 * 8


@pytest.mark.parametrize("seed", range(3))
def test_plan_pads_no_more_than_cutting_at_the_budget(seed: int) -> None:
    rng = random.Random(seed)
    lengths = [rng.choice([5, 9, 14, 20, 31, 256]) for _ in range(64)]
    policy = BatchPolicy()
    assert _padded(lengths, list(plan_batches(lengths, policy))) <= _padded(lengths, _budget_only(lengths, policy))
