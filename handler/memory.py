"""Give freed memory back to the system after a large request.

Why: glibc's malloc keeps freed heap pages (and one arena per thread that ever allocated) for reuse, so a
process that once held a big request's strings, JSON and token arrays stays that large: measured here, RSS
stayed about 300 MB above its warm level after the hostile request set until malloc_trim(0) ran. Trimming costs
a few milliseconds, so it runs only after requests whose body was large. Not glibc (musl, macOS): a no-op.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable

log = logging.getLogger("handler")


def _libc() -> ctypes.CDLL | None:
    """The C library's symbols as this process already has them loaded (dlopen of the program itself).

    Not ctypes.util.find_library("c"): on Linux that runs `ldconfig -p` in a subprocess, measured 88 ms of a
    Lambda cold start on a busy host, at import time."""
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


def _load_trim() -> Callable[[int], int] | None:
    libc = _libc()
    if libc is None:
        return None
    try:
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    result: Callable[[int], int] = trim
    return result


_TRIM = _load_trim()
_M_ARENA_MAX = -8  # glibc mallopt parameter


def limit_arenas(count: int) -> bool:
    """Cap glibc's malloc arenas (one per thread by default, up to 8 x cores), as MALLOC_ARENA_MAX does.

    Under uvicorn every worker thread that touches a big request keeps its own arena of freed memory; measured
    under the soak (64 clients), RSS climbed by about 150 MB in a minute without a cap. Call before threads start.
    """
    libc = _libc()
    if libc is None:
        return False
    try:
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, count))


def release() -> bool:
    """Return free heap memory to the OS (glibc malloc_trim); False where that is not available."""
    if _TRIM is None:
        return False
    try:
        _TRIM(0)
    except Exception:  # never let housekeeping fail a request
        log.debug("malloc_trim failed", exc_info=True)
        return False
    return True
