"""Cohere embed bodies (v1 and v2), as the Cohere SDK (5.x) sends and parses them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from handler.schemas import SENT, Count

CohereEmbeddingType = Literal["float", "int8", "uint8", "binary", "ubinary", "base64"]
CohereTruncate = Literal["NONE", "START", "END"]


class CohereTextContent(BaseModel):
    type: str = "text"
    text: str | None = None


class CohereInput(BaseModel):
    content: list[CohereTextContent]


class CohereEmbedRequest(BaseModel):
    """v1 and v2: texts (or v2's text-only `inputs`), input_type, embedding_types, truncate, ..."""

    texts: list[str] | None = None
    images: list[Any] | None = None
    inputs: list[CohereInput] | None = None
    model: str | None = None
    input_type: str | None = Field(None, description="search_query, search_document, classification, clustering")
    embedding_types: list[CohereEmbeddingType] | None = Field(
        None,
        description="Types to answer, one array each; absent or null: float. An empty list is refused (422).",
        json_schema_extra={"minItems": 1},
    )
    truncate: CohereTruncate | None = Field(
        "END", description="NONE, START or END; null means END (LangChain sends null)."
    )
    max_tokens: Count | None = Field(None, ge=1, description="Cut each input to this many tokens (per `truncate`).")
    output_dimension: Count | None = Field(None, ge=1, description="Matryoshka truncation to this many dimensions.")


class CohereApiVersion(BaseModel):
    model_config = SENT

    version: str


class CohereBilledUnits(BaseModel):
    model_config = SENT

    input_tokens: int


class CohereMeta(BaseModel):
    model_config = SENT

    api_version: CohereApiVersion
    billed_units: CohereBilledUnits


class CohereFloatsResponse(BaseModel):
    """v1 without embedding_types."""

    model_config = SENT

    response_type: Literal["embeddings_floats"] = "embeddings_floats"
    id: str
    embeddings: list[list[float]]
    texts: list[str]
    meta: CohereMeta


class CohereByTypeResponse(BaseModel):
    """v2, and v1 with embedding_types: one array per requested type."""

    model_config = SENT

    response_type: Literal["embeddings_by_type"] = "embeddings_by_type"
    id: str
    embeddings: dict[str, list[list[float]] | list[list[int]] | list[str]]
    texts: list[str]
    meta: CohereMeta
