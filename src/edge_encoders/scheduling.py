"""Running one call's micro-batches: one after another, or several at once on one onnxruntime session.

Why concurrent: a rerank call is many small micro-batches (1 query x 50 passages: 17 runs of 1-6 pairs), and
onnxruntime splits each operator of a small run over its intra-op threads at a cost: measured on 2 vCPUs, the
int8 reranker gained only 1.50x from its second thread (fp32: 1.78x). Running whole micro-batches side by side,
each on one thread (onnxruntime's run releases the GIL), needs no synchronization inside a run. Which mode is
faster depends on the graph, so the build measures both and writes its choice into the manifest as a hint.

Scores do not depend on the mode: the micro-batches are the same (same rows, same padding), only when each
runs changes. Memory: at most `workers` micro-batches are held at once (running, or done and not yet taken by
the caller), so the activations in flight are bounded by workers x the token budget (`tokens_in_flight`).
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
    """How a loaded model runs its micro-batches: the mode, how many at once, and the session's threads."""

    mode: str
    workers: int  # micro-batches of one call at once
    intra_op_threads: int  # the onnxruntime session's intra-op threads (each run's)


def choose_run_plan(requested: str, hints: Mapping[str, Any], variant: str, threads: int) -> RunPlan:
    """The plan for `threads` CPUs: the requested mode, or with "auto" the bundle's hint.

    A hint names the variant it was measured on; another variant of the bundle (an architecture's own file)
    runs sequentially, as does any bundle without a hint. Concurrent runs give each micro-batch one thread and
    run `threads` of them, so the total matches the CPUs; on one CPU both modes are the same.
    """
    mode = requested
    if mode == "auto":
        measured_on = hints.get("variant")
        mode = hints.get("run_mode", SEQUENTIAL) if measured_on in (None, variant) else SEQUENTIAL
    if mode == CONCURRENT and threads > 1:
        return RunPlan(CONCURRENT, workers=threads, intra_op_threads=1)
    return RunPlan(SEQUENTIAL, workers=1, intra_op_threads=threads)


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
        self.held = 0  # micro-batches started and not yet handed to the caller
        self.done: deque[tuple[JobT, ResultT]] = deque()
        self.error: BaseException | None = None
        self.closed = False

    def take(self) -> JobT | None:
        """The next job once fewer than `workers` are held; None when there is none left or the call ended."""
        with self.cv:
            while True:
                if self.closed or self.error is not None or not self.jobs:
                    return None
                if self.held < self.workers:
                    self.held += 1
                    return self.jobs.popleft()
                self.cv.wait()


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
            _fail(shared, exc)
            return None
    return job


def _fail(shared: _Shared[JobT, ResultT], exc: BaseException) -> None:
    with shared.cv:
        shared.held -= 1
        if shared.error is None:
            shared.error = exc
        shared.cv.notify_all()


def _help(shared: _Shared[JobT, ResultT], work: Callable[[JobT], ResultT], stop: StopToken | None) -> None:
    """A helper thread: take jobs until none is left, handing results to the caller's thread."""
    while (job := _start(shared, stop)) is not None:
        try:
            result = work(job)
        except BaseException as exc:
            _fail(shared, exc)
            return
        with shared.cv:
            shared.done.append((job, result))
            shared.cv.notify_all()


def _lead(
    shared: _Shared[JobT, ResultT], work: Callable[[JobT], ResultT], stop: StopToken | None
) -> Iterator[tuple[JobT, ResultT]]:
    """The calling thread: hand over finished results first, else run a job itself, else wait."""
    while True:
        job: JobT | None = None
        item: tuple[JobT, ResultT] | None = None
        with shared.cv:
            while True:
                if shared.error is not None:
                    raise shared.error
                if shared.done:
                    item = shared.done.popleft()
                    break
                if shared.jobs and shared.held < shared.workers:
                    shared.held += 1
                    job = shared.jobs.popleft()
                    break
                if not shared.jobs and shared.held == 0:
                    return
                shared.cv.wait()
        if item is None:
            assert job is not None
            if stop is not None:
                try:
                    stop.check()
                except BaseException as exc:
                    _fail(shared, exc)
                    raise
            try:
                item = (job, work(job))
            except BaseException as exc:
                _fail(shared, exc)
                raise
        yield item
        with shared.cv:
            shared.held -= 1
            shared.cv.notify_all()
