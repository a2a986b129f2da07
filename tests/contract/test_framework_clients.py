"""Framework clients not covered elsewhere, unmodified but for the base URL and key, against uvicorn on 127.0.0.1:
Haystack's OpenAI text and document embedders, LlamaIndex's OpenAILikeEmbedding, and the cohere SDK on what this
server refuses. Every answer is compared with the runtime called directly.

Not here, and why: LangChain's HuggingFaceEndpointEmbeddings (langchain-huggingface 1.2) refuses a URL for
`model`, so it cannot be pointed at a server of one's own; Haystack's Hugging Face API embedders moved to
huggingface-api-haystack, which needs huggingface_hub 2.x (the project pins 0.36 for transformers).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import cohere
import numpy as np
import pytest
from helpers.handler_support import make_app, shared_models
from helpers.loopback_server import serve_on_loopback

os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")  # no telemetry thread trying to reach the internet

KEY = "framework-test-key"
TEXTS = ["The cat sits on the mat.", "Stock markets fell sharply today.", "A small kitten rests on a rug."]


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve_on_loopback(make_app(api_key=KEY)) as base:
        yield base


def embed_name() -> str:
    return shared_models().require_embedder().manifest.name


def runtime_embed(texts: list[str], **options: object) -> np.ndarray:
    return shared_models().require_embedder().embed(texts, **options)


def test_haystack_openai_text_and_document_embedders(url: str) -> None:
    from haystack import Document
    from haystack.components.embedders import OpenAIDocumentEmbedder, OpenAITextEmbedder
    from haystack.utils import Secret

    common = {"api_key": Secret.from_token(KEY), "model": embed_name(), "api_base_url": f"{url}/v1"}
    text = OpenAITextEmbedder(**common).run(TEXTS[0])
    np.testing.assert_array_equal(np.array([text["embedding"]], dtype=np.float32), runtime_embed(TEXTS[:1]))
    assert text["meta"]["model"] == embed_name()

    documents = OpenAIDocumentEmbedder(**common, progress_bar=False).run([Document(content=t) for t in TEXTS])
    got = np.array([d.embedding for d in documents["documents"]], dtype=np.float32)
    np.testing.assert_array_equal(got, runtime_embed(TEXTS))

    short = OpenAITextEmbedder(**common, dimensions=64).run(TEXTS[1])
    np.testing.assert_array_equal(
        np.array([short["embedding"]], dtype=np.float32), runtime_embed(TEXTS[1:2], dimensions=64)
    )


def test_llamaindex_openai_like_embedding(url: str) -> None:
    from llama_index.embeddings.openai_like import OpenAILikeEmbedding

    embedding = OpenAILikeEmbedding(model_name=embed_name(), api_base=f"{url}/v1", api_key=KEY, embed_batch_size=2)
    got = np.array(embedding.get_text_embedding_batch(TEXTS), dtype=np.float32)  # two calls: batches of 2 and 1
    np.testing.assert_array_equal(got, runtime_embed(TEXTS))
    query = np.array([embedding.get_query_embedding(TEXTS[2])], dtype=np.float32)
    np.testing.assert_array_equal(query, runtime_embed(TEXTS[2:]))


def test_cohere_sdk_gets_a_typed_error_for_empty_embedding_types(url: str) -> None:
    co = cohere.ClientV2(api_key=KEY, base_url=url)
    with pytest.raises(cohere.UnprocessableEntityError) as caught:
        co.embed(texts=TEXTS, model=embed_name(), input_type="search_document", embedding_types=[])
    assert "embedding_types is empty" in str(caught.value.body)
    floats = co.embed(texts=TEXTS, model=embed_name(), input_type="search_document", embedding_types=["float"])
    np.testing.assert_array_equal(np.array(floats.embeddings.float_, dtype=np.float32), runtime_embed(TEXTS))
