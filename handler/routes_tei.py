"""text-embeddings-inference (TEI) routes, matching TEI 1.9.3: /embed, /embed_all, /rerank, POST / and /invocations,
/similarity, /tokenize, /decode, /info, /metrics, and the health aliases GET / and /ping.

Clients written for TEI (huggingface_hub's InferenceClient, LlamaIndex's TextEmbeddingsInference and TEI
rerank, LangChain's HuggingFace endpoints, plain `requests`) work by pointing them here. Responses are TEI's
bare arrays; errors on these paths are TEI's {"error", "error_type"} (handler/dialects.py). Our richer answers
(usage, precision, dimensions, base64) stay at /native/embed and /native/rerank.
"""

from __future__ import annotations

import json

import numpy as np
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import ValidationError

import edge_encoders
from edge_encoders import Embedder, Reranker
from handler import calls, dialect_calls, json_body, nested_json, overrides, routes_meta, tokenization
from handler.error_docs import documented, ref_responses
from handler.errors import UNREADABLE_JSON, ApiError, from_validation
from handler.prometheus import Metrics
from handler.schemas import HealthResponse, text_list
from handler.schemas_tei import (
    TEI_VERSION,
    DecodeRequest,
    DecodeResponse,
    SimilarityRequest,
    SimilarityResponse,
    SimpleToken,
    TeiEmbedAllRequest,
    TeiEmbedAllResponse,
    TeiEmbedRequest,
    TeiEmbedResponse,
    TeiError,
    TeiInfo,
    TeiInput,
    TeiRank,
    TeiRerankRequest,
    TeiRerankResponse,
    TokenizeRequest,
    TokenizeResponse,
)
from handler.state import AppState, FactsDep, StateDep
from handler.token_ids import texts_from_ids

router = APIRouter(
    tags=["text-embeddings-inference"],
    dependency_overrides_provider=overrides.PROVIDER,
    route_class=json_body.StrictJsonRoute,
)


_STATUSES = {
    400: "Empty or malformed request",
    401: "Missing or wrong API key",
    404: "Model not served",
    413: "Too many inputs or tokens, or too large a body or response",
    422: "Validation",
    429: "Overloaded",
    500: "Backend",
    503: "Unhealthy",
}
ERRORS = ref_responses(TeiError, _STATUSES)


def _texts(state: AppState, inputs: TeiInput, field: str = "inputs") -> list[str]:
    if isinstance(inputs, str):
        return refuse_empty_strings(text_list(inputs), field, single=True)
    if all(isinstance(item, str) for item in inputs):
        return refuse_empty_strings([str(item) for item in inputs], field)
    if all(isinstance(i, int) for i in inputs):
        return texts_from_ids(state.models.require_embedder().tokenizer, [inputs], field)  # type: ignore[list-item]
    _check_batch(state, len(inputs), field)
    # a batch of id lists, or of texts and id lists mixed (TEI takes both)
    texts = [item if isinstance(item, str) else "" for item in inputs]
    id_rows = [(index, item) for index, item in enumerate(inputs) if isinstance(item, list)]
    for index, item in enumerate(inputs):
        if item == "":
            raise ApiError(422, "empty_text", f"`{field}` cannot be empty: `{field}[{index}]` is an empty string")
    decoded = texts_from_ids(
        state.models.require_embedder().tokenizer,
        [row for _, row in id_rows],
        field,
        positions=[index for index, _ in id_rows] if len(inputs) > 1 else None,
    )
    for (index, _), text in zip(id_rows, decoded, strict=True):
        texts[index] = text
    return texts


def refuse_empty_strings(texts: list[str], field: str, *, single: bool = False) -> list[str]:
    """TEI refuses an empty string ("`inputs` cannot be empty") rather than embed [CLS][SEP] as if it were text.

    Only the empty string: whitespace or characters the tokenizer drops are text, as in TEI.
    """
    for index, text in enumerate(texts):
        if text == "":
            where = f"`{field}`" if single else f"`{field}[{index}]`"
            raise ApiError(422, "empty_text", f"`{field}` cannot be empty: {where} is an empty string")
    return texts


# the embed fields an Inference API / SageMaker body may carry under `parameters` instead of at the top level
EMBED_PARAMETERS = ("normalize", "truncate", "truncation_direction", "prompt_name", "dimensions")


