"""BundleModel: what Embedder and Reranker share (a verified bundle, its session, batching and limits)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from edge_encoders.batching import BatchPolicy, plan_batches
from edge_encoders.bundle_loading import LoadedBundle, open_bundle, run_session
from edge_encoders.manifest import Manifest
from edge_encoders.request_checks import NO_LIMITS, Limits
from edge_encoders.session import SessionConfig
from edge_encoders.stop import StopToken
from edge_encoders.text_tokenizer import TextTokenizer, TokenBatch, TokenizerCache

DEFAULT_POLICY = BatchPolicy()

ModelT = TypeVar("ModelT", bound="BundleModel")


class BundleModel:
    """What Embedder and Reranker share: a verified bundle, its session, batching and limits.

    Plain constructor arguments, no environment lookups: the caller (the handler, a script) decides.
    """

    kind: ClassVar[str] = ""  # the family name (a manifest's `kind`), set by each subclass; see families/

    def __init__(
        self,
        bundle_dir: str | Path,
        *,
        session_config: SessionConfig | None = None,
        batch_policy: BatchPolicy = DEFAULT_POLICY,
        limits: Limits = NO_LIMITS,
        verify: bool = True,
        warmup: bool = False,
        tokenizers: TokenizerCache | None = None,
    ) -> None:
        """tokenizers: a cache shared by the models loaded together (one tokenizer object for equal ones)."""
        self._bundle: LoadedBundle = open_bundle(
            bundle_dir, expected_kind=self.kind, session_config=session_config, verify=verify, tokenizers=tokenizers
        )
        self.batch_policy = batch_policy
        self.limits = limits
        self._after_load()
        if warmup:
            self._warm_up()

    def _after_load(self) -> None:
        """Read what the subclass needs beside the session (e.g. calibration embeddings)."""

    def _warm_up(self) -> None:
        """One small inference, so the first real call does not pay for onnxruntime's lazy setup."""
        raise NotImplementedError

    @classmethod
    def from_bundle(cls: type[ModelT], bundle_dir: str | Path, **kwargs: Any) -> ModelT:
        """Load a bundle folder written by `make export` (kwargs: see __init__)."""
        return cls(bundle_dir, **kwargs)

    @property
    def manifest(self) -> Manifest:
        return self._bundle.manifest

    @property
    def variant(self) -> str:
        return self._bundle.variant

    @property
    def load_seconds(self) -> float:
        return self._bundle.load_seconds

    @property
    def tokenizer(self) -> TextTokenizer:
        """The bundle's tokenizer, configured from the manifest (truncation at max_seq_length, no padding)."""
        return self._bundle.tokenizer

    def _run_batches(
        self, encodings: list[Any], lengths: list[int], stop: StopToken | None = None
    ) -> Iterator[tuple[list[int], TokenBatch, np.ndarray]]:
        """Run the planned micro-batches: (input indices, padded tokens, model output) for each.

        `stop` is checked before each micro-batch: a cancelled or late call ends within one small run.
        """
        for indices in plan_batches(lengths, self.batch_policy):
            if stop is not None:
                stop.check()
            tokens = self._bundle.tokenizer.pad([encodings[i] for i in indices])
            yield indices, tokens, run_session(self._bundle, tokens.feeds(self.manifest.input_names))
