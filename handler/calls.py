"""The steps every embed and rerank route shares: limits, the timed model call, usage facts, rendering.

Cost is bounded before the work: counts first, then a compute slot within the request's deadline; the runtime
tokenizes only what truncation keeps and stops between micro-batches when the request's stop token (deadline,
disconnect) says so. Inputs and tokens per request are the runtime's `Limits`; the response size is checked
here, after rendering, since Lambda refuses a response over 6 MB with an opaque error.

Each call returns the model it used with its result, so a route shapes its answer without looking the model up
again.
"""

from __future__ import annotations

import base64
import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from fastapi.responses import Response
from pydantic import BaseModel

from edge_encoders import Embedder, Limits, Reranker, RerankHit, StopToken, TooManyTokensError
from edge_encoders.precision import Precision
from edge_encoders.request_checks import check_count, check_tokens_before
from handler.admission import current_stop
from handler.errors import ApiError
from handler.observability import RequestFacts
from handler.state import AppState


@dataclass(frozen=True)
class Embedded:
    """Vectors in input order, the tokens they used, and the model that made them."""

    model: Embedder
    embeddings: np.ndarray
    total_tokens: int


@dataclass(frozen=True)
class Reranked:
    """Hits best first, the tokens they used, and the model that scored them."""

    model: Reranker
    hits: list[RerankHit]
    total_tokens: int


def _limits(state: AppState) -> Limits:
    """Inputs, tokens and characters scanned per request: the runtime refuses past them (413) before inference."""
    settings = state.settings
    return Limits(
        max_inputs=settings.max_inputs, max_tokens=settings.max_tokens, max_scan_chars=settings.max_scan_chars
    )


def embed(
    state: AppState,
    facts: RequestFacts,
    texts: list[str],
    what: str,
    *,
    prompt_name: str | None = None,
    prompt: str | None = None,
    dimensions: int | None = None,
    normalize: bool | None = None,
    precision: Precision = "float32",
    truncate: bool = True,
) -> Embedded:
    """Embedder.embed_with_usage after the input limit, in a compute slot; `what` names the request's field."""
    embedder = state.models.require_embedder()
    facts.inputs = len(texts)
    call_limits = _limits(state)
    check_count(len(texts), call_limits, what)
    with _compute_slot(state, facts) as stop:
        result = embedder.embed_with_usage(
            texts,
            prompt_name=prompt_name,
            prompt=prompt,
            dimensions=dimensions,
            normalize=normalize,
            precision=precision,
            truncate=truncate,
            limits=call_limits,
            stop=stop,
            what=what,
        )
    facts.tokens = result.total_tokens
    return Embedded(embedder, result.embeddings, result.total_tokens)


@dataclass(frozen=True)
class TokenEmbedded:
    """Each input's token vectors before pooling, the tokens they used, and the model that made them."""

    model: Embedder
    rows: list[np.ndarray]
    total_tokens: int


# JSON spends at least 2 bytes on a number (a digit and a separator): a request whose tokens x hidden numbers
# cannot fit in the response limit at that rate is refused before inference, not after
MIN_JSON_BYTES_PER_NUMBER = 2


