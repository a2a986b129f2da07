"""Running one call's micro-batches: one after another, or several at once on one onnxruntime session.

Why concurrent: a rerank call is many small micro-batches (1 query x 50 passages: 17 runs of 1-6 pairs), and
onnxruntime splits each operator of a small run over its intra-op threads at a cost: measured on 2 vCPUs, the
int8 reranker gained only 1.50x from its second thread (fp32: 1.78x). Running whole micro-batches side by side
on the one session (onnxruntime's run releases the GIL; each calling thread runs its own operators and the
pool's thread helps whichever run has work) keeps both cores busy with less waiting inside a run. Which mode is
faster depends on the graph, so the build measures both and writes its choice into the manifest as a hint.

Scores do not depend on the mode: the micro-batches are the same (same rows, same padding), only when each
runs changes. Memory: at most `workers` micro-batches run at once, so the activations in flight are bounded by
workers x the token budget (`tokens_in_flight`); and at most `workers` finished outputs wait for the caller.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from edge_encoders.stop import StopToken

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

SEQUENTIAL = "sequential"
CONCURRENT = "concurrent"
RUN_MODES: tuple[str, ...] = (SEQUENTIAL, CONCURRENT)

JobT = TypeVar("JobT")
ResultT = TypeVar("ResultT")


@dataclass(frozen=True)
class RunPlan:
    """How a loaded model runs its micro-batches: the mode, how many at once, and its session's threads."""

    mode: str
    workers: int  # micro-batches of one call at once
    intra_op_threads: int  # the onnxruntime session's intra-op threads
    allow_spinning: bool  # the session's idle threads spin before they sleep


def choose_run_plan(
    requested: str, hints: Mapping[str, Any], variant: str, threads: int, allow_spinning: bool
) -> RunPlan:
    """The plan for `threads` CPUs: the requested mode, or with "auto" the bundle's hint.

    A hint names the variant it was measured on; another variant of the bundle (an architecture's own file)
    runs sequentially, as does any bundle without a hint. The build measures with thread spinning off, so
    "auto" follows a concurrent hint only where spinning is off (the Lambda image): with spinning on, the
    sequential int8 reranker measured as fast on 1x50 calls (192-198 ms against 200-206) and a one-pair call
    1.2 ms faster. Concurrent keeps the session's threads (a call with one micro-batch runs as in sequential
    mode) and runs `threads` micro-batches at once on it, each caller taking a share of the pool; the pool's
    threads do not spin, or an idle one would take the core from the other run. On one CPU both modes are the
    same.
    """
    mode = requested
    if mode == "auto":
        measured_on = hints.get("variant")
        hinted = hints.get("run_mode", SEQUENTIAL) if measured_on in (None, variant) else SEQUENTIAL
        mode = SEQUENTIAL if allow_spinning else hinted
    if mode == CONCURRENT and threads > 1:
        return RunPlan(CONCURRENT, workers=threads, intra_op_threads=threads, allow_spinning=False)
    return RunPlan(SEQUENTIAL, workers=1, intra_op_threads=threads, allow_spinning=allow_spinning)


def tokens_in_flight(token_budget: int, workers: int) -> int:
    """Padded tokens of the micro-batches one call may hold at once (each within the budget, but for a single
    over-budget input, which max_seq_length bounds)."""
    return token_budget * max(1, workers)


