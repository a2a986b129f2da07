"""Cohere-compatible embeddings: POST /v1/embed (Client.embed) and POST /v2/embed (ClientV2.embed).

input_type picks the bundle's prompt (handler/prompts.py); embedding_types map onto the runtime's precisions
(float -> float32, int8, uint8, binary, ubinary; base64 is the float32 bytes); truncate NONE/START/END is
"refuse", "keep the end", "keep the start". Error bodies carry Cohere's top-level "message" and 413 becomes
400 on these paths (handler/dialects.py), so the SDK raises its own typed errors.
"""

from __future__ import annotations

import uuid

import numpy as np
from fastapi import APIRouter
from fastapi.responses import Response

from edge_encoders.families import EMBED
from edge_encoders.precision import Precision, quantize
from handler import calls, dialect_calls, overrides
from handler.error_docs import documented
from handler.errors import ApiError, error_responses
from handler.json_body import StrictJsonRoute
from handler.model_names import check_model
from handler.observability import RequestFacts
from handler.prompts import COHERE_INPUT_TYPES, choose_prompt
from handler.schemas_cohere import (
    CohereApiVersion,
    CohereBilledUnits,
    CohereByTypeResponse,
    CohereEmbedRequest,
    CohereFloatsResponse,
    CohereMeta,
)
from handler.state import AppState, FactsDep, StateDep

router = APIRouter(tags=["cohere"], dependency_overrides_provider=overrides.PROVIDER, route_class=StrictJsonRoute)
ERRORS = error_responses(400, 401, 404, 422, 500, 503)

_PRECISION: dict[str, Precision] = {
    "float": "float32", "base64": "float32", "int8": "int8", "uint8": "uint8", "binary": "binary", "ubinary": "ubinary"
}  # fmt: skip
# the model pass each type is derived from (sentence-transformers' quantize_embeddings: uint8 = int8 + 128)
_BASE: dict[str, Precision] = {
    "float": "float32", "base64": "float32", "binary": "float32", "ubinary": "float32", "int8": "int8", "uint8": "int8"
}  # fmt: skip


def _texts(body: CohereEmbedRequest) -> list[str]:
    if body.images:
        raise ApiError(422, "images_not_supported", "images are not supported: this server embeds text only")
    if body.texts is not None and body.inputs is not None:
        raise ApiError(422, "invalid_request", "give texts or inputs, not both")
    if body.inputs is not None:
        texts = []
        for i, item in enumerate(body.inputs):
            parts = [c.text for c in item.content if c.type == "text" and c.text is not None]
            if not item.content:
                raise ApiError(400, "empty_input", f"inputs[{i}].content is empty: give it at least one text part")
            if len(parts) != len(item.content):
                raise ApiError(422, "images_not_supported", f"inputs[{i}] holds non-text content; send text only")
            texts.append("".join(parts))
        return texts
    if body.texts is None:
        raise ApiError(400, "empty_input", "no texts given: send `texts` with at least one string")
    return body.texts


def _embed(
    body: CohereEmbedRequest, state: AppState, facts: RequestFacts, version: str
) -> CohereFloatsResponse | CohereByTypeResponse:
    texts = _texts(body)
    check_model(state, EMBED, body.model)
    if body.input_type == "image":
        raise ApiError(422, "images_not_supported", "input_type image is not supported: this server embeds text")
    manifest = state.models.require_embedder().manifest
    prompt = choose_prompt(manifest, body.input_type, COHERE_INPUT_TYPES, "input_type")
    if body.embedding_types == []:  # Cohere documents no meaning for it; floats would be a guess
        raise ApiError(
            422,
            "invalid_request",
            "embedding_types is empty: name at least one of float, int8, uint8, binary, ubinary, base64 "
            "(or leave it out for float)",
        )
    types = list(dict.fromkeys(body.embedding_types or ["float"]))
    # at most two model passes whatever the types: float32 gives float/base64/binary/ubinary, int8 gives uint8
    by_precision: dict[Precision, np.ndarray] = {}
    tokens = 0
    for base in dict.fromkeys(_BASE[t] for t in types):
        result = dialect_calls.embed(
            state,
            facts,
            texts,
            "texts",
            truncate=body.truncate != "NONE",  # null: Cohere's default, END
            direction="left" if body.truncate == "START" else "right",
            max_tokens=body.max_tokens,
            dimensions=body.output_dimension,
            precision=base,
            prompt_name=prompt.name,
            prompt=prompt.text,
        )
        by_precision[base] = result.embeddings
        tokens = result.total_tokens
    if "float32" in by_precision:
        for packed in ("binary", "ubinary"):
            by_precision[packed] = quantize(by_precision["float32"], packed)
    if "int8" in by_precision:
        by_precision["uint8"] = (by_precision["int8"].astype(np.int16) + 128).astype(np.uint8)
    meta = CohereMeta(
        api_version=CohereApiVersion(version=version), billed_units=CohereBilledUnits(input_tokens=tokens)
    )
    request_id = facts.request_id or uuid.uuid4().hex
    if version == "1" and body.embedding_types is None:
        rows = calls.encode_rows(by_precision["float32"], "float")
        return CohereFloatsResponse(id=request_id, embeddings=rows, texts=texts, meta=meta)  # type: ignore[arg-type]
    embeddings = {
        t: calls.encode_rows(by_precision[_PRECISION[t]], "base64" if t == "base64" else "float") for t in types
    }
    return CohereByTypeResponse(id=request_id, embeddings=embeddings, texts=texts, meta=meta)  # type: ignore[arg-type]


@router.post("/v1/embed", responses=ERRORS)
@documented(CohereFloatsResponse | CohereByTypeResponse)
def embed_v1(body: CohereEmbedRequest, state: StateDep, facts: FactsDep) -> Response:
    """Cohere v1 embed: floats by default, one array per type when embedding_types is given."""
    out = _embed(body, state, facts, "1")
    return calls.render(state, out, len(out.texts), "texts")


@router.post("/v2/embed", responses=ERRORS)
@documented(CohereByTypeResponse)
def embed_v2(body: CohereEmbedRequest, state: StateDep, facts: FactsDep) -> Response:
    """Cohere v2 embed: always by type (float unless embedding_types says otherwise)."""
    out = _embed(body, state, facts, "2")
    return calls.render(state, out, len(out.texts), "texts")
