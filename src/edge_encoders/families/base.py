"""What a model family is to the runtime: its manifest rules, its model class, what /info shows of it.

A family is named by the manifest's `kind` field (the build writes it). Everything that differs between
families lives in the family's own module (embed.py, rerank.py), so the code that loads, validates and
describes bundles loops over the registry instead of comparing names.

This package imports neither onnxruntime nor tokenizers: manifest validation runs through it, also where
only the manifest is checked (scripts/check_bundles.py at image build, possibly under qemu). The model class
is imported when a model is loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from edge_encoders.bundle_model import BundleModel
    from edge_encoders.manifest import Manifest

ModelT = TypeVar("ModelT", bound="BundleModel")


@dataclass(frozen=True)
class Family(Generic[ModelT]):
    """One model family: `Family[Embedder]` makes `models.get(EMBED)` an `Embedder` for the type checker."""

    name: str  # the manifest's `kind`; also the key of settings (EDGE_<NAME>_BUNDLE) and of /info's models
    noun: str  # what a client reads in messages: "embedding" -> "the embedding model"
    check_fields: Callable[[Manifest, str], None]  # raise BundleError(where: ...) for a missing/bad field
    public_fields: tuple[str, ...]  # manifest fields /info shows for this family (others stay empty)
    load_model: Callable[[], type[ModelT]]  # the class serving this family's bundles, imported on first use

    @property
    def model(self) -> type[ModelT]:
        """The model class (Embedder, Reranker, ...): its `kind` is this family's name."""
        return self.load_model()

    @property
    def what(self) -> str:
        """The model as a client's message names it, e.g. "embedding model"."""
        return f"{self.noun} model"
