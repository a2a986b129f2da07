"""Where the PyTorch reference runs (each family's reference() makes its sentence-transformers call there).

Runs on CUDA when the build box has a GPU, otherwise on CPU; the device, torch version and GPU name go in
the manifest so a reader knows what "matches torch" was measured against.
"""

from __future__ import annotations

from typing import Any


def reference_device() -> dict[str, Any]:
    """The device the reference runs on, with what the manifest records about it."""
    import torch

    info: dict[str, Any] = {"torch": torch.__version__}
    if torch.cuda.is_available():
        info.update(device="cuda", gpu=torch.cuda.get_device_name(0), cuda=torch.version.cuda)
    else:
        info.update(device="cpu", gpu=None)
    return info
