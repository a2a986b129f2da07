"""Opening a bundle: manifest, digests, tokenizer and onnxruntime session, shared by Embedder and Reranker."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import onnxruntime as ort

from edge_encoders import load_cache
from edge_encoders.batching import BatchPolicy, plan_batches
from edge_encoders.errors import (
    BundleError,
    EmptyInputError,
    InputError,
    InvalidTextError,
    TooManyInputsError,
    TooManyTokensError,
)
from edge_encoders.manifest import Manifest, read_manifest, verify_files
from edge_encoders.session import SessionConfig, create_session, run_options
from edge_encoders.stop import StopToken
from edge_encoders.text_tokenizer import TextTokenizer, TokenBatch

log = logging.getLogger("edge_encoders")


@dataclass(frozen=True)
class Limits:
    """Per-call ceilings, refused before inference with advice on how to split (None: no limit)."""

    max_inputs: int | None = None
    max_tokens: int | None = None  # after truncation, summed over the call's inputs
    # Never tokenize more than this many characters of one input (UnboundedInputError past it): bounds the
    # work of inputs with no token boundary (one 6 MB word, a whitespace run). None: tokenize what it takes.
    max_scan_chars: int | None = None


NO_LIMITS = Limits()


@dataclass
class LoadedBundle:
    """What every model class needs from a bundle folder, verified."""

    path: Path
    manifest: Manifest
    variant: str
    model_file: str
    tokenizer: TextTokenizer
    session: ort.InferenceSession
    load_seconds: float
    extra: dict[str, Path] = field(default_factory=dict)
    run_options: ort.RunOptions | None = None


def open_bundle(
    bundle_dir: str | Path,
    *,
    expected_kind: str,
    session_config: SessionConfig | None = None,
    verify: bool = True,
    machine: str | None = None,
) -> LoadedBundle:
    """Read the manifest, verify the files this process will load, open tokenizer and session."""
    started = time.perf_counter()
    path = Path(bundle_dir)
    manifest = read_manifest(path)
    # The one comparison of family names outside the registry: does the bundle match the class opening it.
    if manifest.kind != expected_kind:
        raise BundleError(f"{path} is a {manifest.kind!r} bundle, expected {expected_kind!r}")
    variant, model_file = manifest.model_for_machine(machine)
    needed = [model_file, manifest.tokenizer_file]
    if manifest.calibration_file:
        needed.append(manifest.calibration_file)
    if verify:
        verify_files(path, manifest, needed)
    tokenizer = TextTokenizer(path / manifest.tokenizer_file, manifest.max_seq_length)
    optimized = load_cache.find(path, manifest, model_file, verify=verify)
    if optimized is not None:  # optimized at image build: skip onnxruntime's graph optimization now
        config = replace(session_config or SessionConfig(), graph_optimization="disabled")
        session = create_session(optimized, config)
    else:
        session = create_session(path / model_file, session_config)
    graph_inputs = {i.name for i in session.get_inputs()}
    missing = [name for name in manifest.input_names if name not in graph_inputs]
    if missing:
        raise BundleError(f"{path}/{model_file}: graph has no input(s) {missing} named in the manifest")
    if manifest.output_name not in {o.name for o in session.get_outputs()}:
        raise BundleError(f"{path}/{model_file}: graph has no output {manifest.output_name!r}")
    seconds = time.perf_counter() - started
    log.info("loaded %s bundle %s (variant %s) in %.3f s", manifest.kind, path, variant, seconds)
    return LoadedBundle(
        path, manifest, variant, model_file, tokenizer, session, seconds, run_options=run_options(session_config)
    )


def check_count(count: int, limits: Limits, what: str) -> None:
    """Empty and over-limit requests are refused before any work is done."""
    max_inputs = limits.max_inputs
    if count == 0:
        raise EmptyInputError(f"no {what} given: send at least one")
    if max_inputs is not None and count > max_inputs:
        raise TooManyInputsError(
            f"{count} {what} in one call, over the limit of {max_inputs}; split them into "
            f"{-(-count // max_inputs)} calls of at most {max_inputs} {what}"
        )


def check_tokens(lengths: list[int], limits: Limits, what: str) -> None:
    """Refuse a call whose tokens (after truncation) exceed the limit, before any inference runs."""
    max_tokens = limits.max_tokens
    total = sum(lengths)
    if max_tokens is not None and total > max_tokens:
        per_call = max(1, len(lengths) * max_tokens // total)
        raise TooManyTokensError(
            f"{total} tokens (after truncation) in one call, over the limit of {max_tokens}; split the "
            f"request into calls of about {per_call} {what} or fewer",
            total=total,
            limit=max_tokens,
        )


def check_tokens_before(bounds: list[int] | None, limits: Limits, what: str) -> None:
    """The token limit checked on lower bounds from a cheap scan, before anything is tokenized."""
    if bounds is None or limits.max_tokens is None:
        return
    total = sum(bounds)
    if total > limits.max_tokens:
        per_call = max(1, len(bounds) * limits.max_tokens // total)
        raise TooManyTokensError(
            f"at least {total} tokens (after truncation) in one call, over the limit of {limits.max_tokens}; "
            f"split the request into calls of about {per_call} {what} or fewer",
            total=total,
            limit=limits.max_tokens,
        )


def check_texts(texts: list[str], what: str) -> None:
    """Every input must be a string of valid Unicode; empty strings are allowed (they embed as [CLS][SEP])."""
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputError(f"{what} {index} is {type(text).__name__}, expected a string")
        check_unicode(text, what, index)


_SURROGATE = re.compile("[\ud800-\udfff]")


def check_unicode(text: str, what: str, index: int | None = None) -> None:
    """Refuse a lone surrogate (tokenizers raise TypeError on one): the client's error, named, not ours."""
    if text.isascii():
        return
    found = _SURROGATE.search(text)
    if found is None:
        return
    where = what if index is None else f"{what} {index}"
    position = found.start()
    raise InvalidTextError(
        f"{where} is not valid Unicode: a lone surrogate (U+{ord(found.group()):04X}) at character {position}; "
        "send UTF-8 text (an emoji as the character itself or as a surrogate pair)",
        field=what,
        index=index,
        position=position,
    )


def run_session(bundle: LoadedBundle, feeds: dict[str, np.ndarray]) -> np.ndarray:
    """One onnxruntime call returning the manifest's output."""
    (output,) = bundle.session.run([bundle.manifest.output_name], feeds, bundle.run_options)
    return np.asarray(output)


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
    ) -> None:
        self._bundle = open_bundle(bundle_dir, expected_kind=self.kind, session_config=session_config, verify=verify)
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
