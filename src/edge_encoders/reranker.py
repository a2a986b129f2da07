"""Reranker: cross-encoder relevance scores from a rerank bundle, as sentence-transformers' CrossEncoder does."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_encoders.bundle_model import BundleModel
from edge_encoders.errors import InputError, InvalidArgumentError
from edge_encoders.families.rerank import RERANK
from edge_encoders.request_checks import (
    Limits,
    check_count,
    check_texts,
    check_tokens,
    check_tokens_before,
    check_unicode,
)
from edge_encoders.stop import StopToken


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


class Reranker(BundleModel):
    """Serve a rerank bundle; construct with from_bundle()."""

    kind = RERANK.name

    def _warm_up(self) -> None:
        self.score([("warm", "up")])

    def score(
        self,
        pairs: list[tuple[str, str]],
        *,
        raw_scores: bool = False,
        truncate: bool = True,
        stop: StopToken | None = None,
    ) -> np.ndarray:
        """Scores of (query, document) pairs, in input order: (n,) for one label, (n, num_labels) otherwise."""
        check_count(len(pairs), self.limits, "pairs")
        for index, pair in enumerate(pairs):
            for side, text in zip(("query", "document"), pair, strict=True):
                if not isinstance(text, str):
                    raise InputError(f"pair {index}'s {side} is {type(text).__name__}, expected a string")
                check_unicode(text, f"pair {index}'s {side}")
        return self._score(
            pairs, raw_scores=raw_scores, truncate=truncate, limits=self.limits, what="pairs", stop=stop
        )[0]

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
        stop: StopToken | None = None,
        what: str = "documents",
    ) -> RerankResult:
        """rerank(), also returning per-document token counts; `limits` overrides the instance's for this call.

        `what` is the documents' name in the caller's terms (a request's field), used in limit errors.

        Counts are checked before any text is looked at; the query is tokenized once, only as far as a pair keeps
        it; `stop` is checked before every micro-batch.
        """
        limits = limits or self.limits
        if not isinstance(query, str):
            raise InvalidArgumentError("query must be a string")
        if top_n is not None and (not isinstance(top_n, int) or top_n < 1):
            raise InvalidArgumentError(f"top_n must be a positive integer; got {top_n!r}")
        check_count(len(documents), limits, what)
        check_unicode(query, "query")
        check_texts(documents, "document")
        check_tokens_before(self.tokenizer.pair_kept_lower_bound(query, documents), limits, what)
        scores, counts = self._score(
            [(query, d) for d in documents],
            raw_scores=raw_scores,
            truncate=truncate,
            limits=limits,
            what=what,
            stop=stop,
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
        self,
        pairs: list[tuple[str, str]],
        *,
        raw_scores: bool,
        truncate: bool,
        limits: Limits,
        what: str,
        stop: StopToken | None = None,
    ) -> tuple[np.ndarray, list[int]]:
        """Token-checked once, under the caller's name for the inputs (documents or pairs); counted by the caller."""
        encodings = self.tokenizer.encode_pairs(pairs, truncate=truncate, max_chars=limits.max_scan_chars)
        lengths = [len(e.ids) for e in encodings]
        check_tokens(lengths, limits, what)
        labels = self.manifest.num_labels or 1
        logits = np.empty((len(pairs), labels), dtype=np.float32)
        for indices, _tokens, out in self._run_batches(encodings, lengths, stop):
            logits[indices] = out.reshape(len(indices), -1)
        scores = logits if raw_scores or self.manifest.activation == "identity" else _sigmoid(logits)
        return (scores[:, 0] if labels == 1 else scores), lengths
