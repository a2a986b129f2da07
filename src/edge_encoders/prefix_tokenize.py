"""Tokenize only as much of a text as truncation will keep, with exactly the tokens whole-text tokenization keeps.

Why: truncation keeps at most max_seq_length tokens, but tokenizers cut *after* tokenizing everything, so one
6 MB string cost seconds and a gigabyte to keep 256 tokens, and a long rerank query was tokenized once per
document. Here a text is tokenized by prefixes and the result is provably the same as the whole text's.

Why it is exact: the tokenizers we accept split text into pre-tokens at whitespace (and, for BERT's normalizer,
around CJK ideographs) and tokenize each pre-token on its own, with normalizers that act on single characters.
A token that ends at or before such a boundary therefore depends only on the text before it: the first tokens of
``text[:c]`` that end at or before the last boundary inside ``text[:c]`` are the first tokens of the whole text.
We tokenize a prefix, keep those stable tokens, and grow the prefix (x4) until enough are stable or the prefix
is the whole text. Tokenizers whose normalizer, pre-tokenizer, model or added tokens fall outside that argument
are tokenized whole: exact, only not bounded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tokenizers import Encoding, Tokenizer

from edge_encoders.errors import UnboundedInputError

# Normalizers that map characters one by one (or per combining sequence), never across a space.
_LOCAL_NORMALIZERS = {"BertNormalizer", "Lowercase", "NFC", "NFD", "NFKC", "NFKD", "StripAccents", "Prepend"}
_MODELS = {"WordPiece", "BPE", "Unigram", "WordLevel"}
# CJK ideograph blocks BERT's normalizer surrounds with spaces (a subset of its list is enough: fewer boundaries)
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# A run of characters other than the four ASCII spaces, starting at its first letter or digit: one per run.
_WORD = re.compile(r"[^\W_][^ \t\n\r]*")
_FIRST_CHARS_PER_TOKEN = 8  # first prefix: this many characters per wanted token (English is about 4-5)
_GROWTH = 4


@dataclass(frozen=True)
class BoundaryRule:
    """Where a tokenizer's pre-tokens provably end, found by searching the reversed text.

    ``pattern`` matches a boundary character in the reversed text; for byte-level and metaspace tokenizers a
    space only counts where it starts a whitespace run (it is glued to the next word), hence the lookahead.
    """

    pattern: re.Pattern[str]

    def last(self, text: str) -> int:
        """Index of the last boundary character in text, or -1."""
        match = self.pattern.search(text[::-1])
        return -1 if match is None else len(text) - 1 - match.start()


def rule_for(tokenizer_json: dict[str, Any]) -> BoundaryRule | None:
    """The boundary rule of a tokenizer.json, or None when prefix tokenization cannot be proven exact."""
    model = (tokenizer_json.get("model") or {}).get("type")
    if model not in _MODELS:
        return None
    normalizer = tokenizer_json.get("normalizer")
    parts: list[Any]
    if normalizer is None:
        parts = []
    elif normalizer.get("type") == "Sequence":
        parts = normalizer.get("normalizers") or []
    else:
        parts = [normalizer]
    if any(not isinstance(p, dict) or p.get("type") not in _LOCAL_NORMALIZERS for p in parts):
        return None
    for token in tokenizer_json.get("added_tokens") or []:
        if any(ch.isspace() for ch in str(token.get("content", ""))):
            return None  # an added token spanning a space could be cut in two by a prefix
    pre = tokenizer_json.get("pre_tokenizer") or {}
    kind = pre.get("type")
    if kind in ("BertPreTokenizer", "Whitespace", "WhitespaceSplit"):
        chars = " \t\n\r"
        bert = normalizer is not None and normalizer.get("type") == "BertNormalizer"
        if kind == "BertPreTokenizer" and bert and (normalizer or {}).get("handle_chinese_chars", True):
            chars += _CJK
        return BoundaryRule(re.compile(f"[{chars}]"))
    if (kind == "ByteLevel" and pre.get("use_regex", True)) or (kind == "Metaspace" and pre.get("split", True)):
        if kind == "Metaspace" and pre.get("replacement", "\u2581") == " ":
            return None
        return BoundaryRule(re.compile(r" (?=\S)"))  # reversed: a space whose left neighbour is not whitespace
    return None


def outline(tokenizer: Tokenizer) -> dict[str, Any]:
    """The parts of the tokenizer's JSON that rule_for reads (model type, normalizer, pre-tokenizer, added
    tokens), serialized part by part: the whole JSON holds the vocabulary, which costs about 7 ms of CPU for
    MiniLM's to write and read back, at every cold start."""
    parts: dict[str, Any] = {"model": {"type": type(tokenizer.model).__name__}}
    for part in ("normalizer", "pre_tokenizer"):
        component = getattr(tokenizer, part)
        parts[part] = None if component is None else json.loads(component.__getstate__())
    parts["added_tokens"] = [{"content": t.content} for t in tokenizer.get_added_tokens_decoder().values()]
    return parts


