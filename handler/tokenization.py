"""The model's own tokenizer for the dialect routes: TEI /tokenize and /decode, and left truncation.

The runtime truncates on the right (what sentence-transformers does). TEI's `truncation_direction: Left` and
Cohere's `truncate: START` keep the END of an over-long text instead; we do that here by cutting the text at a
token boundary so that its last tokens fit, then handing the shortened text to the runtime. Cost stays bounded:
only a tail window of the text is tokenized, widened only when the window holds too few tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from tokenizers import Tokenizer

from edge_encoders.text_tokenizer import TextTokenizer

_FIRST_WINDOW_CHARS_PER_TOKEN = 8


@lru_cache(maxsize=4)
def raw_tokenizer(tokenizer: TextTokenizer) -> Tokenizer:
    """A copy of the bundle's tokenizer without truncation or padding (the runtime's own copy stays as is)."""
    raw = Tokenizer.from_str(tokenizer._tok.to_str())  # the runtime keeps the configured tokenizers object here
    raw.no_truncation()
    raw.no_padding()
    return raw


def special_count(tokenizer: TextTokenizer, *, pair: bool = False) -> int:
    """How many special tokens the model adds to one text (or a pair), e.g. 2 ([CLS] [SEP]) for BERT."""
    return int(raw_tokenizer(tokenizer).num_special_tokens_to_add(pair))


@dataclass(frozen=True)
class Token:
    """One token as TEI's /tokenize reports it: id, text, special, character span in the input."""

    id: int
    text: str
    special: bool
    start: int | None
    stop: int | None


def tokenize(
    tokenizer: TextTokenizer, text: str, *, add_special_tokens: bool, limit: int | None = None
) -> list[Token] | None:
    """Tokens of one text; `text` of a real token is the slice of the input it came from, as TEI gives it.

    None when the text has more than `limit` tokens, found on a head window of about that many characters
    (grown while it holds fewer tokens), never by tokenizing the whole text: a 6 MB text has a million tokens,
    which cost about a GB as the tokenizer's and Python's objects.
    """
    if limit is not None:
        room = limit - (special_count(tokenizer) if add_special_tokens else 0)
        if room < 0 or keep_head(tokenizer, text, room, chars_per_token=1) != text:
            return None
    enc = raw_tokenizer(tokenizer).encode(text, add_special_tokens=add_special_tokens)
    if limit is not None and len(enc) > limit:
        return None
    out = []
    for token_id, token, (start, stop), special in zip(
        enc.ids, enc.tokens, enc.offsets, enc.special_tokens_mask, strict=True
    ):
        if special:
            out.append(Token(token_id, token, True, None, None))
        else:
            out.append(Token(token_id, text[start:stop], False, start, stop))
    return out


def decode(tokenizer: TextTokenizer, ids: list[int], *, skip_special_tokens: bool) -> str:
    return str(raw_tokenizer(tokenizer).decode(ids, skip_special_tokens=skip_special_tokens))


def keep_tail(tokenizer: TextTokenizer, text: str, budget: int) -> str:
    """The shortest suffix of `text` at a token boundary that holds its last `budget` tokens (whole text if it fits).

    A cut inside a word can tokenize differently from the same piece in context (WordPiece's `##` pieces), so
    the cut moves right until the suffix really fits.
    """
    if budget <= 0:
        return ""
    raw = raw_tokenizer(tokenizer)
    window = budget * _FIRST_WINDOW_CHARS_PER_TOKEN
    while True:
        start_of_window = max(0, len(text) - window)
        piece = text[start_of_window:]
        offsets = raw.encode(piece, add_special_tokens=False).offsets
        # the window's first token may be a partial word: trust it only when the window is the whole text
        usable = len(offsets) - (1 if start_of_window > 0 else 0)
        if usable >= budget + 1 or start_of_window == 0:
            break
        window *= 2
    if len(offsets) <= budget:
        return text
    for first in range(len(offsets) - budget, len(offsets)):
        candidate = piece[offsets[first][0] :]
        if len(raw.encode(candidate, add_special_tokens=False).ids) <= budget:
            return candidate
    return ""


def keep_head(
    tokenizer: TextTokenizer, text: str, budget: int, *, chars_per_token: int = _FIRST_WINDOW_CHARS_PER_TOKEN
) -> str:
    """The prefix of `text` holding its first `budget` tokens, cut at a character boundary (whole text if it fits).

    Only a head window is tokenized, widened while it holds too few tokens, so a huge text costs little. The
    first window is `chars_per_token` characters per token of the budget: 8 suits words; 1 never tokenizes
    much more than the budget, whatever the script (one CJK character is one token).
    """
    if budget <= 0:
        return ""
    raw = raw_tokenizer(tokenizer)
    window = budget * chars_per_token
    while True:
        piece = text[:window]
        offsets = raw.encode(piece, add_special_tokens=False).offsets
        # past `budget` tokens, the budget-th is whole even if the window cut the last word
        if window >= len(text) or len(offsets) > budget:
            break
        window *= 2
    if len(offsets) <= budget:
        return text
    return piece[: offsets[budget - 1][1]]


def token_count(tokenizer: TextTokenizer, text: str) -> int:
    """Tokens of `text` without special tokens."""
    return len(raw_tokenizer(tokenizer).encode(text, add_special_tokens=False).ids)


def cut_left(tokenizer: TextTokenizer, texts: list[str], budget: int) -> list[str]:
    """keep_tail for each text: what TEI's `truncation_direction: Left` keeps of an over-long input."""
    return [keep_tail(tokenizer, text, budget) for text in texts]
