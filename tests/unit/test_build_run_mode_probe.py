"""The build's run-mode probe: both modes timed on the same call, concurrent only with a clear margin."""

from __future__ import annotations

import pytest
from edge_build import run_mode_probe

from edge_encoders.session import SessionConfig


class _Clock:
    """perf_counter for the probe: each fake call advances it by that mode's seconds (no real waiting)."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


CLOCK = _Clock()


def _opener(seconds: dict[str, float], seen: list[SessionConfig]):  # type: ignore[no-untyped-def]
    def open_call(config: SessionConfig):  # type: ignore[no-untyped-def]
        seen.append(config)

        def call() -> None:
            CLOCK.now += seconds[config.run_mode]

        return call

    return open_call


@pytest.fixture(autouse=True)
def _two_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_mode_probe, "available_cpus", lambda: 2)
    monkeypatch.setattr(run_mode_probe, "ROUNDS", 3)
    monkeypatch.setattr(run_mode_probe.time, "perf_counter", CLOCK.perf_counter)


@pytest.mark.parametrize(
    ("sequential", "concurrent", "chosen"),
    [
        (0.030, 0.015, "concurrent"),
        (0.015, 0.030, "sequential"),
        (0.020, 0.020, "sequential"),  # a tie: no change
        (0.020, 0.0195, "sequential"),  # faster, but within the margin
    ],
)
def test_the_faster_mode_is_the_hint(sequential: float, concurrent: float, chosen: str) -> None:
    seen: list[SessionConfig] = []
    times = {"sequential": sequential, "concurrent": concurrent}
    hints = run_mode_probe.probe_run_modes("int8-x", _opener(times, seen))
    assert hints["run_mode"] == chosen
    assert hints["variant"] == "int8-x"
    assert (hints["sequential_ms"], hints["concurrent_ms"]) == (round(sequential * 1e3, 1), round(concurrent * 1e3, 1))
    assert sorted(c.run_mode for c in seen) == ["concurrent", "sequential"]
    assert all(c.intra_op_threads == run_mode_probe.THREADS for c in seen)


def test_no_hint_on_one_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_mode_probe, "available_cpus", lambda: 1)
    seen: list[SessionConfig] = []
    assert run_mode_probe.probe_run_modes("int8-x", _opener({}, seen)) == {}
    assert seen == []


@pytest.mark.parametrize(
    ("small", "large", "chosen"),
    [
        ((0.030, 0.020), (0.300, 0.200), "concurrent"),
        ((0.030, 0.020), (0.300, 0.300), "sequential"),  # one call does not gain: the hint serves every call
        ((0.030, 0.0295), (0.300, 0.200), "sequential"),
    ],
)
def test_several_calls_need_concurrent_to_win_on_each(
    small: tuple[float, float], large: tuple[float, float], chosen: str
) -> None:
    seen: list[SessionConfig] = []
    openers = {
        label: _opener({"sequential": seq, "concurrent": conc}, seen)
        for label, (seq, conc) in (("32 texts", small), ("256 texts", large))
    }
    hints = run_mode_probe.probe_calls("int8-x", openers)
    assert hints["run_mode"] == chosen and hints["variant"] == "int8-x"
    assert hints["calls"]["32 texts"]["sequential_ms"] == round(small[0] * 1e3, 1)
    assert hints["calls"]["256 texts"]["concurrent_ms"] == round(large[1] * 1e3, 1)
    assert hints["sequential_ms"] == round((small[0] + large[0]) * 1e3, 1)
    assert len(seen) == 4


def test_several_calls_give_no_hint_on_one_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_mode_probe, "available_cpus", lambda: 1)
    assert run_mode_probe.probe_calls("int8-x", {"32 texts": _opener({}, [])}) == {}


def test_the_embed_family_probes_its_staged_bundle(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from edge_build.families import embed as embed_family
    from edge_build.validation import ValidationSet
    from helpers.toy_bundles import make_toy_embed_bundle

    monkeypatch.setattr(embed_family, "RUN_PROBE_TEXTS", (3, 7))
    folder = make_toy_embed_bundle(tmp_path / "e")[0]
    vset = ValidationSet(["a b c", "d e", "f g h i j"], [])
    hints = embed_family.EMBED.run_hints(folder, vset, "int8-x")
    assert hints["run_mode"] in ("sequential", "concurrent") and hints["variant"] == "int8-x"
    assert sorted(hints["calls"]) == ["3 texts", "7 texts"]


def test_the_rerank_family_probes_its_staged_bundle(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from edge_build.families.rerank import RERANK
    from edge_build.validation import ValidationSet
    from helpers.toy_bundles import make_toy_rerank_bundle

    folder = make_toy_rerank_bundle(tmp_path / "r")[0]
    vset = ValidationSet([], [{"query": "q", "passages": ["a b c", "d e", "f"] * 20}])
    hints = RERANK.run_hints(folder, vset, "fp32")
    assert hints["run_mode"] in ("sequential", "concurrent") and hints["variant"] == "fp32"
