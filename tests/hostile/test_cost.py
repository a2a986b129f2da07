"""Every request within the body limit costs a bounded amount of memory, and the memory comes back.

The hostile set (tests/hostile/probe.py) runs through the Lambda entry point with both MiniLM bundles loaded,
in a fresh process so its RSS means something. Times are printed, not asserted (a loaded 2-core CI machine
would make them flaky); `make soak` prints them over ten minutes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.handler_support import bundle_paths

PROBE = Path(__file__).with_name("probe.py")
PEAK_ABOVE_WARM_MB = 300
SETTLED_WITHIN_MB = 100


@pytest.fixture(scope="module")
def probe() -> dict:
    embed, rerank = bundle_paths()
    done = subprocess.run(
        [sys.executable, str(PROBE), "--embed", str(embed), "--rerank", str(rerank), "--admitted", "32"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict = json.loads(done.stdout)
    for r in result["requests"]:
        peak = r["peak_above_warm_mb"]
        print(f"{r['status']} {r['code'] or '':16} {r['seconds']:7.3f} s  peak +{peak} MB  {r['name']}")
    print(f"warm {result['warm_mb']} MB, settled {result['settled_mb']} MB")
    return result


def test_no_request_is_a_server_error(probe: dict) -> None:
    statuses = {r["name"]: r["status"] for r in probe["requests"]}
    assert all(s < 500 for s in statuses.values()), statuses


def test_peak_memory_of_any_request_is_bounded(probe: dict) -> None:
    if not probe["peak_reset"]:
        pytest.skip("this kernel cannot reset the peak RSS (/proc/self/clear_refs)")
    peaks = {r["name"]: r["peak_above_warm_mb"] for r in probe["requests"]}
    assert max(peaks.values()) <= PEAK_ABOVE_WARM_MB, peaks


def test_memory_comes_back_after_the_hostile_set(probe: dict) -> None:
    assert probe["settled_mb"] <= probe["warm_mb"] + SETTLED_WITHIN_MB, probe


def test_amplifiers_are_refused_or_bounded_with_the_right_codes(probe: dict) -> None:
    by_name = {r["name"]: r for r in probe["requests"]}
    assert by_name["rerank 32KB query x 1024 one-letter docs"]["code"] == "too_many_tokens"
    assert by_name["rerank 100k docs (too many)"]["code"] == "too_many_inputs"
    assert by_name["embed one 6MB string"]["status"] == 200
    assert by_name["embed one 6MB word"]["code"] == "input_unbounded"
    assert by_name["embed lone surrogate"]["code"] == "invalid_unicode"
    assert by_name["over the body limit"]["code"] == "body_too_large"
    for name in ("tokenize one 6MB word", "tokenize one 6MB whitespace run"):  # /tokenize tokenizes texts whole
        assert by_name[name]["status"] == 413 and "tokenizes at most" in by_name[name]["message"], by_name[name]
    # refusals that need no tokenization at all: far under a second even on a loaded machine
    tokenize = ("tokenize one 6MB word", "tokenize one 6MB whitespace run")
    for name in ("over the body limit", "rerank 100k docs (too many)", "embed lone surrogate", *tokenize):
        assert by_name[name]["seconds"] < 1.0, by_name[name]
