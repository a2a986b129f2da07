"""OpenAI-compatible POST /v1/embeddings and GET /v1/models (openai-python, LangChain, LlamaIndex point base_url
here), also taking Jina's embeddings fields (`task`, `embedding_type`, `normalized`, {text} inputs).

`model` must name the served model (or a configured alias): another name is a 404 model_not_found, never
another model's vectors (handler/model_names.py). An empty string is refused as OpenAI refuses it (400).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from fastapi.responses import Response

from edge_encoders import Manifest
from edge_encoders.families import EMBED, FAMILIES
from edge_encoders.precision import Precision
from handler import calls, dialect_calls, overrides
from handler.error_docs import documented
from handler.errors import ApiError, error_responses
from handler.json_body import StrictJsonRoute
from handler.model_names import check_model, served_names
from handler.prompts import JINA_TASKS, choose_prompt
from handler.schemas import (
    OpenAIEmbedding,
    OpenAIEmbeddingRequest,
    OpenAIEmbeddingResponse,
    OpenAIModel,
    OpenAIModelList,
    TextDocument,
    Usage,
)
from handler.state import AppState, FactsDep, StateDep

router = APIRouter(tags=["openai"], dependency_overrides_provider=overrides.PROVIDER, route_class=StrictJsonRoute)

TOKEN_IDS_MESSAGE = (
    "input holds token ids, but this server embeds text and its model uses its own tokenizer, so OpenAI "
    "token ids would give meaningless vectors; send strings. With LangChain's OpenAIEmbeddings, set "
    "check_embedding_ctx_length=False (it sends tiktoken ids by default)"
)
EMPTY_MESSAGE = "'$.input' is invalid: {where} is an empty string; every input must be a non-empty string"
_UNSUPPORTED_JINA = {
    "late_chunking": "each input is embedded on its own here, not as a chunk of the concatenated inputs",
    "return_multivector": "this server returns one vector per input (token vectors: TEI's POST /embed_all)",
}
_PRECISION: dict[str, Precision] = {"float": "float32", "base64": "float32", "binary": "binary", "ubinary": "ubinary"}


_MEDIA = frozenset({"image", "images", "pdf", "audio", "video", "url"})  # Jina's non-text input kinds and kin


def _document_text(document: TextDocument, index: int) -> str:
    """The text of Jina's {text} object; an object of another kind (image, pdf, ...) is refused by name."""
    others = sorted(document.model_extra or {})
    media = [key for key in others if key in _MEDIA]
    if media:
        raise ApiError(
            422,
            "images_not_supported",
            f'input[{index}] has {media[0]}: this server embeds text only; send {{"text": ...}} objects',
        )
    if others:
        raise ApiError(
            422, "unsupported_parameter", f'input[{index}].{others[0]} is not supported: send {{"text": ...}} objects'
        )
    if document.text is None:
        raise ApiError(422, "invalid_request", f'input[{index}].text is missing: send {{"text": ...}} objects')
    return document.text


def _texts(value: str | list[str] | list[int] | list[list[int]] | list[TextDocument]) -> list[str]:
    if isinstance(value, str):
        texts = [value]
    elif all(isinstance(item, str) for item in value):
        texts = [str(item) for item in value]
    elif all(isinstance(item, TextDocument) for item in value):
        texts = [_document_text(item, index) for index, item in enumerate(value) if isinstance(item, TextDocument)]
    else:
        raise ApiError(422, "token_ids_not_supported", TOKEN_IDS_MESSAGE)
    for index, text in enumerate(texts):
        if text == "":
            where = "input" if isinstance(value, str) else f"input[{index}]"
            raise ApiError(400, "invalid_request", EMPTY_MESSAGE.format(where=where))
    return texts


@router.post(
    "/v1/embeddings",
    responses=error_responses(400, 401, 404, 413, 422, 500, 503),
)
@router.post(  # TEI serves OpenAI's route without the /v1 prefix too
    "/embeddings",
    responses=error_responses(400, 401, 404, 413, 422, 500, 503),
)
@documented(OpenAIEmbeddingResponse)
def create_embeddings(body: OpenAIEmbeddingRequest, state: StateDep, facts: FactsDep) -> Response:
    """Embeddings in OpenAI's shape; `encoding_format=base64` is little-endian float32, as openai-python expects."""
    model = check_model(state, EMBED, body.model)
    for field, why in _UNSUPPORTED_JINA.items():
        if getattr(body, field):
            raise ApiError(422, "unsupported_parameter", f"`{field}` is not supported: {why}; leave it out or false")
    texts = _texts(body.input)
    manifest = state.models.require_embedder().manifest
    prompt = choose_prompt(manifest, body.task, JINA_TASKS, "task")
    kind = body.embedding_type or body.encoding_format or "float"
    result = dialect_calls.embed(
        state,
        facts,
        texts,
        "inputs",
        truncate=True if body.truncate is None else body.truncate,
        dimensions=body.dimensions,
        normalize=body.normalized,
        precision=_PRECISION[kind],
        prompt_name=prompt.name,
        prompt=prompt.text,
    )
    rows = calls.encode_rows(result.embeddings, "base64" if kind == "base64" else "float")
    out = OpenAIEmbeddingResponse(
        data=[OpenAIEmbedding(index=i, embedding=row) for i, row in enumerate(rows)],
        model=model,
        usage=Usage(prompt_tokens=result.total_tokens, total_tokens=result.total_tokens),
    )
    hint = "" if kind == "base64" else ", or use encoding_format=base64 (about 3x smaller)"
    return calls.render(state, out, len(texts), "inputs", hint)


def _created(manifest: Manifest) -> int:
    try:
        return int(datetime.fromisoformat(str(manifest.created_at).replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


def _models(state: AppState) -> list[OpenAIModel]:
    out = []
    for family in FAMILIES:
        model = state.models.get(family)
        if model is None:
            continue
        created = _created(model.manifest)
        out += [OpenAIModel(id=name, created=created, owned_by="edge-encoders") for name in served_names(state, family)]
    return out


@router.get("/v1/models", response_model=OpenAIModelList, responses=error_responses(401, 500, 503))
async def list_models(state: StateDep) -> OpenAIModelList:
    """The names requests may use: each served model's own name, then its configured aliases."""
    return OpenAIModelList(data=_models(state))


@router.get("/v1/models/{model_id:path}", response_model=OpenAIModel, responses=error_responses(401, 404, 500, 503))
async def get_model(model_id: str, state: StateDep) -> OpenAIModel:
    """One model by name; 404 model_not_found for a name this server does not serve."""
    for model in _models(state):
        if model.id == model_id:
            return model
    raise ApiError(404, "model_not_found", f"The model {model_id!r} does not exist or you do not have access to it")
