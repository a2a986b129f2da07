"""A token a caller hands to a long call so it stops between micro-batches: past a deadline, or when cancelled.

Why between micro-batches: onnxruntime cannot be interrupted inside a run, but a micro-batch is bounded by the
token budget, so the call stops within one small run of being asked. The runtime never decides deadlines
itself: the handler builds the token from its settings, the Lambda context's remaining time, or a disconnect.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from edge_encoders.errors import DeadlineExceededError, RequestCancelledError


class StopToken:
    """Deadline (monotonic seconds) and a thread-safe cancel flag, checked with check()."""

    def __init__(self, deadline: float | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.deadline = deadline
        self._clock = clock
        self._cancelled = threading.Event()
        self._reason = ""

    @classmethod
    def after(cls, seconds: float | None, *, clock: Callable[[], float] = time.monotonic) -> StopToken:
        """A token whose deadline is `seconds` from now (None: no deadline)."""
        return cls(None if seconds is None else clock() + seconds, clock=clock)

    def cancel(self, reason: str = "the caller went away") -> None:
        self._reason = reason
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def remaining(self) -> float | None:
        """Seconds left before the deadline (may be negative), or None without one."""
        return None if self.deadline is None else self.deadline - self._clock()

    def check(self) -> None:
        """Raise RequestCancelledError or DeadlineExceededError if the work should stop now."""
        if self._cancelled.is_set():
            raise RequestCancelledError(f"stopped: {self._reason}")
        left = self.remaining()
        if left is not None and left <= 0:
            raise DeadlineExceededError("the request ran past its deadline and was stopped; send fewer inputs")