class _Shared(Generic[JobT, ResultT]):
    """State of one concurrent call, guarded by one condition variable."""

    def __init__(self, jobs: Sequence[JobT], workers: int) -> None:
        self.cv = threading.Condition()
        self.jobs = deque(jobs)
        self.workers = workers
        self.running = 0  # micro-batches inside onnxruntime now: what holds activation memory
        self.done: deque[tuple[JobT, ResultT]] = deque()  # outputs the caller has not taken yet
        self.error: BaseException | None = None
        self.closed = False

    def can_start(self) -> bool:
        """Fewer than `workers` runs, and fewer than `workers` outputs waiting for a slow caller."""
        return bool(self.jobs) and self.running < self.workers and len(self.done) < self.workers

    def take(self) -> JobT | None:
        """A helper's next job once one may start; None when there is none left or the call ended."""
        with self.cv:
            while True:
                if self.closed or self.error is not None or not self.jobs:
                    return None
                if self.can_start():
                    self.running += 1
                    return self.jobs.popleft()
                self.cv.wait()

    def finished(self, item: tuple[JobT, ResultT] | None, error: BaseException | None = None) -> None:
        """A run ended: its output queued for the caller (a helper's), or the call's first error kept."""
        with self.cv:
            self.running -= 1
            if item is not None:
                self.done.append(item)
            if error is not None and self.error is None:
                self.error = error
            self.cv.notify_all()


class MicroBatchRunner:
    """Runs a call's jobs on the calling thread plus `workers - 1` helper threads (created on first use).

    The calling thread works too, so a call never waits for a helper that another call keeps busy.
    """

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def _helpers(self) -> ThreadPoolExecutor:
        from concurrent.futures import ThreadPoolExecutor  # here: not at import, where a cold start pays for it

        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers - 1, thread_name_prefix="edge-microbatch")
            return self._pool

    def run(
        self,
        jobs: Sequence[JobT],
        work: Callable[[JobT], ResultT],
        stop: StopToken | None = None,
    ) -> Iterator[tuple[JobT, ResultT]]:
        """Yield (job, result) for every job, in order for one worker or one job, else as they complete.

        `stop` is checked before each job starts; the first error (a stop, a failed run) ends the call: no new
        job starts, and it is raised to the caller.
        """
        if self.workers == 1 or len(jobs) <= 1:
            for job in jobs:
                if stop is not None:
                    stop.check()
                yield job, work(job)
            return
        shared: _Shared[JobT, ResultT] = _Shared(jobs, self.workers)
        pool = self._helpers()
        for _ in range(min(self.workers, len(jobs)) - 1):
            pool.submit(_help, shared, work, stop)
        try:
            yield from _lead(shared, work, stop)
        finally:
            with shared.cv:
                shared.closed = True
                shared.cv.notify_all()


def _start(shared: _Shared[JobT, ResultT], stop: StopToken | None) -> JobT | None:
    job = shared.take()
    if job is not None and stop is not None:
        try:
            stop.check()
        except BaseException as exc:
            shared.finished(None, exc)
            return None
    return job


def _help(shared: _Shared[JobT, ResultT], work: Callable[[JobT], ResultT], stop: StopToken | None) -> None:
    """A helper thread: take jobs until none is left, handing results to the caller's thread."""
    while (job := _start(shared, stop)) is not None:
        try:
            result = work(job)
        except BaseException as exc:
            shared.finished(None, exc)
            return
        shared.finished((job, result))


def _lead(
    shared: _Shared[JobT, ResultT], work: Callable[[JobT], ResultT], stop: StopToken | None
) -> Iterator[tuple[JobT, ResultT]]:
    """The calling thread: hand over finished outputs first, else run a job itself, else wait for a helper."""
    while True:
        job: JobT | None = None
        item: tuple[JobT, ResultT] | None = None
        with shared.cv:
            while True:
                if shared.error is not None:
                    raise shared.error
                if shared.done:
                    item = shared.done.popleft()
                    shared.cv.notify_all()  # a helper may wait for room in the queue
                    break
                if shared.jobs and shared.running < shared.workers:
                    shared.running += 1
                    job = shared.jobs.popleft()
                    break
                if not shared.jobs and shared.running == 0:
                    return
                shared.cv.wait()
        if item is None:
            assert job is not None
            try:
                if stop is not None:
                    stop.check()
                item = (job, work(job))
            except BaseException as exc:
                shared.finished(None, exc)
                raise
            with shared.cv:
                shared.running -= 1
                shared.cv.notify_all()
        yield item
