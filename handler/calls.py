"""The steps every embed and rerank route shares: limits, the timed model call, usage facts, rendering.

Cost is bounded before the work: counts first, then a compute slot within the request's deadline; the runtime
tokenizes only what truncation keeps and stops between micro-batches when the request's stop token (deadline,
disconnect) says so.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi.responses import Response
from pydantic import BaseModel

from edge_encoders import EmbedResult, Limits, RerankResult
from edge_encoders.bundle import check_count, check_tokens_before
from handler import limits, tokens
from handler.admission import current_stop
from handler.observability import RequestFacts
from handler.state import AppState


def _limits(state: AppState) -> Limits:
    """Inputs, tokens and characters scanned per request: the runtime refuses past them (413) before inference."""
    settings = state.settings
    return Limits(
        max_inputs=settings.max_inputs, max_tokens=settings.max_tokens, max_scan_chars=settings.max_scan_chars
    )


def embed(state: AppState, facts: RequestFacts, texts: list[str], what: str, **options: Any) -> EmbedResult:
    """Embed after the input and token limits; options go to Embedder.embed_with_usage."""
    embedder = state.models.require_embedder()
    facts.inputs = len(texts)
    call_limits = _limits(state)
    check_count(len(texts), call_limits, what)
    stop = current_stop.get()
    with state.models.compute(None if stop is None else stop.remaining()):
        started = time.perf_counter()
        result = embedder.embed_with_usage(texts, limits=call_limits, stop=stop, **options)
        facts.compute_ms = (time.perf_counter() - started) * 1000
    facts.tokens = result.total_tokens
    return result


def rerank(
    state: AppState,
    facts: RequestFacts,
    query: str,
    documents: list[str],
    what: str,
    *,
    max_tokens_per_doc: int | None = None,
    **options: Any,
) -> RerankResult:
    """Rerank after the input and token limits; options go to Reranker.rerank_with_usage."""
    reranker = state.models.require_reranker()
    call_limits = _limits(state)
    check_count(len(documents), call_limits, what)
    bounds = reranker.tokenizer.pair_kept_lower_bound(query, documents, doc_cap=max_tokens_per_doc)
    check_tokens_before(bounds, call_limits, what)
    if max_tokens_per_doc is not None:
        documents = tokens.cut_documents(reranker, documents, max_tokens_per_doc)
    facts.inputs = len(documents)
    stop = current_stop.get()
    with state.models.compute(None if stop is None else stop.remaining()):
        started = time.perf_counter()
        result = reranker.rerank_with_usage(query, documents, limits=call_limits, stop=stop, **options)
        facts.compute_ms = (time.perf_counter() - started) * 1000
    facts.tokens = result.total_tokens
    return result


def render(state: AppState, body: BaseModel, count: int, what: str, hint: str = "") -> Response:
    """Serialize once, refuse a body over the response limit (Lambda's 6 MB) with advice, else send it."""
    data = body.model_dump_json(exclude_none=True).encode()
    limits.check_response(len(data), count, state.settings, what, hint)
    return Response(data, media_type="application/json")
