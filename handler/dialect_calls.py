"""Embed and rerank with the options every dialect adds on top of the native routes: truncation direction.

`direction="left"` (TEI's Left, Cohere's START) keeps the end of an over-long input. The prompt is part of
what is cut, as in TEI, where the prompt is prepended before truncation. Without truncation the direction does
not matter: an over-long input is a 422 that names its length and the limit.
"""

from __future__ import annotations

from edge_encoders import Embedder
from edge_encoders.errors import InputTooLongError
from edge_encoders.precision import Precision
from edge_encoders.text_tokenizer import TextTokenizer
from handler import calls
from handler.observability import RequestFacts
from handler.state import AppState
from handler.tokenization import cut_left, keep_head, keep_tail, special_count, token_count


def embed(
    state: AppState,
    facts: RequestFacts,
    texts: list[str],
    what: str,
    *,
    truncate: bool,
    direction: str = "right",
    prompt_name: str | None = None,
    prompt: str | None = None,
    max_tokens: int | None = None,
    dimensions: int | None = None,
    normalize: bool | None = None,
    precision: Precision = "float32",
) -> calls.Embedded:
    """calls.embed, with left truncation done here (the runtime cuts on the right).

    `max_tokens` (Cohere) first cuts each text to that many tokens from the chosen side, or, without
    truncation, refuses a longer text.
    """
    embedder = state.models.require_embedder()
    left = direction.lower() == "left"
    if max_tokens is not None:
        texts = _cut_each(embedder.tokenizer, texts, max_tokens, left=left, truncate=truncate)
    if not left or not truncate:
        return calls.embed(
            state,
            facts,
            texts,
            what,
            truncate=truncate,
            prompt_name=prompt_name,
            prompt=prompt,
            dimensions=dimensions,
            normalize=normalize,
            precision=precision,
        )
    cut = _cut_left_with_prompt(embedder, texts, prompt_name, prompt)
    return calls.embed(
        state,
        facts,
        cut,
        what,
        truncate=True,
        prompt="",
        dimensions=dimensions,
        normalize=normalize,
        precision=precision,
    )


def embed_tokens(
    state: AppState,
    facts: RequestFacts,
    texts: list[str],
    what: str,
    *,
    truncate: bool,
    direction: str = "right",
    prompt_name: str | None = None,
) -> calls.TokenEmbedded:
    """calls.embed_tokens, with left truncation done here as for embed(): the prompt is part of what is cut."""
    if direction.lower() != "left" or not truncate:
        return calls.embed_tokens(state, facts, texts, what, truncate=truncate, prompt_name=prompt_name)
    cut = _cut_left_with_prompt(state.models.require_embedder(), texts, prompt_name, None)
    return calls.embed_tokens(state, facts, cut, what, truncate=True, prompt="")


def _cut_left_with_prompt(
    embedder: Embedder, texts: list[str], prompt_name: str | None, prompt: str | None
) -> list[str]:
    """Each text with the prompt in front, cut from the left to what the model keeps."""
    prefix = embedder.prompt_text(prompt_name, prompt)
    budget = embedder.manifest.max_seq_length - special_count(embedder.tokenizer)
    return cut_left(embedder.tokenizer, [prefix + t for t in texts], budget)


def _cut_each(tokenizer: TextTokenizer, texts: list[str], max_tokens: int, *, left: bool, truncate: bool) -> list[str]:
    out = []
    for index, text in enumerate(texts):
        cut = keep_tail(tokenizer, text, max_tokens) if left else keep_head(tokenizer, text, max_tokens)
        if cut != text and not truncate:
            raise InputTooLongError(
                f"input {index} is longer than max_tokens={max_tokens}; shorten it or set truncate to START or END",
                index=index,
                length=token_count(tokenizer, text),
                limit=max_tokens,
            )
        out.append(cut)
    return out


def rerank(
    state: AppState,
    facts: RequestFacts,
    query: str,
    documents: list[str],
    what: str,
    *,
    truncate: bool,
    direction: str = "right",
    raw_scores: bool = False,
) -> calls.Reranked:
    """calls.rerank, with left truncation of the documents done here when asked for.

    The query keeps its start; each document gives up its beginning until the pair fits (the runtime then cuts
    the rare query that alone is too long, on the right).
    """
    if direction.lower() != "left" or not truncate:
        return calls.rerank(state, facts, query, documents, what, truncate=truncate, raw_scores=raw_scores)
    reranker = state.models.require_reranker()
    tok = reranker.tokenizer
    pair_room = reranker.manifest.max_seq_length - special_count(tok, pair=True)
    query_tokens = len(tok.encode([query], truncate=True)[0].ids) - special_count(tok)
    budget = max(pair_room - query_tokens, pair_room // 2)
    cut = cut_left(tok, documents, budget)
    return calls.rerank(state, facts, query, cut, what, truncate=True, raw_scores=raw_scores)
