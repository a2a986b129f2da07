"""Vectors to JSON: number lists, or base64 of the raw little-endian bytes (OpenAI's encoding_format=base64)."""

from __future__ import annotations

import base64

import numpy as np


def encode_rows(matrix: np.ndarray, encoding_format: str) -> list[list[float] | list[int] | str]:
    """One entry per row; float32 rows as their shortest exact decimal form (about half the bytes of repr)."""
    if encoding_format == "base64":
        dtype = matrix.dtype.newbyteorder("<")
        data = np.ascontiguousarray(matrix, dtype=dtype)
        return [base64.b64encode(row.tobytes()).decode("ascii") for row in data]
    if matrix.dtype == np.float32:
        # numpy's str() of a float32 is the shortest string that reads back to the same float32
        return [[float(x) for x in row] for row in matrix.astype(str)]
    rows: list[list[int]] = matrix.tolist()  # int8/uint8/binary precisions: plain integers
    return list(rows)
