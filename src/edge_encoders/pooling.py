"""Pooling and normalization in numpy, matching sentence-transformers' Pooling and Normalize modules."""

from __future__ import annotations

import numpy as np


def pool(token_embeddings: np.ndarray, attention_mask: np.ndarray, mode: str) -> np.ndarray:
    """(batch, seq, hidden) -> (batch, hidden) the way sentence_transformers.models.Pooling does it."""
    if mode == "cls":
        return token_embeddings[:, 0]
    mask = attention_mask.astype(token_embeddings.dtype)
    if mode == "mean":
        summed = np.einsum("bsh,bs->bh", token_embeddings, mask)
        counts = np.clip(mask.sum(axis=1, keepdims=True), 1e-9, None)
        return summed / counts
    if mode == "lasttoken":
        # right padding: the last real token sits at (number of real tokens - 1)
        last = np.clip(attention_mask.sum(axis=1) - 1, 0, None)
        return token_embeddings[np.arange(token_embeddings.shape[0]), last]
    raise ValueError(f"unknown pooling mode {mode!r}")


def normalize(vectors: np.ndarray) -> np.ndarray:
    """L2-normalize rows with torch.nn.functional.normalize's eps (1e-12)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
