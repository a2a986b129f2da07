"""The embed family: sentence embeddings (pooling, normalization, prompts and calibration in the manifest)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge_encoders.errors import BundleError
from edge_encoders.families.base import Family
from edge_encoders.manifest import POOLING_MODES, Manifest

if TYPE_CHECKING:
    from edge_encoders.embedder import Embedder


def check_fields(manifest: Manifest, where: str) -> None:
    """An embed bundle says how to pool and how long its vectors are."""
    if manifest.pooling not in POOLING_MODES:
        raise BundleError(f"{where}: pooling must be one of {POOLING_MODES}, got {manifest.pooling!r}")
    if not manifest.dimension or manifest.dimension <= 0:
        raise BundleError(f"{where}: embed bundles need a positive dimension")


def load_model() -> type[Embedder]:
    """Imported here: it brings onnxruntime, which checking a manifest does not need."""
    from edge_encoders.embedder import Embedder

    return Embedder


EMBED: Family[Embedder] = Family(
    name="embed",
    noun="embedding",
    check_fields=check_fields,
    public_fields=("dimension", "pooling", "normalize", "prompts"),
    load_model=load_model,
)
