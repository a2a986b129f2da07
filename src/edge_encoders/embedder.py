"""Embedder: sentence embeddings from an embed bundle, as sentence-transformers' encode() computes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_encoders.bundle_model import BundleModel
from edge_encoders.errors import InvalidArgumentError
from edge_encoders.families.embed import EMBED
from edge_encoders.pooling import normalize as l2_normalize
from edge_encoders.pooling import pool
from edge_encoders.precision import PRECISIONS, Precision, quantize, ranges_from
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
class EmbedResult:
    """Vectors in input order plus the tokens each input used (after truncation), for usage reporting."""

    embeddings: np.ndarray
    token_counts: list[int]

    @property
    def total_tokens(self) -> int:
        return sum(self.token_counts)


@dataclass
class TokenEmbedResult:
    """The model's output for every token of each input, before pooling: one (tokens, hidden) float32 array per
    input, in input order, special and prompt tokens included, padding excluded (TEI's /embed_all)."""

    token_embeddings: list[np.ndarray]
    token_counts: list[int]

    @property
    def total_tokens(self) -> int:
        return sum(self.token_counts)


class Embedder(BundleModel):
    """Serve an embed bundle; construct with from_bundle()."""

    kind = EMBED.name

    def _after_load(self) -> None:
        manifest = self._bundle.manifest
        self._calibration: np.ndarray | None = None
        if manifest.calibration_file:
            self._calibration = np.load(self._bundle.path / manifest.calibration_file).astype(np.float32)

    def _warm_up(self) -> None:
        self.embed(["warm up"])

    @property
    def dimension(self) -> int:
        assert self.manifest.dimension is not None
        return self.manifest.dimension

    def embed(
        self,
        texts: list[str] | str,
        *,
        prompt_name: str | None = None,
        prompt: str | None = None,
        dimensions: int | None = None,
        normalize: bool | None = None,
        precision: Precision = "float32",
        truncate: bool = True,
    ) -> np.ndarray:
        """Embed texts (a str is one text); returns (n, dimensions) in the requested precision."""
        return self.embed_with_usage(
            texts,
            prompt_name=prompt_name,
            prompt=prompt,
            dimensions=dimensions,
            normalize=normalize,
            precision=precision,
            truncate=truncate,
        ).embeddings

    def embed_with_usage(
        self,
        texts: list[str] | str,
        *,
        prompt_name: str | None = None,
        prompt: str | None = None,
        dimensions: int | None = None,
        normalize: bool | None = None,
        precision: Precision = "float32",
        truncate: bool = True,
        limits: Limits | None = None,
        stop: StopToken | None = None,
        what: str = "inputs",
    ) -> EmbedResult:
        """embed(), also returning per-input token counts; `limits` overrides the instance's for this call.

        `what` is the inputs' name in the caller's terms (a request's field), used in limit errors.

        `stop` (a deadline or cancel flag) is checked after tokenizing and before every micro-batch.
        """
        limits = limits or self.limits
        batch = [texts] if isinstance(texts, str) else list(texts)
        check_count(len(batch), limits, what)
        check_texts(batch, "input")
        if precision not in PRECISIONS:
            raise InvalidArgumentError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
        dims = self._check_dimensions(dimensions)
        prefix = self.prompt_text(prompt_name, prompt)
        check_unicode(prefix, "prompt")
        do_normalize = self.manifest.normalize if normalize is None else normalize

        encodings, lengths = self._tokenize(batch, prefix, truncate, limits, what)
        pooled = self._forward(encodings, lengths, stop)
        vectors = self._finish(pooled, dims, do_normalize)
        if precision in ("int8", "uint8"):
            ranges = self._ranges(dims, do_normalize)
            out = quantize(vectors, precision, ranges)
        else:
            out = quantize(vectors, precision)
        return EmbedResult(out, lengths)

    def token_embeddings_with_usage(
        self,
        texts: list[str] | str,
        *,
        prompt_name: str | None = None,
        prompt: str | None = None,
        truncate: bool = True,
        limits: Limits | None = None,
        stop: StopToken | None = None,
        what: str = "inputs",
    ) -> TokenEmbedResult:
        """Every token's vector before pooling (the bundle's output), for late interaction or custom pooling.

        Same tokenization, limits and stop checks as embed_with_usage. The answer holds tokens x hidden floats
        per input (MiniLM: 384 per token), so callers that serialize it bound the tokens by their response
        size through `limits.max_tokens`, which is checked before inference.
        """
        limits = limits or self.limits
        batch = [texts] if isinstance(texts, str) else list(texts)
        check_count(len(batch), limits, what)
        check_texts(batch, "input")
        prefix = self.prompt_text(prompt_name, prompt)
        check_unicode(prefix, "prompt")
        encodings, lengths = self._tokenize(batch, prefix, truncate, limits, what)
        rows: list[np.ndarray] = [np.empty((0, 0), dtype=np.float32)] * len(batch)
        for indices, _tokens, hidden in self._run_batches(encodings, lengths, stop):
            for position, index in enumerate(indices):  # right padding: a row's real tokens come first
                rows[index] = np.array(hidden[position, : lengths[index]], dtype=np.float32)
        return TokenEmbedResult(rows, lengths)

    def _tokenize(
        self, batch: list[str], prefix: str, truncate: bool, limits: Limits, what: str
    ) -> tuple[list[Any], list[int]]:
        """Encodings and their lengths, the token limit checked on a cheap lower bound first, then exactly.

        Without a token limit the lower-bound scan is skipped: it could refuse nothing.
        """
        if limits.max_tokens is not None:
            check_tokens_before(self.tokenizer.kept_lower_bound(batch, head=prefix), limits, what)
        encodings = self.tokenizer.encode(batch, truncate=truncate, head=prefix, max_chars=limits.max_scan_chars)
        lengths = [len(e) for e in encodings]
        check_tokens(lengths, limits, what)
        return encodings, lengths

    def _forward(self, encodings: list, lengths: list[int], stop: StopToken | None = None) -> np.ndarray:
        pooled = np.empty((len(encodings), self.dimension), dtype=np.float32)
        assert self.manifest.pooling is not None
        for indices, tokens, hidden in self._run_batches(encodings, lengths, stop):
            pooled[indices] = pool(hidden, tokens.attention_mask, self.manifest.pooling)
        return pooled

    def _finish(self, pooled: np.ndarray, dims: int, do_normalize: bool) -> np.ndarray:
        """Normalize as the model does, then matryoshka-truncate and renormalize if the model normalizes."""
        vectors = l2_normalize(pooled) if do_normalize else pooled
        if dims < vectors.shape[1]:
            vectors = vectors[:, :dims]
            if do_normalize:
                vectors = l2_normalize(vectors)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _ranges(self, dims: int, do_normalize: bool) -> np.ndarray:
        if self._calibration is None:
            raise InvalidArgumentError("this bundle carries no calibration embeddings: int8/uint8 unavailable")
        return ranges_from(self._finish(self._calibration, dims, do_normalize))

    def _check_dimensions(self, dimensions: int | None) -> int:
        if dimensions is None:
            return self.dimension
        if not isinstance(dimensions, int) or dimensions < 1 or dimensions > self.dimension:
            raise InvalidArgumentError(f"dimensions must be between 1 and {self.dimension}; got {dimensions!r}")
        return dimensions

    def prompt_text(self, prompt_name: str | None = None, prompt: str | None = None) -> str:
        """The text prepended to each input: `prompt` as given, else the named (or default) manifest prompt.

        Callers that budget tokens before embedding (dialect truncation, the bulk worker) resolve it here too, so
        their length checks see exactly the prefix the embedder will add.
        """
        if prompt is not None and prompt_name is not None:
            raise InvalidArgumentError("give prompt_name or prompt, not both")
        if prompt is not None:
            return prompt
        name = prompt_name if prompt_name is not None else self.manifest.default_prompt_name
        if name is None:
            return ""
        try:
            return self.manifest.prompts[name]
        except KeyError:
            known = ", ".join(sorted(self.manifest.prompts)) or "none"
            raise InvalidArgumentError(f"unknown prompt_name {name!r}; this model has: {known}") from None
