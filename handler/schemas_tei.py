"""Request and response bodies of the TEI routes, as text-embeddings-inference 1.9.3 defines them.

Field names, defaults and response shapes follow the router types and `Info` of TEI 1.9.3: bare arrays as
responses, `truncate` absent meaning the server's auto_truncate (false unless EDGE_AUTO_TRUNCATE), `normalize`
true, `truncation_direction` Right. Unknown fields are ignored, as TEI ignores them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, RootModel, StrictInt

from handler.schemas import SENT, Count

TEI_VERSION = "1.9.3"

Direction = Literal["Left", "Right", "left", "right"]
# TEI's EmbeddingInput: a text, token ids, or a batch of texts and id lists (mixed, as TEI takes them); the ids
# are checked and decoded by the route. Strict: [true] is not a token id.
TeiInput = str | list[str] | list[StrictInt] | list[list[StrictInt]] | list[str | list[StrictInt]]
# The bare-array responses below are `RootModel[Any]` with their `root` declared: the same model, schema and
# validation as `RootModel[<root type>]`, without pydantic building a parametrized RootModel class for each at
# import (the one `RootModel[Any]` is shared).


class TeiEmbedRequest(BaseModel):
    inputs: TeiInput = Field(description="One text or a list of texts.")
    truncate: bool | None = Field(None, description="Cut over-long inputs; absent: the server's auto_truncate.")
    truncation_direction: Direction = Field("Right", description="Right keeps the start, Left keeps the end.")
    prompt_name: str | None = Field(None, description="A prompt of the model's `prompts`, e.g. 'query'.")
    normalize: bool = True
    dimensions: Count | None = Field(None, ge=1, description="Matryoshka truncation to this many dimensions.")
    parameters: dict[str, Any] | None = Field(
        None,
        description="The Inference API / SageMaker form of the fields above ({inputs, parameters: {normalize, ...}}); "
        "any other parameter (another task's, e.g. top_k) is refused.",
    )


class TeiEmbedResponse(RootModel[Any]):
    """[[float, ...], ...]: one vector per input, in input order."""

    model_config = SENT
    root: list[list[float]]


class TeiEmbedAllRequest(BaseModel):
    inputs: TeiInput = Field(description="One text or a list of texts.")
    truncate: bool | None = Field(None, description="Cut over-long inputs; absent: the server's auto_truncate.")
    truncation_direction: Direction = Field("Right", description="Right keeps the start, Left keeps the end.")
    prompt_name: str | None = Field(None, description="A prompt of the model's `prompts`, e.g. 'query'.")
    normalize: bool | None = Field(None, description="Not TEI's: token vectors are never normalized (true: 422).")


class TeiEmbedAllResponse(RootModel[Any]):
    """[[[float, ...] per token] per input]: the model's token vectors before pooling, special tokens included."""

    model_config = SENT
    root: list[list[list[float]]]


class TeiRerankRequest(BaseModel):
    query: str
    texts: list[str]
    truncate: bool | None = None
    truncation_direction: Direction = "Right"
    raw_scores: bool = False
    return_text: bool = False


class TeiRank(BaseModel):
    model_config = SENT

    index: int
    text: str | None = None
    score: float


class TeiRerankResponse(RootModel[Any]):
    """[{index, score, text?}, ...], best first."""

    model_config = SENT
    root: list[TeiRank]


class SimilarityInput(BaseModel):
    source_sentence: str
    sentences: list[str]


class SimilarityParameters(BaseModel):
    truncate: bool | None = None
    truncation_direction: Direction = "Right"
    prompt_name: str | None = None


class SimilarityRequest(BaseModel):
    inputs: SimilarityInput
    parameters: SimilarityParameters | None = None


class SimilarityResponse(RootModel[Any]):
    """Cosine similarity of each of `sentences` to `source_sentence`, in order."""

    model_config = SENT
    root: list[float]


class TokenizeRequest(BaseModel):
    inputs: str | list[str]
    add_special_tokens: bool = True
    prompt_name: str | None = None


class SimpleToken(BaseModel):
    model_config = SENT

    id: int
    text: str
    special: bool
    start: int | None
    stop: int | None


class TokenizeResponse(RootModel[Any]):
    """One token list per input."""

    model_config = SENT
    root: list[list[SimpleToken]]


class DecodeRequest(BaseModel):
    ids: list[StrictInt] | list[list[StrictInt]]
    skip_special_tokens: bool = True


class DecodeResponse(RootModel[Any]):
    """One text per id list."""

    model_config = SENT
    root: list[str]


class TeiInfo(BaseModel):
    """TEI's /info. `version` is the TEI API version these routes follow; `edge_encoders_version` is ours."""

    model_config = SENT

    model_id: str
    model_sha: str | None
    model_dtype: str
    served_model_name: str
    model_type: dict[str, dict[str, object]]
    max_concurrent_requests: int
    max_input_length: int
    max_batch_tokens: int
    max_batch_requests: int | None
    max_client_batch_size: int
    auto_truncate: bool
    tokenization_workers: int
    version: str
    sha: str | None
    docker_label: str | None
    edge_encoders_version: str


class TeiError(BaseModel):
    """TEI's error body on its routes: {"error": "...", "error_type": "Empty" | "Validation" | ...}."""

    model_config = SENT

    error: str
    error_type: Literal["Unhealthy", "Backend", "Overloaded", "Validation", "Tokenizer", "Empty"]