def embed_tokens(
    state: AppState,
    facts: RequestFacts,
    texts: list[str],
    what: str,
    *,
    prompt_name: str | None = None,
    prompt: str | None = None,
    truncate: bool = True,
) -> TokenEmbedded:
    """Embedder.token_embeddings_with_usage after the input limit, in a compute slot. The token limit is also
    what the response limit can carry (tokens x hidden numbers), checked before inference."""
    embedder = state.models.require_embedder()
    facts.inputs = len(texts)
    call_limits = _limits(state)
    check_count(len(texts), call_limits, what)
    response_limit = state.settings.max_response_bytes
    hint = ""
    if response_limit:
        fit = max(1, response_limit // (embedder.dimension * MIN_JSON_BYTES_PER_NUMBER))
        if call_limits.max_tokens is None or fit < call_limits.max_tokens:
            call_limits = dataclasses.replace(call_limits, max_tokens=fit)
            hint = (
                f" (token vectors are {embedder.dimension} numbers per token: at most {fit} tokens fit in a "
                f"response of {response_limit} bytes)"
            )
    with _compute_slot(state, facts) as stop:
        try:
            result = embedder.token_embeddings_with_usage(
                texts,
                prompt_name=prompt_name,
                prompt=prompt,
                truncate=truncate,
                limits=call_limits,
                stop=stop,
                what=what,
            )
        except TooManyTokensError as exc:
            raise ApiError(413, exc.code, exc.message + hint) from None
    facts.tokens = result.total_tokens
    return TokenEmbedded(embedder, result.token_embeddings, result.total_tokens)


@contextmanager
def _compute_slot(state: AppState, facts: RequestFacts) -> Iterator[StopToken | None]:
    """A compute slot within the request's deadline; the time spent inside is the request's compute time."""
    stop = current_stop.get()
    with state.models.compute(None if stop is None else stop.remaining()):
        started = time.perf_counter()
        try:
            yield stop
        finally:
            facts.compute_ms = (time.perf_counter() - started) * 1000


def rerank(
    state: AppState,
    facts: RequestFacts,
    query: str,
    documents: list[str],
    what: str,
    *,
    top_n: int | None = None,
    return_documents: bool = False,
    raw_scores: bool = False,
    truncate: bool = True,
    max_tokens_per_doc: int | None = None,
) -> Reranked:
    """Reranker.rerank_with_usage after the input and token limits, in a compute slot; `what` names the field."""
    reranker = state.models.require_reranker()
    call_limits = _limits(state)
    check_count(len(documents), call_limits, what)
    bounds = reranker.tokenizer.pair_kept_lower_bound(query, documents, doc_cap=max_tokens_per_doc)
    check_tokens_before(bounds, call_limits, what)
    if max_tokens_per_doc is not None:
        documents = _cut_documents(reranker, documents, max_tokens_per_doc)
    facts.inputs = len(documents)
    with _compute_slot(state, facts) as stop:
        result = reranker.rerank_with_usage(
            query,
            documents,
            top_n=top_n,
            return_documents=return_documents,
            raw_scores=raw_scores,
            truncate=truncate,
            limits=call_limits,
            stop=stop,
            what=what,
        )
    facts.tokens = result.total_tokens
    return Reranked(reranker, result.hits, result.total_tokens)


def _cut_documents(reranker: Reranker, documents: list[str], max_tokens: int) -> list[str]:
    """Cohere's max_tokens_per_doc: each document cut after its first max_tokens tokens, at a character boundary.

    Only the first max_tokens + 1 tokens of each document are computed. A cut longer than a pair can keep
    would change nothing the model sees (truncation keeps less), so documents are then left whole.
    """
    if max_tokens > reranker.tokenizer.pair_room:
        return documents
    out = []
    for text, enc in zip(documents, reranker.tokenizer.first_tokens(documents, max_tokens + 1), strict=True):
        out.append(text[: enc.offsets[max_tokens - 1][1]] if len(enc.ids) > max_tokens else text)
    return out


def encode_rows(matrix: np.ndarray, encoding_format: str) -> list[list[float] | list[int] | str]:
    """Vectors to JSON, one entry per row: number lists, or base64 of the raw little-endian bytes (OpenAI's
    encoding_format=base64); float32 rows as their shortest exact decimal form (about half the bytes of repr)."""
    if encoding_format == "base64":
        dtype = matrix.dtype.newbyteorder("<")
        data = np.ascontiguousarray(matrix, dtype=dtype)
        return [base64.b64encode(row.tobytes()).decode("ascii") for row in data]
    if matrix.dtype == np.float32:
        # numpy's str() of a float32 is the shortest string that reads back to the same float32
        return [[float(x) for x in row] for row in matrix.astype(str)]
    rows: list[list[int]] = matrix.tolist()  # int8/uint8/binary precisions: plain integers
    return list(rows)


def render(
    state: AppState, body: BaseModel, count: int, what: str, hint: str = "", *, exclude_none: bool = True
) -> Response:
    """Serialize once, refuse a body over the response limit (Lambda's 6 MB) with advice, else send it."""
    data = body.model_dump_json(exclude_none=exclude_none).encode()
    check_response_size(state, len(data), count, what, hint)
    return Response(data, media_type="application/json")


def check_response_size(state: AppState, size: int, count: int, what: str, hint: str = "") -> None:
    """Past the limit, 413 with a message that says how far to split the request."""
    limit = state.settings.max_response_bytes
    if limit and size > limit:
        per_request = max(1, count * limit // size)
        raise ApiError(
            413,
            "response_too_large",
            f"the response would be {size} bytes, over the limit of {limit}; split the request into "
            f"requests of about {per_request} {what} or fewer{hint}",
        )
