"""Overload control: a bounded admission count (429 past it), a per-request deadline, and stop on disconnect.

Why: one process has one compute slot (onnxruntime already uses every CPU for one call). Without a bound,
every request waits, however long, and a saturated server looks healthy. Here a compute request is admitted
only while fewer than slots + queue are inside (else 429 with Retry-After, before its body is read), waits for
a slot at most until its deadline (else 503), and stops at the next micro-batch when its deadline passes (504)
or its client disconnects. The deadline is the smaller of the configured request timeout and, under Lambda,
the invocation's remaining time less a margin, so the function answers JSON before Lambda kills it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import Any

from starlette.types import Message, Receive

from edge_encoders import StopToken
from handler.errors import ApiError
from handler.settings import Settings

# The running request's stop token: set by the middleware, read by handler.calls in the worker thread
# (contextvars follow Starlette's threadpool calls).
current_stop: ContextVar[StopToken | None] = ContextVar("edge_stop", default=None)


class Admission:
    """Counts the compute requests inside the process (waiting or running); refuses past the capacity."""

    def __init__(self, slots: int, queue: int) -> None:
        self.capacity = slots + queue
        self._inside = 0
        self._lock = threading.Lock()

    @property
    def inside(self) -> int:
        return self._inside

    @property
    def full(self) -> bool:
        return self._inside >= self.capacity

    def try_enter(self) -> bool:
        with self._lock:
            if self._inside >= self.capacity:
                return False
            self._inside += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self._inside -= 1


def overloaded(settings: Settings, inside: int) -> ApiError:
    """The 429 for a request that found the queue full."""
    return ApiError(
        429,
        "overloaded",
        f"the server is busy ({inside} requests in progress or queued); retry after {settings.retry_after_s} s",
        headers={"retry-after": str(settings.retry_after_s)},
    )


def request_deadline(settings: Settings, aws_context: Any) -> float | None:
    """Seconds this request may take: the request timeout, capped by Lambda's remaining time less a margin."""
    limits = []
    if settings.request_timeout_ms:
        limits.append(settings.request_timeout_ms / 1000)
    remaining = getattr(aws_context, "get_remaining_time_in_millis", None)
    if callable(remaining):
        try:
            left_ms = float(remaining())
        except Exception:  # a context without a usable clock: no Lambda deadline
            left_ms = None
        if left_ms is not None:
            limits.append(max(0.0, (left_ms - settings.lambda_margin_ms) / 1000))
    return min(limits) if limits else None


@contextlib.asynccontextmanager
async def watch_disconnect(receive: Receive, stop: StopToken) -> AsyncIterator[Receive]:
    """Yield a receive() for the app while a task listens for the client going away and cancels `stop`.

    Only this task reads the server's receive() once the body is in: the app's later calls get the same
    message, so the server never sees two readers.
    """

    async def listen() -> Message:
        message = await receive()
        if message.get("type") == "http.disconnect":
            stop.cancel("the client disconnected")
        return message

    task = asyncio.ensure_future(listen())

    async def app_receive() -> Message:
        return await asyncio.shield(task)

    try:
        yield app_receive
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