def with_parameters(body: TeiEmbedRequest) -> TeiEmbedRequest:
    """The body with its `parameters` read as the embed fields they name. Another task's parameters (top_k,
    candidate_labels, ...: huggingface_hub's text_classification or zero_shot_classification sent here) are a
    422 rather than ignored: the caller would get vectors where it expects labels. A field given both ways
    with two values is a 422 too."""
    params = body.parameters
    if not params:
        return body
    unknown = sorted(set(params) - set(EMBED_PARAMETERS))
    if unknown:
        raise ApiError(
            422,
            "unsupported_parameter",
            f"`parameters.{unknown[0]}` is not supported: this server answers feature extraction (embeddings) and "
            f"sentence similarity, whose parameters are {', '.join(EMBED_PARAMETERS)}",
        )
    top = body.model_dump(exclude_unset=True, exclude={"parameters"})
    clash = next((k for k in params if k in top and top[k] != params[k]), None)
    if clash is not None:
        raise ApiError(
            422, "invalid_request", f"`{clash}` is given twice, with two values: at the top and in `parameters`"
        )
    merged = {**top, **params}
    try:
        return TeiEmbedRequest.model_validate(merged)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", "parameters", *e["loc"])} for e in exc.errors()]
        raise from_validation(RequestValidationError(errors)) from None


def _truncate(state: AppState, value: bool | None) -> bool:
    return state.settings.auto_truncate if value is None else value


@router.post("/embed", responses=ERRORS)
@documented(TeiEmbedResponse)
def embed(body: TeiEmbedRequest, state: StateDep, facts: FactsDep) -> Response:
    """Embeddings as TEI returns them: [[float, ...], ...]."""
    body = with_parameters(body)
    texts = _texts(state, body.inputs)
    result = dialect_calls.embed(
        state,
        facts,
        texts,
        "inputs",
        truncate=_truncate(state, body.truncate),
        direction=body.truncation_direction,
        prompt_name=body.prompt_name,
        normalize=body.normalize,
        dimensions=body.dimensions,
    )
    out = TeiEmbedResponse(calls.encode_rows(result.embeddings, "float"))  # type: ignore[arg-type]
    return calls.render(state, out, len(texts), "inputs")


@router.post("/embed_all", responses=ERRORS)
@documented(TeiEmbedAllResponse)
def embed_all(body: TeiEmbedAllRequest, state: StateDep, facts: FactsDep) -> Response:
    """Every token's vector before pooling, as TEI's /embed_all: [[[float, ...] per token] per input], special
    (and prompt) tokens included, not normalized. Tokens per call are also bounded by the response limit."""
    if body.normalize:  # TEI would ignore it; the answer would not be what the caller asked for
        raise ApiError(
            422,
            "unsupported_parameter",
            "`normalize` is not supported on /embed_all: token vectors are never normalized",
        )
    texts = _texts(state, body.inputs)
    result = dialect_calls.embed_tokens(
        state,
        facts,
        texts,
        "inputs",
        truncate=_truncate(state, body.truncate),
        direction=body.truncation_direction,
        prompt_name=body.prompt_name,
    )
    return nested_json.render_token_vectors(state, result.rows, "inputs")


@router.post("/rerank", responses=ERRORS)
@documented(TeiRerankResponse)
def rerank(body: TeiRerankRequest, state: StateDep, facts: FactsDep) -> Response:
    """Texts scored against the query, best first: [{index, score, text?}, ...]."""
    if body.query == "":  # TEI refuses a pair only when both of its texts are empty
        refuse_empty_strings(body.texts, "texts")
    result = dialect_calls.rerank(
        state,
        facts,
        body.query,
        body.texts,
        "texts",
        truncate=_truncate(state, body.truncate),
        direction=body.truncation_direction,
        raw_scores=body.raw_scores,
    )
    # the texts as sent, even when Left truncation cut them
    ranks = [
        TeiRank(index=h.index, score=h.score, text=body.texts[h.index] if body.return_text else None)
        for h in result.hits
    ]
    out = TeiRerankResponse(ranks)
    return calls.render(state, out, len(body.texts), "texts")