def untruncated(tokenizer: Tokenizer) -> Tokenizer:
    """The same tokenizer without truncation, padding and post-processor: what encode() runs before those.

    Built around the tokenizer's own model, normalizer and pre-tokenizer (shared; encoding only reads them)
    instead of parsed again from its JSON: a second parse rebuilds the whole vocabulary, about 20 ms of CPU
    for MiniLM's at every cold start. Its added tokens are added again in id order; where that does not give
    each the same id and settings, the tokenizer is parsed from its JSON as before.
    """
    raw = Tokenizer(tokenizer.model)
    for part in ("normalizer", "pre_tokenizer", "decoder"):
        if getattr(tokenizer, part) is not None:
            setattr(raw, part, getattr(tokenizer, part))
    raw.encode_special_tokens = tokenizer.encode_special_tokens
    added = tokenizer.get_added_tokens_decoder()
    for token_id in sorted(added):
        token = added[token_id]
        (raw.add_special_tokens if token.special else raw.add_tokens)([token])
    readded = raw.get_added_tokens_decoder()
    if readded.keys() == added.keys() and all(repr(readded[i]) == repr(added[i]) for i in added):
        return raw
    config = json.loads(tokenizer.to_str())
    return Tokenizer.from_str(json.dumps({**config, "truncation": None, "padding": None, "post_processor": None}))


class PrefixTokenizer:
    """First tokens of texts (no special tokens), computed from prefixes when that is provably exact."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.rule = rule_for(outline(tokenizer))
        self._raw = untruncated(tokenizer)

    @property
    def bounded(self) -> bool:
        """Whether long texts are tokenized by prefix (else whole)."""
        return self.rule is not None

    def count(self, text: str) -> int:
        """Tokens of the whole text (no special tokens): for error messages about short-enough texts only."""
        return len(self._raw.encode(text, add_special_tokens=False).ids)

    def first_tokens(
        self, texts: Sequence[str], n: int, *, head: str = "", max_chars: int | None = None
    ) -> list[Encoding]:
        """For each text, the first min(n, all) tokens of head + text, exactly as whole-text tokenization has them.

        ``head`` (a prompt) is prepended lazily: a long prompt is never copied once per text. With ``max_chars``,
        no text is tokenized beyond that many characters: one that would need more (no token boundary early
        enough, or a tokenizer whose prefixes cannot be proven exact) raises UnboundedInputError naming it.
        """
        if n < 1:
            raise ValueError("n must be at least 1")
        out: list[Encoding | None] = [None] * len(texts)
        pending = list(range(len(texts)))
        chars = _FIRST_CHARS_PER_TOKEN * (n + 1)
        if max_chars is not None:
            chars = min(chars, max_chars)
        while pending:
            pieces: list[str] = []
            whole: list[bool] = []
            for i in pending:
                size = len(head) + len(texts[i])
                is_whole = size <= chars or (self.rule is None and max_chars is None)
                if not is_whole and self.rule is None:
                    raise _unbounded(i, max_chars or chars)
                pieces.append(head + texts[i] if is_whole else head[:chars] + texts[i][: max(0, chars - len(head))])
                whole.append(is_whole)
            encodings = self._raw.encode_batch(pieces, add_special_tokens=False)
            still: list[int] = []
            for i, piece, is_whole, enc in zip(pending, pieces, whole, encodings, strict=True):
                if is_whole or self._stable(piece, enc) >= n:
                    enc.truncate(n)
                    out[i] = enc
                else:
                    still.append(i)
            if still and max_chars is not None and chars >= max_chars:
                raise _unbounded(still[0], max_chars)
            pending = still
            chars = chars * _GROWTH if max_chars is None else min(chars * _GROWTH, max_chars)
        return [enc for enc in out if enc is not None]

    def lower_bounds(self, texts: Sequence[str], n: int, *, head: str = "") -> list[int] | None:
        """For each text, a number of tokens head + text surely has (at most n), from a cheap scan of a prefix.

        Every run of non-space characters holding a letter or digit gives at least one token in every tokenizer
        family accepted here (letters and digits survive their normalizers). None when no bound is known.
        """
        if self.rule is None:
            return None
        chars = _FIRST_CHARS_PER_TOKEN * (n + 1)
        bounds = []
        for text in texts:
            piece = head[:chars] + text[: max(0, chars - len(head))] if head else text[:chars]
            bounds.append(min(n, len(_WORD.findall(piece))))
        return bounds

    def _stable(self, piece: str, enc: Encoding) -> int:
        """How many leading tokens of a prefix's encoding end at or before its last boundary."""
        assert self.rule is not None
        boundary = self.rule.last(piece)
        if boundary <= 0:
            return 0
        stable = 0
        for _start, end in enc.offsets:
            if end > boundary:
                break
            stable += 1
        return stable


def _unbounded(index: int, limit: int) -> UnboundedInputError:
    return UnboundedInputError(
        f"input {index} has no token boundary (a space between words) early enough: knowing its kept tokens "
        f"would take tokenizing more than {limit} characters of it; split it into words or shorten it",
        index=index,
        limit=limit,
    )
