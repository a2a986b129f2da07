"""Cohere v2 / Jina compatible rerank at /v1/rerank and /v2/rerank (where Cohere's SDK v2 posts).

One request shape covers both: documents as strings (Cohere v2) or {text} objects (Jina, Cohere v1); the
response carries Jina's `usage` and Cohere's `id` / `meta.billed_units` so either SDK parses it.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import Response

from handler import inference
from handler.errors import error_responses
from handler.schemas import (
    BilledUnits,
    CompatMeta,
    CompatRerankRequest,
    CompatRerankResponse,
    CompatRerankResult,
    CompatUsage,
    TextDocument,
)
from handler.state import FactsDep, StateDep

router = APIRouter(tags=["cohere / jina"])
ERRORS = error_responses(400, 401, 403, 404, 413, 422, 500, 503)


@router.post("/v1/rerank", response_model=CompatRerankResponse, responses=ERRORS)
@router.post("/v2/rerank", response_model=CompatRerankResponse, responses=ERRORS)
def rerank(body: CompatRerankRequest, state: StateDep, facts: FactsDep) -> Response:
    """Documents ranked by relevance to the query, best first."""
    documents = [d if isinstance(d, str) else d.text for d in body.documents]
    result = inference.rerank(
        state,
        facts,
        body.query,
        documents,
        "documents",
        max_tokens_per_doc=body.max_tokens_per_doc,
        top_n=body.top_n,
        return_documents=False,
    )
    results = [
        CompatRerankResult(
            index=hit.index,
            relevance_score=hit.score,
            # the document as sent (not cut by max_tokens_per_doc), as Cohere and Jina return it
            document=TextDocument(text=documents[hit.index]) if body.return_documents else None,
        )
        for hit in result.hits
    ]
    out = CompatRerankResponse(
        id=facts.request_id or uuid.uuid4().hex,
        model=state.models.require_reranker().manifest.name,
        results=results,
        usage=CompatUsage(total_tokens=result.total_tokens),
        meta=CompatMeta(billed_units=BilledUnits(search_units=1, input_tokens=result.total_tokens)),
    )
    return inference.render(state, out, len(documents), "documents")
