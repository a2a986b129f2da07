"""Native routes: POST /native/embed and POST /native/rerank, exposing every option of the runtime.

TEI owns /embed and /rerank (handler/routes_tei.py); these keep our richer answers: usage, precision,
dimensions, base64.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from handler import calls, overrides
from handler.error_docs import documented
from handler.errors import error_responses
from handler.json_body import StrictJsonRoute
from handler.schemas import (
    EmbedRequest,
    EmbedResponse,
    RerankItem,
    RerankRequest,
    RerankResponse,
    Usage,
    text_list,
)
from handler.state import FactsDep, StateDep

router = APIRouter(tags=["native"], dependency_overrides_provider=overrides.PROVIDER, route_class=StrictJsonRoute)
ERRORS = error_responses(400, 401, 403, 404, 413, 422, 500, 503)


@router.post("/native/embed", responses=ERRORS)
@documented(EmbedResponse)
def embed(body: EmbedRequest, state: StateDep, facts: FactsDep) -> Response:
    """Embed one text or a list of texts."""
    texts = text_list(body.inputs)
    result = calls.embed(
        state,
        facts,
        texts,
        "inputs",
        prompt_name=body.prompt_name,
        prompt=body.prompt,
        dimensions=body.dimensions,
        normalize=body.normalize,
        precision=body.precision,
        truncate=body.truncate,
    )
    out = EmbedResponse(
        model=result.model.manifest.name,
        dimensions=body.dimensions or result.model.dimension,
        precision=body.precision,
        encoding_format=body.encoding_format,
        embeddings=calls.encode_rows(result.embeddings, body.encoding_format),
        usage=Usage(prompt_tokens=result.total_tokens, total_tokens=result.total_tokens),
    )
    hint = "" if body.encoding_format == "base64" else ", or ask for encoding_format=base64 (about 3x smaller)"
    return calls.render(state, out, len(texts), "inputs", hint)


@router.post("/native/rerank", responses=ERRORS)
@documented(RerankResponse)
def rerank(body: RerankRequest, state: StateDep, facts: FactsDep) -> Response:
    """Score texts against a query with the cross-encoder; results best first."""
    result = calls.rerank(
        state,
        facts,
        body.query,
        body.texts,
        "texts",
        top_n=body.top_n,
        return_documents=body.return_text,
        raw_scores=body.raw_scores,
        truncate=body.truncate,
    )
    out = RerankResponse(
        model=result.model.manifest.name,
        results=[RerankItem(index=h.index, score=h.score, text=h.document) for h in result.hits],
        usage=Usage(prompt_tokens=result.total_tokens, total_tokens=result.total_tokens),
    )
    return calls.render(state, out, len(body.texts), "texts")
