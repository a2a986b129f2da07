"""The response-size limit: past it, 413 with a message that says how to split the request.

Inputs and tokens per request are the runtime's limits (max_inputs before any text is read, max_tokens on a
lower bound before tokenizing and exactly before inference); the response size is checked here, after
rendering, since Lambda refuses a response over 6 MB with an opaque error.
"""

from __future__ import annotations

from handler.errors import ApiError
from handler.settings import Settings


def check_response(size: int, count: int, settings: Settings, what: str, hint: str = "") -> None:
    limit = settings.max_response_bytes
    if limit and size > limit:
        per_request = max(1, count * limit // size)
        raise ApiError(
            413,
            "response_too_large",
            f"the response would be {size} bytes, over the limit of {limit}; split the request into "
            f"requests of about {per_request} {what} or fewer{hint}",
        )
