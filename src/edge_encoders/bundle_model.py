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
from edge_encoders.scheduling import MicroBatchRunner, RunPlan, tokens_in_flight
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
        self._runner = MicroBatchRunner(self._bundle.run_plan.workers)
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
    def run_plan(self) -> RunPlan:
        """How this model runs a call's micro-batches (mode, how many at once, threads per run)."""
        return self._bundle.run_plan

    @property
    def tokens_in_flight(self) -> int:
        """Padded tokens one call may hold in micro-batches at once: what its activation memory scales with."""
        return tokens_in_flight(self.batch_policy.token_budget, self.run_plan.workers)

    @property
    def tokenizer(self) -> TextTokenizer:
        """The bundle's tokenizer, configured from the manifest (truncation at max_seq_length, no padding)."""
        return self._bundle.tokenizer

    def _run_batches(
        self, encodings: list[Any], lengths: list[int], stop: StopToken | None = None
    ) -> Iterator[tuple[list[int], TokenBatch, np.ndarray]]:
        """Run the planned micro-batches: (input indices, padded tokens, model output) for each, in plan order
        when they run one after another, else as they complete (the run plan's mode; the outputs are the same).

        `stop` is checked before each micro-batch: a cancelled or late call ends within one small run.
        """

        def run(indices: list[int]) -> tuple[TokenBatch, np.ndarray]:
            tokens = self._bundle.tokenizer.pad([encodings[i] for i in indices])
            return tokens, run_session(self._bundle, tokens.feeds(self.manifest.input_names))

        for indices, (tokens, output) in self._runner.run(list(plan_batches(lengths, self.batch_policy)), run, stop):
            yield indices, tokens, output
