"""Tokenization from tokenizer.json, with truncation and padding set from the manifest.

Trap this module exists for: MiniLM's shipped tokenizer.json pins truncation to 128 and pads to a fixed
128; left as is, long inputs are cut short and every batch pays for padding. We reset both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Encoding, Tokenizer

from edge_encoders.errors import BundleError, InputTooLongError


@dataclass
class TokenBatch:
    """Model inputs for one micro-batch, padded to its longest member."""

    input_ids: np.ndarray
    attention_mask: np.ndarray
    token_type_ids: np.ndarray

    def feeds(self, input_names: list[str]) -> dict[str, np.ndarray]:
        arrays = {
            "input_ids": self.input_ids,
            "attention_mask": self.attention_mask,
            "token_type_ids": self.token_type_ids,
        }
        return {name: arrays[name] for name in input_names}


class TextTokenizer:
    """A `tokenizers.Tokenizer` with our truncation and no padding (we pad per micro-batch)."""

    def __init__(self, path: str | Path, max_seq_length: int) -> None:
        try:
            self._tok = Tokenizer.from_file(str(path))
        except Exception as exc:
            raise BundleError(f"cannot load tokenizer {path}: {exc}") from None
        self.max_seq_length = max_seq_length
        self._tok.no_padding()
        # longest_first, applied before special tokens are added: the same cut transformers makes
        self._tok.enable_truncation(max_length=max_seq_length, stride=0, strategy="longest_first")
        self._untruncated: Tokenizer | None = None
        pad_id = self._tok.token_to_id("[PAD]")
        if pad_id is None:
            pad_id = self._tok.token_to_id("<pad>")
        self.pad_id = pad_id if pad_id is not None else 0

    def encode(self, texts: list[str], *, truncate: bool) -> list[Encoding]:
        """Encode single texts; without truncation, an over-long text raises InputTooLongError."""
        encodings = self._tok.encode_batch(texts, add_special_tokens=True)
        if not truncate:
            self._refuse_truncated(encodings, texts)
        return encodings

    def encode_pairs(self, pairs: list[tuple[str, str]], *, truncate: bool) -> list[Encoding]:
        """Encode (query, document) pairs with real segment ids; truncation cuts the longest side first."""
        encodings = self._tok.encode_batch(pairs, add_special_tokens=True)
        if not truncate:
            self._refuse_truncated(encodings, pairs)
        return encodings

    def _refuse_truncated(self, encodings: list[Encoding], inputs: list[str] | list[tuple[str, str]]) -> None:
        for index, enc in enumerate(encodings):
            if enc.overflowing:
                if self._untruncated is None:
                    self._untruncated = Tokenizer.from_str(self._tok.to_str())
                    self._untruncated.no_truncation()
                item = inputs[index]
                full = (
                    self._untruncated.encode(item[0], item[1], add_special_tokens=True)
                    if isinstance(item, tuple)
                    else self._untruncated.encode(item, add_special_tokens=True)
                )
                length = len(full.ids)
                limit = self.max_seq_length
                raise InputTooLongError(
                    f"input {index} is {length} tokens long, over the model's limit of {limit}; "
                    "shorten it or turn truncation on",
                    index=index,
                    length=length,
                    limit=limit,
                )

    def pad(self, encodings: list[Encoding]) -> TokenBatch:
        """Right-pad a micro-batch to its longest member."""
        width = max(len(e.ids) for e in encodings)
        n = len(encodings)
        ids = np.full((n, width), self.pad_id, dtype=np.int64)
        mask = np.zeros((n, width), dtype=np.int64)
        types = np.zeros((n, width), dtype=np.int64)
        for row, enc in enumerate(encodings):
            length = len(enc.ids)
            ids[row, :length] = enc.ids
            mask[row, :length] = 1
            types[row, :length] = enc.type_ids
        return TokenBatch(ids, mask, types)
