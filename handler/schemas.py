"""Request and response bodies: the native API, OpenAI embeddings, and Cohere v2 / Jina rerank in one shape.

Unknown request fields are ignored (clients send extras such as OpenAI's `user` or Jina's `rank_fields`),
so a client library upgrade does not break calls.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt

from edge_encoders.precision import Precision

EncodingFormat = Literal["float", "base64"]

# The config of the bodies the routes only send: each is built the first time one is made (a request to its
# route), not when this module is imported at every cold start (handler.sent_bodies builds them for uvicorn).
SENT = ConfigDict(defer_build=True)


def _not_a_bool(value: Any) -> Any:
    if isinstance(value, bool):  # pydantic would read true as 1: `dimensions: true` gave 1-dimensional vectors
        raise ValueError("give a whole number, not true or false")
    return value


# A count (dimensions, top_n, max_tokens, ...): a whole number as JSON sends it, never a boolean.
Count = Annotated[int, BeforeValidator(_not_a_bool)]


def text_list(value: str | list[str]) -> list[str]:
    """One text or a list of texts, as the list the runtime takes."""
    return [value] if isinstance(value, str) else value


# ---- native -------------------------------------------------------------------------------------------------
class EmbedRequest(BaseModel):
    inputs: str | list[str] = Field(description="One text or a list of texts.")
    normalize: bool | None = Field(None, description="L2-normalize; default: what the model was trained with.")
    truncate: bool = Field(True, description="Cut texts at the model's max_seq_length; false: 422 instead.")
    prompt_name: str | None = Field(None, description="A prompt of the model (see /info), e.g. 'query'.")
    prompt: str | None = Field(None, description="A literal prefix; give prompt_name or prompt, not both.")
    dimensions: Count | None = Field(None, ge=1, description="Matryoshka truncation to this many dimensions.")
    precision: Precision = "float32"
    encoding_format: EncodingFormat = Field(
        "float", description="base64: the raw little-endian bytes of each vector in its precision."
    )


class Usage(BaseModel):
    model_config = SENT

    prompt_tokens: int
    total_tokens: int


class EmbedResponse(BaseModel):
    model_config = SENT

    model: str
    dimensions: int
    precision: Precision
    encoding_format: EncodingFormat
    embeddings: list[list[float] | list[int] | str]
    usage: Usage


class RerankRequest(BaseModel):
    query: str
    texts: list[str]
    top_n: Count | None = Field(None, ge=1, description="Return only the best n.")
    raw_scores: bool = Field(False, description="Logits instead of the model's activation (e.g. sigmoid).")
    return_text: bool = False
    truncate: bool = True


class RerankItem(BaseModel):
    model_config = SENT

    index: int
    score: float
    text: str | None = None


class RerankResponse(BaseModel):
    model_config = SENT

    model: str
    results: list[RerankItem]
    usage: Usage


class TextDocument(BaseModel):
    """Jina's input object. Its other kinds ({image}, {pdf}) are kept as extra fields so the route can refuse
    them by name: read as text, {"text", "image"} would lose the image silently."""

    model_config = ConfigDict(extra="allow")

    text: str | None = None


# ---- OpenAI /v1/embeddings ---------------------------------------------------------------------------------
class OpenAIEmbeddingRequest(BaseModel):
    # Token-id arrays are accepted by the schema only to refuse them with a clear message (see the route).
    # {text} objects are Jina's form of the same list.
    input: str | list[str] | list[StrictInt] | list[list[StrictInt]] | list[TextDocument]
    model: str | None = None
    encoding_format: EncodingFormat | None = Field("float", description="float or base64; null means float.")
    dimensions: Count | None = Field(None, ge=1)
    user: str | None = None
    # Jina's embeddings fields, where they map onto what the runtime has
    task: str | None = Field(None, description="Jina: retrieval.query, retrieval.passage, ... -> the model's prompt")
    embedding_type: Literal["float", "base64", "binary", "ubinary"] | None = Field(
        None, description="Jina: float, base64 (float32 bytes), binary, ubinary (packed bits)"
    )
    normalized: bool | None = Field(None, description="Jina: L2-normalize (default: what the model does)")
    truncate: bool | None = Field(None, description="Jina: cut over-long inputs (default true, as OpenAI does)")
    # Jina fields that would change the answer and that this server cannot honour: true is refused (422)
    late_chunking: bool | None = Field(None, description="Jina: not supported (true is refused)")
    return_multivector: bool | None = Field(None, description="Jina: not supported (true is refused)")


class OpenAIModel(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class OpenAIModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[OpenAIModel]


class OpenAIEmbedding(BaseModel):
    model_config = SENT

    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | list[int] | str


class OpenAIEmbeddingResponse(BaseModel):
    model_config = SENT

    object: Literal["list"] = "list"
    data: list[OpenAIEmbedding]
    model: str
    usage: Usage


# ---- Cohere v2 / Jina rerank ---------------------------------------------------------------------------------
class CompatRerankRequest(BaseModel):
    query: str
    documents: list[str | dict[str, Any]] = Field(
        description="Strings (Cohere v2), {text} objects (Jina), or objects ranked on `rank_fields` (Cohere v1)."
    )
    model: str | None = None
    top_n: Count | None = Field(None, ge=1)
    return_documents: bool | None = Field(
        None, description="Default: true on /v1/rerank (Jina's documented default), false on /v2/rerank (Cohere)."
    )
    max_tokens_per_doc: Count | None = Field(None, ge=1, description="Cut each document to this many tokens.")
    rank_fields: list[str] | None = Field(
        None, description="Cohere v1: the object fields ranked on, in this order (default ['text'])."
    )
    max_chunks_per_doc: Count | None = Field(
        None, description="Cohere v1: not supported (refused): long documents are cut, not split into chunks."
    )


class CompatRerankResult(BaseModel):
    model_config = SENT

    index: int
    relevance_score: float
    document: dict[str, Any] | None = None


class CompatUsage(BaseModel):
    model_config = SENT

    total_tokens: int


class BilledUnits(BaseModel):
    model_config = SENT

    search_units: int
    input_tokens: int


class ApiVersion(BaseModel):
    model_config = SENT

    version: str = "2"


class CompatMeta(BaseModel):
    model_config = SENT

    api_version: ApiVersion = Field(default_factory=ApiVersion)
    billed_units: BilledUnits


class CompatRerankResponse(BaseModel):
    model_config = SENT

    id: str
    model: str
    results: list[CompatRerankResult]
    usage: CompatUsage
    meta: CompatMeta


# ---- health / info -----------------------------------------------------------------------------------------
class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"
    models: dict[str, str]


class ModelInfo(BaseModel):
    name: str
    kind: str
    variant: str
    max_seq_length: int
    dimension: int | None = None
    pooling: str | None = None
    normalize: bool | None = None
    prompts: dict[str, str] = Field(default_factory=dict)
    activation: str | None = None
    source: dict[str, object] = Field(default_factory=dict)
    validation: dict[str, object] = Field(default_factory=dict)
    build_key: str | None = None
    created_at: str | None = None
    load_seconds: float


class InfoResponse(BaseModel):
    service: str
    version: str
    models: dict[str, ModelInfo]
    unavailable: dict[str, str]
    limits: dict[str, object]
    versions: dict[str, str]
    init_seconds: float