@router.post("/similarity", responses=ERRORS)
@documented(SimilarityResponse)
def similarity(body: SimilarityRequest, state: StateDep, facts: FactsDep) -> Response:
    """Cosine similarity of each sentence to the source sentence (what TEI's sentence-similarity task returns)."""
    sentences = body.inputs.sentences
    if not sentences:
        raise ApiError(400, "empty_input", "`inputs.sentences` cannot be empty")
    refuse_empty_strings([body.inputs.source_sentence], "inputs.source_sentence", single=True)
    refuse_empty_strings(sentences, "inputs.sentences")
    limit = state.settings.max_inputs
    if len(sentences) + 1 > limit:  # the source sentence is embedded in the same call
        raise ApiError(
            413,
            "too_many_inputs",
            f"{len(sentences)} sentences plus the source sentence is {len(sentences) + 1} texts in one call, over "
            f"the limit of {limit}; send at most {limit - 1} sentences per call",
        )
    params = body.parameters
    result = dialect_calls.embed(
        state,
        facts,
        [body.inputs.source_sentence, *sentences],
        "sentences",
        truncate=_truncate(state, params.truncate if params else None),
        direction=params.truncation_direction if params else "Right",
        prompt_name=params.prompt_name if params else None,
        normalize=True,
    )
    vectors = result.embeddings
    scores = vectors[1:] @ vectors[0]  # unit vectors: the dot product is the cosine
    out = SimilarityResponse([float(s) for s in np.asarray(scores, dtype=np.float32).astype(str)])
    return calls.render(state, out, len(sentences), "sentences")


@router.post("/", responses={200: {"description": "As /embed, /similarity or /rerank"}, **ERRORS})
@router.post("/invocations", responses={200: {"description": "As POST / (SageMaker's route)"}, **ERRORS})
async def predict(request: Request, state: StateDep, facts: FactsDep) -> Response:
    """TEI's POST /: embeddings, or similarities when `inputs` holds `source_sentence` (what huggingface_hub's
    InferenceClient sends to a base URL); a reranking body ({query, texts}) when this server serves no embedder.
    """
    try:
        data = json_body.loads(await request.body() or b"null")
    except json_body.DuplicateKeyError as exc:
        raise exc.error from None
    except json.JSONDecodeError:
        raise ApiError(400, "malformed_json", "request body is not valid JSON") from None
    except ValueError:  # not UTF-8/16/32, or an integer past Python's digit limit
        raise ApiError(400, "malformed_json", UNREADABLE_JSON) from None
    except RecursionError:  # arrays or objects nested thousands deep: the parser's stack, not our failure
        raise ApiError(400, "malformed_json", "request body is not valid JSON: it is nested too deeply") from None
    if not isinstance(data, dict):
        raise ApiError(400, "malformed_body", "request body must be a JSON object")
    try:
        if isinstance(data.get("inputs"), dict):
            return similarity(SimilarityRequest.model_validate(data), state, facts)
        if state.models.embedder is None and "query" in data:
            return rerank(TeiRerankRequest.model_validate(data), state, facts)
        return embed(TeiEmbedRequest.model_validate(data), state, facts)
    except ValidationError as exc:
        raise from_validation(
            RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])
        ) from None


@router.get("/", response_model=HealthResponse, responses=ERRORS)
@router.get("/ping", response_model=HealthResponse, responses=ERRORS)
async def health(state: StateDep) -> HealthResponse:
    """TEI's other health routes (the Inference API's GET / and SageMaker's GET /ping): as GET /health."""
    return await routes_meta.health(state)


def _tokenizer_model(state: AppState) -> Embedder | Reranker:
    """The model whose tokenizer /tokenize and /decode use: the embedder, or the reranker when it is alone."""
    if state.models.embedder is not None or state.models.reranker is None:
        return state.models.require_embedder()
    return state.models.require_reranker()


@router.post("/tokenize", responses=ERRORS)
@documented(TokenizeResponse)
def tokenize(body: TokenizeRequest, state: StateDep) -> Response:
    """The model's tokens of each input: [[{id, text, special, start, stop}, ...], ...]."""
    texts = refuse_empty_strings(text_list(body.inputs), "inputs", single=isinstance(body.inputs, str))
    _check_batch(state, len(texts), "inputs")
    model = _tokenizer_model(state)
    prefix = state.models.require_embedder().prompt_text(body.prompt_name) if body.prompt_name else ""
    _check_scan_chars(state, [len(prefix) + len(text) for text in texts], single=isinstance(body.inputs, str))
    result: list[list[SimpleToken]] = []
    total = 0
    for text in texts:
        room = state.settings.max_tokens - total
        tokens = tokenization.tokenize(
            model.tokenizer, prefix + text, add_special_tokens=body.add_special_tokens, limit=room
        )
        total += room + 1 if tokens is None else len(tokens)
        if tokens is None or total > state.settings.max_tokens:
            raise ApiError(
                413,
                "too_many_tokens",
                f"more than {state.settings.max_tokens} tokens in one call; split the inputs over several calls",
            )
        result.append([SimpleToken(**t.__dict__) for t in tokens])
    # nulls kept: TEI sends start/stop null
    return calls.render(state, TokenizeResponse(result), len(texts), "inputs", exclude_none=False)


