"""Cohere's max_tokens_per_doc, cut with the model's own tokenizer at a character boundary of the text."""

from __future__ import annotations

from edge_encoders import Reranker


def cut_documents(reranker: Reranker, documents: list[str], max_tokens: int) -> list[str]:
    """Each document cut after its first max_tokens tokens, at a character boundary of the original text.

    Only the first max_tokens + 1 tokens of each document are computed. A cut longer than a pair can keep
    would change nothing the model sees (truncation keeps less), so documents are then left whole.
    """
    if max_tokens > reranker.tokenizer.pair_room:
        return documents
    out = []
    for text, enc in zip(documents, reranker.tokenizer.first_tokens(documents, max_tokens + 1), strict=True):
        out.append(text[: enc.offsets[max_tokens - 1][1]] if len(enc.ids) > max_tokens else text)
    return out
