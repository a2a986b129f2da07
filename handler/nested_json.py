"""Token vectors (inputs x tokens x hidden floats) to JSON under the response limit, with bounded memory.

Rendering them the way the other routes render (Python lists, then pydantic) costs tens of bytes of Python
objects per number: a few thousand tokens of 384 floats would take hundreds of MB before the size check could
refuse them. Here each token's vector is written as text straight from numpy (the shortest decimal that reads
back to the same float32, as calls.encode_rows writes), and writing stops as soon as the response limit is
passed.
"""

from __future__ import annotations

import numpy as np
from fastapi.responses import Response

from handler.calls import check_response_size
from handler.state import AppState


def _row_text(row: np.ndarray) -> str:
    if bool(np.isfinite(row).all()):
        return "[" + ",".join(row.astype(str).tolist()) + "]"
    return "[" + ",".join(str(x) if np.isfinite(x) else "null" for x in row.tolist()) + "]"  # JSON has no NaN


def render_token_vectors(state: AppState, rows: list[np.ndarray], what: str) -> Response:
    """[[[float, ...] per token] per input] as one JSON body; 413 response_too_large once it passes the limit."""
    limit = state.settings.max_response_bytes
    total_tokens = sum(len(r) for r in rows)
    parts: list[str] = []
    size = 2  # the outer brackets
    done_tokens = 0
    for index, matrix in enumerate(rows):
        tokens = [_row_text(token) for token in np.asarray(matrix, dtype=np.float32)]
        text = "[" + ",".join(tokens) + "]"
        size += len(text) + (1 if index else 0)
        done_tokens += len(tokens)
        if limit and size > limit:  # the whole answer would be about this much larger than what is written
            estimate = size * max(total_tokens, 1) // max(done_tokens, 1)
            check_response_size(state, max(estimate, size), len(rows), what)
        parts.append(text)
    return Response(("[" + ",".join(parts) + "]").encode(), media_type="application/json")