def _check_scan_chars(state: AppState, lengths: list[int], *, single: bool) -> None:
    """/tokenize answers every token, so it tokenizes each input whole: refuse one longer than the characters
    the embed routes tokenize at most (EDGE_MAX_SCAN_CHARS), before any is tokenized. Without it a 6 MB word
    or whitespace run (a token or none) cost 12 s and 300 MB; prose within the token limit is far shorter."""
    limit = state.settings.max_scan_chars
    for index, length in enumerate(lengths):
        if length > limit:
            field = "inputs" if single else f"inputs[{index}]"
            raise ApiError(
                413,
                "input_unbounded",
                f"{field} has {length} characters; /tokenize tokenizes at most {limit} characters of one input "
                "(EDGE_MAX_SCAN_CHARS): split it into several inputs",
            )


@router.post("/decode", responses=ERRORS)
@documented(DecodeResponse)
def decode(body: DecodeRequest, state: StateDep) -> Response:
    """Token ids back to text, one string per id list."""
    batches: list[list[int]] = (
        [body.ids] if not body.ids or isinstance(body.ids[0], int) else body.ids  # type: ignore[list-item]
    )
    _check_batch(state, len(batches), "ids")
    model = _tokenizer_model(state)
    vocab = tokenization.raw_tokenizer(model.tokenizer).get_vocab_size(with_added_tokens=True)
    texts = []
    for row, ids in enumerate(batches):
        if not ids:  # TEI: "`input_ids` cannot be empty"
            raise ApiError(422, "empty_input", f"`ids` cannot be empty: `ids[{row}]` holds no token ids")
        bad = next((i for i in ids if not 0 <= i < vocab), None)
        if bad is not None:
            raise ApiError(422, "invalid_token_id", f"ids[{row}] holds {bad}, outside this vocabulary (0..{vocab - 1})")
        texts.append(tokenization.decode(model.tokenizer, ids, skip_special_tokens=body.skip_special_tokens))
    return calls.render(state, DecodeResponse(texts), len(batches), "id lists")


def _check_batch(state: AppState, count: int, field: str) -> None:
    if count == 0:
        raise ApiError(400, "empty_input", f"`{field}` cannot be empty")
    if count > state.settings.max_inputs:
        raise ApiError(
            413,
            "too_many_inputs",
            f"batch size {count} > maximum allowed batch size {state.settings.max_inputs}; split the request",
        )


@router.get("/info", responses=ERRORS)
@documented(TeiInfo)
async def info(state: StateDep) -> Response:
    """TEI's /info for the embedding model (the reranker when it is the only model). Ours: /native/info."""
    model = _tokenizer_model(state)
    manifest = model.manifest
    if isinstance(model, Embedder):
        model_type: dict[str, dict[str, object]] = {"embedding": {"pooling": str(manifest.pooling)}}
    else:
        labels = manifest.num_labels or 1
        model_type = {
            "reranker": {
                "id2label": {str(i): f"LABEL_{i}" for i in range(labels)},
                "label2id": {f"LABEL_{i}": i for i in range(labels)},
            }
        }
    revision = manifest.source.get("revision") if isinstance(manifest.source, dict) else None
    out = TeiInfo(
        model_id=manifest.name,
        model_sha=str(revision) if revision else None,
        model_dtype="int8" if model.variant.startswith("int8") else "float32",
        served_model_name=manifest.name,
        model_type=model_type,
        max_concurrent_requests=state.settings.max_concurrency,
        max_input_length=manifest.max_seq_length,
        max_batch_tokens=state.settings.max_tokens,
        max_batch_requests=None,
        max_client_batch_size=state.settings.max_inputs,
        auto_truncate=state.settings.auto_truncate,
        tokenization_workers=1,
        version=TEI_VERSION,
        sha=None,
        docker_label=None,
        edge_encoders_version=edge_encoders.__version__,
    )
    return JSONResponse(out.model_dump())


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses=ref_responses(TeiError, _STATUSES, media_type="text/plain"),
)
async def metrics(request: Request) -> Response:
    """Request counts and latency histograms of this process, Prometheus text format (TEI's metric names)."""
    registry: Metrics = request.app.state.metrics
    return PlainTextResponse(registry.render(), media_type="text/plain; version=0.0.4")
