"""The PyTorch reference: sentence-transformers (bi-encoder) or CrossEncoder outputs on the validation set.

Runs on CUDA when the build box has a GPU, otherwise on CPU; the device, torch version and GPU name go in
the manifest so a reader knows what "matches torch" was measured against.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def reference_device() -> dict[str, Any]:
    """The device the reference runs on, with what the manifest records about it."""
    import torch

    info: dict[str, Any] = {"torch": torch.__version__}
    if torch.cuda.is_available():
        info.update(device="cuda", gpu=torch.cuda.get_device_name(0), cuda=torch.version.cuda)
    else:
        info.update(device="cpu", gpu=None)
    return info


def reference_embeddings(model: Any, texts: list[str], batch_size: int = 32) -> np.ndarray:
    """sentence-transformers' own encode() (its pooling, normalization and default prompt)."""
    vectors = model.encode(texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)
    return np.asarray(vectors, dtype=np.float32)


def reference_scores(model: Any, pairs: list[tuple[str, str]], *, raw: bool, batch_size: int = 32) -> np.ndarray:
    """CrossEncoder.predict(): logits when raw, else with the model's own activation."""
    import torch

    kwargs: dict[str, Any] = {"activation_fn": torch.nn.Identity()} if raw else {}
    scores = model.predict(pairs, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False, **kwargs)
    return np.asarray(scores, dtype=np.float32)
