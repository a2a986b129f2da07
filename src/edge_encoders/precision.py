"""Output precisions with the meaning of sentence_transformers.quantize_embeddings.

int8/uint8 need per-dimension ranges; they come from calibration embeddings the build stores in the bundle,
processed exactly like the request (same dimensions), so a truncated matryoshka vector gets ranges of its own.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np

Precision = Literal["float32", "int8", "uint8", "binary", "ubinary"]
PRECISIONS: tuple[str, ...] = get_args(Precision)


def ranges_from(calibration: np.ndarray) -> np.ndarray:
    """(2, dim) min/max per dimension of calibration embeddings."""
    return np.vstack((calibration.min(axis=0), calibration.max(axis=0)))


def quantize(embeddings: np.ndarray, precision: str, ranges: np.ndarray | None = None) -> np.ndarray:
    """Convert float32 embeddings to the requested precision."""
    if precision == "float32":
        return embeddings.astype(np.float32, copy=False)
    if precision in ("int8", "uint8"):
        if ranges is None:
            raise ValueError(f"{precision} needs calibration ranges")
        starts = ranges[0, :]
        steps = (ranges[1, :] - ranges[0, :]) / 255
        steps = np.where(steps == 0, 1, steps)
        buckets = np.clip(np.floor((embeddings - starts) / steps), 0, 255)
        if precision == "uint8":
            return buckets.astype(np.uint8)
        return (buckets - 128).astype(np.int8)
    if precision == "binary":
        packed = np.packbits(embeddings > 0, axis=-1).reshape(embeddings.shape[0], -1)
        return (packed.astype(np.int16) - 128).astype(np.int8)
    if precision == "ubinary":
        return np.packbits(embeddings > 0, axis=-1).reshape(embeddings.shape[0], -1)
    raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
