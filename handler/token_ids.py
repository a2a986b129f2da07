"""TEI's token-id inputs (`inputs: [101, 7592, 102]` or a list of such lists): the model's own ids, as TEI's
/tokenize gives them, turned back into the text they stand for.

TEI decodes ids with the model's tokenizer and embeds the result. We do the same, and refuse ids that do not
come back unchanged when their text is tokenized again (ids of another tokenizer, such as OpenAI's tiktoken ids,
or a sequence the tokenizer would never produce): those would give a vector for some other text, silently.
"""

from __future__ import annotations

from functools import lru_cache

from tokenizers import Tokenizer

from edge_encoders.text_tokenizer import TextTokenizer
from handler.errors import ApiError
from handler.tokenization import raw_tokenizer


@lru_cache(maxsize=4)
def _framing_ids(raw: Tokenizer) -> frozenset[int]:
    """The ids the tokenizer adds around every text ([CLS] and [SEP] for BERT): the runtime adds them again."""
    return frozenset(raw.encode("", add_special_tokens=True).ids)


def texts_from_ids(
    tokenizer: TextTokenizer, rows: list[list[int]], field: str, positions: list[int] | None = None
) -> list[str]:
    """One text per id list; 422 naming the list for an id outside the vocabulary or ids that do not round-trip.

    `positions`: each row's index in the request's list, when the rows are only some of its items (TEI takes
    strings and id lists mixed in one batch); by default the rows are the whole list."""
    raw = raw_tokenizer(tokenizer)
    vocab = raw.get_vocab_size(with_added_tokens=True)
    framing = _framing_ids(raw)
    texts = []
    for row, ids in enumerate(rows):
        if positions is not None:
            where = f"`{field}[{positions[row]}]`"
        else:
            where = f"`{field}[{row}]`" if len(rows) > 1 else f"`{field}`"
        if not ids:
            raise ApiError(422, "empty_text", f"`{field}` cannot be empty: {where} holds no token ids")
        bad = next((i for i in ids if not 0 <= i < vocab), None)
        if bad is not None:
            raise ApiError(
                422,
                "invalid_token_id",
                f"{where} holds the token id {bad}, outside this model's vocabulary (0..{vocab - 1})",
            )
        kept = [i for i in ids if i not in framing]
        if not kept:
            raise ApiError(
                422,
                "empty_text",
                f"`{field}` cannot be empty: {where} holds no token ids but the ones around every text",
            )
        text = raw.decode(kept, skip_special_tokens=False)  # other special tokens ([UNK]) stay as their text
        if raw.encode(text, add_special_tokens=False).ids != kept:
            raise ApiError(
                422,
                "token_ids_not_supported",
                f"{where} is not a token sequence of this model's tokenizer (its text tokenizes differently): send "
                "the text, or ids from this server's /tokenize",
            )
        texts.append(text)
    return texts
