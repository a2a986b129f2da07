"""Request and response bodies: the native API, OpenAI embeddings, and Cohere v2 / Jina rerank in one shape.

Unknown request fields are ignored (clients send extras such as OpenAI's `user` or Jina's `rank_fields`),
so a client library upgrade does not break calls.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Precision = Literal["float32", "int8", "uint8", "binary", "ubinary"]
EncodingFormat = Literal["float", "base64"]


# ---- native -------------------------------------------------------------------------------------------------
class EmbedRequest(BaseModel):
    inputs: str | list[str] = Field(description="One text or a list of texts.")
    normalize: bool | None = Field(None, description="L2-normalize; default: what the model was trained with.")
    truncate: bool = Field(True, description="Cut texts at the model's max_seq_length; false: 422 instead.")
    prompt_name: str | None = Field(None, description="A prompt of the model (see /info), e.g. 'query'.")
    prompt: str | None = Field(None, description="A literal prefix; give prompt_name or prompt, not both.")
    dimensions: int | None = Field(None, ge=1, description="Matryoshka truncation to this many dimensions.")
    precision: Precision = "float32"
    encoding_format: EncodingFormat = Field(
        "float", description="base64: the raw little-endian bytes of each vector in its precision."
    )


class Usage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbedResponse(BaseModel):
    model: str
    dimensions: int
    precision: Precision
    encoding_format: EncodingFormat
    embeddings: list[list[float] | list[int] | str]
    usage: Usage


class RerankRequest(BaseModel):
    query: str
    texts: list[str]
    top_n: int | None = Field(None, ge=1, description="Return only the best n.")
    raw_scores: bool = Field(False, description="Logits instead of the model's activation (e.g. sigmoid).")
    return_text: bool = False
    truncate: bool = True


class RerankItem(BaseModel):
    index: int
    score: float
    text: str | None = None


class RerankResponse(BaseModel):
    model: str
    results: list[RerankItem]
    usage: Usage


# ---- OpenAI /v1/embeddings ---------------------------------------------------------------------------------
class OpenAIEmbeddingRequest(BaseModel):
    # Token-id arrays are accepted by the schema only to refuse them with a clear message (see the route).
    input: str | list[str] | list[int] | list[list[int]]
    model: str | None = None
    encoding_format: EncodingFormat = "float"
    dimensions: int | None = Field(None, ge=1)
    user: str | None = None


class OpenAIEmbedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class OpenAIEmbeddingResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[OpenAIEmbedding]
    model: str
    usage: Usage


# ---- Cohere v2 / Jina rerank ---------------------------------------------------------------------------------
class TextDocument(BaseModel):
    text: str


class CompatRerankRequest(BaseModel):
    query: str
    documents: list[str | TextDocument] = Field(description="Strings (Cohere v2) or {text} objects (Jina, v1).")
    model: str | None = None
    top_n: int | None = Field(None, ge=1)
    return_documents: bool = False
    max_tokens_per_doc: int | None = Field(None, ge=1, description="Cut each document to this many tokens.")


class CompatRerankResult(BaseModel):
    index: int
    relevance_score: float
    document: TextDocument | None = None


class CompatUsage(BaseModel):
    total_tokens: int


class BilledUnits(BaseModel):
    search_units: int
    input_tokens: int


class ApiVersion(BaseModel):
    version: str = "2"


class CompatMeta(BaseModel):
    api_version: ApiVersion = Field(default_factory=ApiVersion)
    billed_units: BilledUnits


class CompatRerankResponse(BaseModel):
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
