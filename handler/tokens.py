"""Cohere's max_tokens_per_doc, cut with the model's own tokenizer at a character boundary of the text."""

from __future__ import annotations

from edge_encoders import Reranker


def cut_documents(reranker: Reranker, documents: list[str], max_tokens: int) -> list[str]:
    """Each document cut after its first max_tokens tokens, at a character boundary of the original text."""
    encodings = reranker.tokenizer.encode(documents, truncate=True)
    out = []
    for text, enc in zip(documents, encodings, strict=True):
        # offsets of real tokens (special tokens have sequence id None)
        spans = [span for span, seq in zip(enc.offsets, enc.sequence_ids, strict=True) if seq is not None]
        out.append(text[: spans[max_tokens - 1][1]] if len(spans) > max_tokens else text)
    return out
