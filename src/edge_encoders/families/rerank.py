"""The rerank family: cross-encoder relevance scores (the activation on the logit in the manifest)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge_encoders.errors import BundleError
from edge_encoders.families.base import Family
from edge_encoders.manifest import ACTIVATIONS, Manifest

if TYPE_CHECKING:
    from edge_encoders.reranker import Reranker


def check_fields(manifest: Manifest, where: str) -> None:
    """A rerank bundle says which activation turns its logit into a score."""
    if manifest.activation not in ACTIVATIONS:
        raise BundleError(f"{where}: activation must be one of {ACTIVATIONS}, got {manifest.activation!r}")


def load_model() -> type[Reranker]:
    """Imported here: it brings onnxruntime, which checking a manifest does not need."""
    from edge_encoders.reranker import Reranker

    return Reranker


RERANK: Family[Reranker] = Family(
    name="rerank",
    noun="reranking",
    check_fields=check_fields,
    public_fields=("activation",),
    load_model=load_model,
)
