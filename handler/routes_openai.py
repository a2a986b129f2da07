"""OpenAI-compatible POST /v1/embeddings (openai-python, LangChain, LlamaIndex point base_url here)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from handler import inference
from handler.errors import ApiError, error_responses
from handler.schemas import OpenAIEmbedding, OpenAIEmbeddingRequest, OpenAIEmbeddingResponse, Usage
from handler.state import FactsDep, StateDep
from handler.vectors import encode_rows

router = APIRouter(tags=["openai"])

TOKEN_IDS_MESSAGE = (
    "input holds token ids, but this server embeds text and its model uses its own tokenizer, so OpenAI "
    "token ids would give meaningless vectors; send strings. With LangChain's OpenAIEmbeddings, set "
    "check_embedding_ctx_length=False (it sends tiktoken ids by default)"
)


def _texts(value: str | list[str] | list[int] | list[list[int]]) -> list[str]:
    if isinstance(value, str):
        return [value]
    if all(isinstance(item, str) for item in value):
        return [str(item) for item in value]
    raise ApiError(422, "token_ids_not_supported", TOKEN_IDS_MESSAGE)


@router.post(
    "/v1/embeddings",
    response_model=OpenAIEmbeddingResponse,
    responses=error_responses(400, 401, 403, 404, 413, 422, 500, 503),
)
def create_embeddings(body: OpenAIEmbeddingRequest, state: StateDep, facts: FactsDep) -> Response:
    """Embeddings in OpenAI's shape; `encoding_format=base64` is little-endian float32, as openai-python expects."""
    texts = _texts(body.input)
    result = inference.embed(state, facts, texts, "inputs", dimensions=body.dimensions)
    rows = encode_rows(result.embeddings, body.encoding_format)
    out = OpenAIEmbeddingResponse(
        data=[OpenAIEmbedding(index=i, embedding=row) for i, row in enumerate(rows)],  # type: ignore[arg-type]
        model=state.models.require_embedder().manifest.name,
        usage=Usage(prompt_tokens=result.total_tokens, total_tokens=result.total_tokens),
    )
    hint = "" if body.encoding_format == "base64" else ", or use encoding_format=base64 (about 3x smaller)"
    return inference.render(state, out, len(texts), "inputs", hint)
