"""Reranker: cross-encoder relevance scores from a rerank bundle, as sentence-transformers' CrossEncoder does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_encoders.batching import BatchPolicy, plan_batches
from edge_encoders.bundle import (
    DEFAULT_POLICY,
    NO_LIMITS,
    Limits,
    check_count,
    check_texts,
    check_tokens,
    open_bundle,
    run_session,
)
from edge_encoders.errors import InvalidArgumentError
from edge_encoders.manifest import Manifest
from edge_encoders.session import SessionConfig
from edge_encoders.text_tokenizer import TextTokenizer


@dataclass
class RerankHit:
    """One document's place in the ranking; `index` points into the documents as given."""

    index: int
    score: float
    document: str | None = None


@dataclass
class RerankResult:
    hits: list[RerankHit]
    token_counts: list[int]

    @property
    def total_tokens(self) -> int:
        return sum(self.token_counts)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Overflow-free logistic: exp() only ever sees non-positive arguments."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(np.float32)


class Reranker:
    """Serve a rerank bundle; construct with from_bundle()."""

    def __init__(
        self,
        bundle_dir: str | Path,
        *,
        session_config: SessionConfig | None = None,
        batch_policy: BatchPolicy = DEFAULT_POLICY,
        limits: Limits = NO_LIMITS,
        verify: bool = True,
        warmup: bool = False,
    ) -> None:
        self._bundle = open_bundle(bundle_dir, expected_kind="rerank", session_config=session_config, verify=verify)
        self.batch_policy = batch_policy
        self.limits = limits
        if warmup:
            self.score([("warm", "up")])

    @classmethod
    def from_bundle(cls, bundle_dir: str | Path, **kwargs: object) -> Reranker:
        """Load a bundle folder written by `make export` (kwargs: see __init__)."""
        return cls(bundle_dir, **kwargs)  # type: ignore[arg-type]

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

    def score(self, pairs: list[tuple[str, str]], *, raw_scores: bool = False, truncate: bool = True) -> np.ndarray:
        """Scores of (query, document) pairs, in input order: (n,) for one label, (n, num_labels) otherwise."""
        return self._score(pairs, raw_scores=raw_scores, truncate=truncate, limits=self.limits)[0]

    def rerank(
        self,
        query: str,
        documents: list[str],
        *,
        top_n: int | None = None,
        return_documents: bool = False,
        raw_scores: bool = False,
        truncate: bool = True,
    ) -> list[RerankHit]:
        """Documents ranked best first (ties keep input order); top_n keeps the best n."""
        return self.rerank_with_usage(
            query,
            documents,
            top_n=top_n,
            return_documents=return_documents,
            raw_scores=raw_scores,
            truncate=truncate,
        ).hits

    def rerank_with_usage(
        self,
        query: str,
        documents: list[str],
        *,
        top_n: int | None = None,
        return_documents: bool = False,
        raw_scores: bool = False,
        truncate: bool = True,
        limits: Limits | None = None,
    ) -> RerankResult:
        """rerank(), also returning per-document token counts; `limits` overrides the instance's for this call."""
        limits = limits or self.limits
        if not isinstance(query, str):
            raise InvalidArgumentError("query must be a string")
        if top_n is not None and (not isinstance(top_n, int) or top_n < 1):
            raise InvalidArgumentError(f"top_n must be a positive integer; got {top_n!r}")
        check_count(len(documents), limits, "documents")
        check_texts(documents, "document")
        scores, counts = self._score(
            [(query, d) for d in documents], raw_scores=raw_scores, truncate=truncate, limits=limits
        )
        if scores.ndim != 1:
            raise InvalidArgumentError(
                f"this model has {self.manifest.num_labels} labels; ranking needs a single relevance score"
            )
        order = sorted(range(len(documents)), key=lambda i: (-float(scores[i]), i))
        if top_n is not None:
            order = order[:top_n]
        hits = [
            RerankHit(index=i, score=float(scores[i]), document=documents[i] if return_documents else None)
            for i in order
        ]
        return RerankResult(hits, counts)

    def _score(
        self, pairs: list[tuple[str, str]], *, raw_scores: bool, truncate: bool, limits: Limits
    ) -> tuple[np.ndarray, list[int]]:
        check_count(len(pairs), limits, "pairs")
        bundle = self._bundle
        encodings = bundle.tokenizer.encode_pairs(pairs, truncate=truncate)
        lengths = [len(e.ids) for e in encodings]
        check_tokens(lengths, limits, "documents")
        labels = self.manifest.num_labels or 1
        logits = np.empty((len(pairs), labels), dtype=np.float32)
        for indices in plan_batches(lengths, self.batch_policy):
            tokens = bundle.tokenizer.pad([encodings[i] for i in indices])
            out = run_session(bundle, tokens.feeds(self.manifest.input_names))
            logits[indices] = out.reshape(len(indices), -1)
        scores = logits if raw_scores or self.manifest.activation == "identity" else _sigmoid(logits)
        return (scores[:, 0] if labels == 1 else scores), lengths
