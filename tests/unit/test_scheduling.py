"""Micro-batch run modes: every job once, really side by side, bounded in flight, errors and stops end a call."""

from __future__ import annotations

import threading
import time

import pytest

from edge_encoders import StopToken
from edge_encoders.errors import RequestCancelledError
from edge_encoders.scheduling import (
    CONCURRENT,
    SEQUENTIAL,
    MicroBatchRunner,
    choose_run_plan,
    tokens_in_flight,
)


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("count", [0, 1, 2, 7])
def test_every_job_runs_once_with_its_own_result(workers: int, count: int) -> None:
    out = list(MicroBatchRunner(workers).run(list(range(count)), lambda j: j * j))
    assert sorted(out) == [(j, j * j) for j in range(count)]


def test_one_worker_keeps_the_plan_order() -> None:
    order: list[int] = []
    for job, _ in MicroBatchRunner(1).run([3, 1, 2], lambda j: order.append(j)):
        order.append(-job)
    assert order == [3, -3, 1, -1, 2, -2]


def test_two_workers_run_two_jobs_at_the_same_time() -> None:
    meet = threading.Barrier(2, timeout=5)  # broken (an error) unless two jobs are inside at once

    def work(job: int) -> int:
        meet.wait()
        return job

    assert sorted(j for j, _ in MicroBatchRunner(2).run([0, 1, 2, 3], work)) == [0, 1, 2, 3]


@pytest.mark.parametrize("workers", [2, 3])
def test_runs_at_once_and_outputs_waiting_stay_bounded(workers: int) -> None:
    """At most `workers` runs at once (activation memory) and, for a slow caller, at most `workers` finished
    outputs waiting besides the one it holds: helpers do not run ahead of the caller through the whole call."""
    lock = threading.Lock()
    running, waiting = [0], [0]
    peak_running, peak_waiting = [0], [0]

    def work(job: int) -> int:
        with lock:
            running[0] += 1
            peak_running[0] = max(peak_running[0], running[0])
        time.sleep(0.003)
        with lock:
            running[0] -= 1
            waiting[0] += 1
            peak_waiting[0] = max(peak_waiting[0], waiting[0])
        return job

    for _ in MicroBatchRunner(workers).run(list(range(16)), work):
        with lock:
            waiting[0] -= 1
        time.sleep(0.02)  # the caller is much slower than the runs
    assert peak_running[0] <= workers  # (that they overlap at all: the barrier test above)
    assert peak_waiting[0] <= workers + 1


def test_an_error_in_a_helper_ends_the_call() -> None:
    started: list[int] = []

    def work(job: int) -> int:
        started.append(job)
        if job == 1:
            raise ValueError("bad run")
        time.sleep(0.01)
        return job

    with pytest.raises(ValueError, match="bad run"):
        list(MicroBatchRunner(2).run(list(range(40)), work))
    assert len(started) < 40


@pytest.mark.parametrize("workers", [1, 2])
def test_a_stop_ends_the_call_before_the_next_job(workers: int) -> None:
    stop = StopToken()
    done: list[int] = []
    with pytest.raises(RequestCancelledError):
        for job, _ in MicroBatchRunner(workers).run(list(range(40)), lambda j: time.sleep(0.002), stop):
            done.append(job)
            stop.cancel("test")
    assert len(done) < 40


def test_the_runner_is_reused_across_calls_and_threads() -> None:
    runner = MicroBatchRunner(2)
    results: list[list[tuple[int, int]]] = []

    def call() -> None:
        results.append(sorted(runner.run(list(range(9)), lambda j: j + 1)))

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == [[(j, j + 1) for j in range(9)]] * 3


@pytest.mark.parametrize(
    ("requested", "hints", "threads", "mode", "workers"),
    [  # spinning off (as the build measures and the Lambda image runs)
        ("auto", {}, 2, SEQUENTIAL, 1),  # a bundle without a hint (older builds)
        ("auto", {"run_mode": "concurrent", "variant": "int8-a"}, 2, CONCURRENT, 2),
        ("auto", {"run_mode": "concurrent"}, 4, CONCURRENT, 4),
        ("auto", {"run_mode": "concurrent", "variant": "int8-arm64"}, 2, SEQUENTIAL, 1),  # measured on another file
        ("auto", {"run_mode": "concurrent", "variant": "int8-a"}, 1, SEQUENTIAL, 1),  # one CPU: nothing to share
        ("sequential", {"run_mode": "concurrent", "variant": "int8-a"}, 2, SEQUENTIAL, 1),  # the override wins
        ("concurrent", {"run_mode": "sequential"}, 2, CONCURRENT, 2),
    ],
)
def test_run_plan(requested: str, hints: dict, threads: int, mode: str, workers: int) -> None:
    plan = choose_run_plan(requested, hints, "int8-a", threads, allow_spinning=False)
    assert (plan.mode, plan.workers, plan.intra_op_threads, plan.allow_spinning) == (mode, workers, threads, False)


@pytest.mark.parametrize(("requested", "mode"), [("auto", SEQUENTIAL), ("concurrent", CONCURRENT)])
def test_with_spinning_on_only_an_explicit_request_runs_concurrently(requested: str, mode: str) -> None:
    """The hint was measured with spinning off; with it on, sequential was as fast (and one-pair calls faster)."""
    plan = choose_run_plan(requested, {"run_mode": "concurrent", "variant": "int8-a"}, "int8-a", 2, allow_spinning=True)
    assert plan.mode == mode
    assert plan.allow_spinning == (mode == SEQUENTIAL)


def test_tokens_in_flight_count_the_workers() -> None:
    assert tokens_in_flight(512, 1) == 512
    assert tokens_in_flight(512, 2) == 1024
