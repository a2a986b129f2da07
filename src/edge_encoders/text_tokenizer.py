"""Tokenization from tokenizer.json, with truncation and padding set from the manifest.

Trap this module exists for: MiniLM's shipped tokenizer.json pins truncation to 128 and pads to a fixed
128; left as is, long inputs are cut short and every batch pays for padding. We reset both. Texts are
tokenized only as far as truncation keeps them (prefix_tokenize.py), so a long input costs what it keeps.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Encoding, Tokenizer

from edge_encoders import wordpiece_parts
from edge_encoders.errors import BundleError, InputTooLongError, UnboundedInputError
from edge_encoders.prefix_tokenize import PrefixTokenizer

log = logging.getLogger("edge_encoders")

# An over-long input's exact length is counted for the error message only up to this many characters.
_EXACT_LENGTH_CHARS = 65536
# A text this many characters per kept token or shorter is tokenized whole in one batch call.
_SHORT_CHARS_PER_TOKEN = 8


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

    def __init__(self, path: str | Path, max_seq_length: int, *, parts: tuple[Path, Path] | None = None) -> None:
        """parts: the same tokenizer split by the image build (wordpiece_parts; faster to load), else None."""
        self._tok = _load(Path(path), parts)
        self.max_seq_length = max_seq_length
        self._tok.no_padding()
        # longest_first, applied before special tokens are added: the same cut transformers makes
        self._tok.enable_truncation(max_length=max_seq_length, stride=0, strategy="longest_first")
        self._prefix = PrefixTokenizer(self._tok)
        # encode_batch_fast skips the character offsets, which nothing here reads: the same ids, type ids and
        # overflow for about 18% less tokenizing CPU on a mixed batch of 32 (older tokenizers: encode_batch)
        self._encode_whole = getattr(self._tok, "encode_batch_fast", self._tok.encode_batch)
        pad_id = self._tok.token_to_id("[PAD]")
        if pad_id is None:
            pad_id = self._tok.token_to_id("<pad>")
        self.pad_id = pad_id if pad_id is not None else 0

    @property
    def single_room(self) -> int:
        """Content tokens one text may keep (max_seq_length less the special tokens)."""
        return max(0, self.max_seq_length - self._tok.num_special_tokens_to_add(False))

    @property
    def pair_room(self) -> int:
        """Content tokens a (query, document) pair may keep between them."""
        return max(0, self.max_seq_length - self._tok.num_special_tokens_to_add(True))

    def first_tokens(
        self, texts: Sequence[str], n: int, *, head: str = "", max_chars: int | None = None
    ) -> list[Encoding]:
        """The first min(n, all) tokens of each head + text (no special tokens), tokenizing no more than needed.

        max_chars: never tokenize more of a text than that (UnboundedInputError if it would be needed).
        """
        return self._prefix.first_tokens(texts, n, head=head, max_chars=max_chars)

    def kept_lower_bound(self, texts: Sequence[str], *, head: str = "") -> list[int] | None:
        """Tokens (with specials) each text will surely keep after truncation, from a scan cheaper than tokenizing."""
        bounds = self._prefix.lower_bounds(texts, self.single_room, head=head)
        specials = self._tok.num_special_tokens_to_add(False)
        return None if bounds is None else [b + specials for b in bounds]

    def pair_kept_lower_bound(
        self, query: str, documents: Sequence[str], *, doc_cap: int | None = None
    ) -> list[int] | None:
        """The same for (query, document) pairs: a pair keeps min(room, query + document tokens) + specials.

        doc_cap: documents will first be cut to that many tokens.
        """
        room = self.pair_room
        q = self._prefix.lower_bounds([query], room)
        d = self._prefix.lower_bounds(documents, room)
        if q is None or d is None:
            return None
        specials = self._tok.num_special_tokens_to_add(True)
        cap = room if doc_cap is None else doc_cap
        return [min(room, q[0] + min(b, cap)) + specials for b in d]

    def encode(
        self, texts: Sequence[str], *, truncate: bool, head: str = "", max_chars: int | None = None
    ) -> list[Encoding]:
        """Encode single texts (each prefixed by head); without truncation an over-long one raises InputTooLongError.

        Each text is tokenized only as far as truncation keeps it (plus one token to know it was cut).
        """
        room = self.single_room
        # Short texts (most) in one Rust call as they are: tokenizing one whole costs no more than its prefix.
        short_chars = _SHORT_CHARS_PER_TOKEN * (room + 2)
        short = [i for i, t in enumerate(texts) if len(head) + len(t) <= short_chars]
        long = [i for i, t in enumerate(texts) if len(head) + len(t) > short_chars]
        out: dict[int, Encoding] = dict(zip(short, self._encode_whole([head + texts[i] for i in short]), strict=True))
        cut = {i for i in short if out[i].overflowing}
        if long:
            firsts = self.first_tokens([texts[i] for i in long], room + 1, head=head, max_chars=max_chars)
            for i, first in zip(long, firsts, strict=True):
                if len(first.ids) > room:
                    cut.add(i)
                out[i] = self._tok.post_process(first, None, add_special_tokens=True)
        if cut and not truncate:
            index = min(cut)
            cheap = len(head) + len(texts[index]) <= _EXACT_LENGTH_CHARS
            raise self._too_long(index, self.count_with_specials(head + texts[index]) if cheap else None)
        return [out[i] for i in range(len(texts))]

    def encode_pairs(
        self, pairs: Sequence[tuple[str, str]], *, truncate: bool, max_chars: int | None = None
    ) -> list[Encoding]:
        """Encode (query, document) pairs with real segment ids; truncation cuts the longest side first.

        Each distinct query is tokenized once, and every side only as far as the pair can keep it: tokenizers'
        longest-first cut depends on each side's length only up to pair_room + 1 tokens, except which side is
        longer when both exceed the room and the room is odd (the longer side keeps the extra token); that
        comparison tokenizes both further, never more than the shorter of the two.
        """
        room = self.pair_room
        distinct = list(dict.fromkeys(q for q, _ in pairs))
        plus = dict(zip(distinct, self._queries(distinct, room + 2, max_chars), strict=True))
        capped = {q: _cut(enc, room + 1) for q, enc in plus.items()}
        docs = self.first_tokens([d for _, d in pairs], room + 1, max_chars=max_chars)
        longer = self._longer_queries(pairs, docs, capped, max_chars) if room % 2 else set()
        out = []
        for index, ((query, _), doc) in enumerate(zip(pairs, docs, strict=True)):
            first = plus[query] if index in longer else capped[query]
            if not truncate and len(capped[query].ids) + len(doc.ids) > room:
                raise self._too_long(index, self._pair_length(pairs[index]))
            out.append(self._tok.post_process(first, doc, add_special_tokens=True))
        return out

    def _queries(self, queries: list[str], n: int, max_chars: int | None) -> list[Encoding]:
        try:
            return self.first_tokens(queries, n, max_chars=max_chars)
        except UnboundedInputError as exc:
            raise UnboundedInputError(
                exc.message.replace(f"input {exc.index}", "the query", 1), index=exc.index, limit=exc.limit
            ) from None

    def _longer_queries(
        self,
        pairs: Sequence[tuple[str, str]],
        docs: list[Encoding],
        capped: dict[str, Encoding],
        max_chars: int | None,
    ) -> set[int]:
        """Indices of pairs whose both sides exceed the room and whose query has more tokens than its document.

        Both sides are tokenized further only until the shorter one ends; with max_chars, a pair whose two sides
        both go on past that many characters is refused (which side is longer decides the cut).
        """
        full = self.pair_room + 1
        pending = [i for i, d in enumerate(docs) if len(d.ids) == full and len(capped[pairs[i][0]].ids) == full]
        longer: set[int] = set()
        n = 4 * full
        while pending:
            queries = list(dict.fromkeys(pairs[i][0] for i in pending))
            try:
                q_enc = self.first_tokens(queries, n, max_chars=max_chars)
                d_enc = self.first_tokens([pairs[i][1] for i in pending], n, max_chars=max_chars)
            except UnboundedInputError as exc:
                raise UnboundedInputError(
                    f"the query and a document are both longer than the model keeps and both go on past "
                    f"{exc.limit} characters: the cut depends on which is longer; shorten the query",
                    index=exc.index,
                    limit=exc.limit,
                ) from None
            q_len = {q: len(e.ids) for q, e in zip(queries, q_enc, strict=True)}
            d_len = [len(e.ids) for e in d_enc]
            still = []
            for i, dl in zip(pending, d_len, strict=True):
                ql = q_len[pairs[i][0]]
                if ql < n or dl < n:
                    if ql > dl:
                        longer.add(i)
                else:
                    still.append(i)
            pending = still
            n *= 4
        return longer

    def _too_long(self, index: int, length: int | None) -> InputTooLongError:
        """The error for an over-long input; its exact length when counting it was cheap (else None)."""
        limit = self.max_seq_length
        if length is None:
            message = f"input {index} is over the model's limit of {limit} tokens"
            length = limit + 1
        else:
            message = f"input {index} is {length} tokens long, over the model's limit of {limit}"
        return InputTooLongError(
            message + "; shorten it or turn truncation on", index=index, length=length, limit=limit
        )

    def _pair_length(self, pair: tuple[str, str]) -> int | None:
        """Tokens of a whole pair with its special tokens, when the pair is short enough to count cheaply."""
        if len(pair[0]) + len(pair[1]) > _EXACT_LENGTH_CHARS:
            return None
        return sum(map(self._prefix.count, pair)) + self._tok.num_special_tokens_to_add(True)

    def count_with_specials(self, text: str) -> int:
        """Tokens of one whole text with its special tokens (for messages about a text known to be short)."""
        return self._prefix.count(text) + self._tok.num_special_tokens_to_add(False)

    def pad(self, encodings: list[Encoding]) -> TokenBatch:
        """Right-pad a micro-batch to its longest member, in the int64 the exported graphs take (no Cast).

        len(encoding) counts tokens without building the ids list; each row's ids and type ids are read once.
        """
        width = max(map(len, encodings))
        n = len(encodings)
        ids = np.full((n, width), self.pad_id, dtype=np.int64)
        mask = np.zeros((n, width), dtype=np.int64)
        types = np.zeros((n, width), dtype=np.int64)
        for row, enc in enumerate(encodings):
            length = len(enc)
            ids[row, :length] = enc.ids
            mask[row, :length] = 1
            types[row, :length] = enc.type_ids
        return TokenBatch(ids, mask, types)


def _load(path: Path, parts: tuple[Path, Path] | None) -> Tokenizer:
    """The tokenizer from its parts when given and they load, else from its file (BundleError if that fails)."""
    if parts is not None:
        try:
            return wordpiece_parts.load(*parts)
        except Exception as exc:  # a part unreadable or not fitting: the file itself is the reference
            log.warning("cannot load the tokenizer from %s and %s (%s): loading %s", *parts, exc, path)
    try:
        return Tokenizer.from_file(str(path))
    except Exception as exc:
        raise BundleError(f"cannot load tokenizer {path}: {exc}") from None


def content_digest(tokenizer_json: str) -> str:
    """sha256 of a tokenizer.json without its truncation and padding, which TextTokenizer replaces anyway:
    two files with the same digest make the same TextTokenizer for the same max_seq_length."""
    config = json.loads(tokenizer_json)
    if not isinstance(config, dict):
        raise BundleError("tokenizer.json is not a JSON object")
    config.pop("truncation", None)
    config.pop("padding", None)
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class TokenizerCache:
    """One TextTokenizer per distinct tokenizer and max_seq_length, for the bundles loaded together.

    Loading a tokenizer costs 11-20 ms of CPU at a cold start (MiniLM: mostly its 30k-entry vocabulary; less
    from the parts the image build splits it into, wordpiece_parts), and the embedder and the reranker built
    on the same base model carry the same one. A TextTokenizer is not changed after it is made, so two models
    can share it. The key identifies the tokenizer's content (load_cache.tokenizer_key: a digest recorded at
    image build, else the file's sha256 from the manifest); the caller vouches for it as for the manifest's
    digests.
    """

    def __init__(self) -> None:
        self._made: dict[tuple[str, int], TextTokenizer] = {}

    def __len__(self) -> int:
        return len(self._made)

    def get(
        self, key: str, path: str | Path, max_seq_length: int, *, parts: tuple[Path, Path] | None = None
    ) -> TextTokenizer:
        """The tokenizer made for (key, max_seq_length), made from path (or its parts) the first time."""
        made = self._made.get((key, max_seq_length))
        if made is None:
            made = self._made[(key, max_seq_length)] = TextTokenizer(path, max_seq_length, parts=parts)
        return made


def _cut(enc: Encoding, n: int) -> Encoding:
    """A copy of an encoding keeping its first n tokens."""
    copy = Encoding.merge([enc], growing_offsets=False)
    copy.truncate(n)
    return copy
