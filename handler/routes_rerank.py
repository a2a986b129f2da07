"""Cohere and Jina compatible rerank at /v1/rerank (Cohere v1 and Jina) and /v2/rerank (Cohere v2).

One request shape covers them: documents as strings (Cohere v2), {text} objects (Jina), or objects ranked on
`rank_fields` (Cohere v1); the response carries Jina's `usage` and Cohere's `id` / `meta.billed_units` so
each SDK parses it. `return_documents` defaults to true on /v1/rerank, as Jina documents it (Cohere v1 clients
ignore the extra field), and to false on /v2/rerank.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from edge_encoders.families import RERANK
from handler import calls, overrides
from handler.error_docs import documented
from handler.errors import ApiError, error_responses
from handler.json_body import StrictJsonRoute
from handler.model_names import check_model
from handler.observability import RequestFacts
from handler.schemas import (
    BilledUnits,
    CompatMeta,
    CompatRerankRequest,
    CompatRerankResponse,
    CompatRerankResult,
    CompatUsage,
)
from handler.state import AppState, FactsDep, StateDep

router = APIRouter(
    tags=["cohere / jina"], dependency_overrides_provider=overrides.PROVIDER, route_class=StrictJsonRoute
)
ERRORS = error_responses(400, 401, 404, 422, 500, 503)


def document_text(document: str | dict[str, Any], index: int, rank_fields: list[str] | None) -> str:
    """The text ranked for one document: the string, its `text`, or its rank_fields as 'field: value' lines."""
    if isinstance(document, str):
        return document
    fields = rank_fields or ["text"]
    missing = [f for f in fields if f not in document]
    if missing:
        raise ApiError(
            422, "invalid_request", f"documents[{index}] has no field {missing[0]!r} (rank_fields: {fields})"
        )
    if fields == ["text"]:
        value = document["text"]
        if not isinstance(value, str):
            raise ApiError(422, "invalid_request", f"documents[{index}].text must be a string")
        return value
    return "\n".join(f"{f}: {_field_text(document[f])}" for f in fields)


def _field_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _rerank(body: CompatRerankRequest, state: AppState, facts: RequestFacts, return_default: bool) -> Response:
    model = check_model(state, RERANK, body.model)
    if body.max_chunks_per_doc is not None:
        limit = state.models.require_reranker().manifest.max_seq_length
        raise ApiError(
            422,
            "unsupported_parameter",
            f"`max_chunks_per_doc` is not supported: a document is scored on what fits the model's {limit} tokens "
            "with the query (cut, not split into chunks; `max_tokens_per_doc` cuts shorter); leave it out, or "
            "split long documents yourself",
        )
    documents = [document_text(d, i, body.rank_fields) for i, d in enumerate(body.documents)]
    _refuse_blank(body.query, documents)
    result = calls.rerank(
        state,
        facts,
        body.query,
        documents,
        "documents",
        max_tokens_per_doc=body.max_tokens_per_doc,
        top_n=body.top_n,
        return_documents=False,
    )
    return_documents = return_default if body.return_documents is None else body.return_documents
    results = [
        CompatRerankResult(
            index=hit.index,
            relevance_score=hit.score,
            # the document as sent (not cut by max_tokens_per_doc), as Cohere and Jina return it
            document=_as_sent(body.documents[hit.index]) if return_documents else None,
        )
        for hit in result.hits
    ]
    out = CompatRerankResponse(
        id=facts.request_id or uuid.uuid4().hex,
        model=model,
        results=results,
        usage=CompatUsage(total_tokens=result.total_tokens),
        meta=CompatMeta(billed_units=BilledUnits(search_units=1, input_tokens=result.total_tokens)),
    )
    return calls.render(state, out, len(documents), "documents")


def _refuse_blank(query: str, documents: list[str]) -> None:
    """Cohere's own 400s (its error reference): nothing to rank against, or nothing to rank. Scores for blank
    text would be numbers with no meaning, returned as if they ranked something."""
    if not query.strip():
        raise ApiError(400, "invalid_request", "invalid request: query must not be empty or be only whitespace")
    if documents and not any(d.strip() for d in documents):
        raise ApiError(
            400,
            "invalid_request",
            "invalid request: list of documents must not contain only empty strings or only whitespace",
        )


def _as_sent(document: str | dict[str, Any]) -> dict[str, Any]:
    return {"text": document} if isinstance(document, str) else document


@router.post("/v1/rerank", responses=ERRORS)
@documented(CompatRerankResponse)
def rerank_v1(body: CompatRerankRequest, state: StateDep, facts: FactsDep) -> Response:
    """Jina and Cohere v1: documents ranked by relevance to the query, best first, with their text by default."""
    return _rerank(body, state, facts, return_default=True)


@router.post("/v2/rerank", responses=ERRORS)
@documented(CompatRerankResponse)
def rerank_v2(body: CompatRerankRequest, state: StateDep, facts: FactsDep) -> Response:
    """Cohere v2: documents ranked by relevance to the query, best first."""
    return _rerank(body, state, facts, return_default=False)
