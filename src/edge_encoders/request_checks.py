"""What a call may ask for, checked before any work: input count, tokens, valid text (the per-call Limits)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from edge_encoders.errors import (
    EmptyInputError,
    InputError,
    InvalidTextError,
    TooManyInputsError,
    TooManyTokensError,
)


@dataclass(frozen=True)
class Limits:
    """Per-call ceilings, refused before inference with advice on how to split (None: no limit)."""

    max_inputs: int | None = None
    max_tokens: int | None = None  # after truncation, summed over the call's inputs
    # Never tokenize more than this many characters of one input (UnboundedInputError past it): bounds the
    # work of inputs with no token boundary (one 6 MB word, a whitespace run). None: tokenize what it takes.
    max_scan_chars: int | None = None


NO_LIMITS = Limits()


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
