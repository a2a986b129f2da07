"""Every field a real client sends, through that client against uvicorn on 127.0.0.1: honoured (the answer equals
the runtime's own for the same option), or a clear 4xx naming the field. Never ignored where ignoring would change
the answer, never a 5xx. test_dialect_clients.py covers each client's main calls; this file the options.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import cohere
import httpx
import numpy as np
import openai
import pytest
from helpers.handler_support import make_app, shared_models
from helpers.loopback_server import serve_on_loopback
from huggingface_hub import InferenceClient
from huggingface_hub.errors import HfHubHTTPError

from handler.tokenization import keep_head

KEY = "fields-test-key"
TEXTS = ["The cat sits on the mat.", "Stock markets fell sharply today.", "A kitten rests on a rug."]
QUERY = "Which animal sits on the mat?"


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve_on_loopback(make_app(api_key=KEY)) as base:
        yield base


def name() -> str:
    return shared_models().require_embedder().manifest.name


def runtime(texts: list[str], **options: object) -> np.ndarray:
    return shared_models().require_embedder().embed(texts, **options)  # type: ignore[arg-type]


def post(url: str, path: str, body: dict[str, object]) -> httpx.Response:
    return httpx.post(f"{url}{path}", json=body, headers={"authorization": f"Bearer {KEY}"})


def test_openai_dimensions_with_base64_and_float(url: str) -> None:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)
    want = runtime(TEXTS, dimensions=128)
    packed = client.embeddings.create(model=name(), input=TEXTS, dimensions=128, encoding_format="base64")
    got = np.stack([np.frombuffer(base64.b64decode(str(d.embedding)), dtype="<f4") for d in packed.data])
    np.testing.assert_array_equal(got, want)
    floats = client.embeddings.create(model=name(), input=TEXTS, dimensions=128)  # the SDK asks base64 itself
    np.testing.assert_array_equal(np.array([d.embedding for d in floats.data], dtype=np.float32), want)
    with pytest.raises(openai.UnprocessableEntityError):
        client.embeddings.create(model=name(), input=TEXTS, dimensions=10_000)


def test_cohere_v2_embed_every_type_output_dimension_and_max_tokens(url: str) -> None:
    co = cohere.ClientV2(api_key=KEY, base_url=url)
    types = ["float", "int8", "uint8", "binary", "ubinary", "base64"]
    out = co.embed(
        model=name(),
        texts=TEXTS,
        input_type="classification",
        embedding_types=types,  # type: ignore[arg-type]
        output_dimension=64,
        max_tokens=4,
        truncate="END",
    )
    tokenizer = shared_models().require_embedder().tokenizer
    cut = [keep_head(tokenizer, t, 4) for t in TEXTS]
    assert cut != TEXTS  # max_tokens really cut them
    emb = out.embeddings
    np.testing.assert_array_equal(np.array(emb.float_, dtype=np.float32), runtime(cut, dimensions=64))
    assert emb.int8 == runtime(cut, dimensions=64, precision="int8").tolist()
    assert emb.uint8 == runtime(cut, dimensions=64, precision="uint8").tolist()
    assert emb.binary == runtime(cut, dimensions=64, precision="binary").tolist()
    assert emb.ubinary == runtime(cut, dimensions=64, precision="ubinary").tolist()
    raw = np.stack([np.frombuffer(base64.b64decode(v), dtype="<f4") for v in emb.base64 or []])
    np.testing.assert_array_equal(raw, runtime(cut, dimensions=64))
    with pytest.raises(cohere.UnprocessableEntityError):  # no image content: refused, never embedded as ""
        co.embed(
            model=name(),
            input_type="search_document",
            embedding_types=["float"],
            inputs=[{"content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}],  # type: ignore[list-item]
        )


def test_cohere_v1_rerank_max_chunks_per_doc_is_refused_not_ignored(url: str) -> None:
    co = cohere.Client(api_key=KEY, base_url=url)
    with pytest.raises(cohere.UnprocessableEntityError) as err:
        co.rerank(
            model=shared_models().require_reranker().manifest.name, query=QUERY, documents=TEXTS, max_chunks_per_doc=3
        )
    assert "max_chunks_per_doc" in str(err.value.body)
    ok = co.rerank(model=shared_models().require_reranker().manifest.name, query=QUERY, documents=TEXTS, top_n=1)
    want = shared_models().require_reranker().rerank(QUERY, TEXTS)[0]
    assert ok.results[0].index == want.index


def test_huggingface_hub_options_and_other_tasks(url: str) -> None:
    client = InferenceClient(base_url=url, api_key=KEY)
    raw = client.feature_extraction(TEXTS[0], normalize=False, prompt_name="query")
    np.testing.assert_array_equal(
        np.asarray(raw, dtype=np.float32).reshape(1, -1), runtime(TEXTS[:1], normalize=False, prompt_name="query")
    )
    # another task's request (it sends `parameters` this server has no use for): a 422 saying so, not vectors
    for call in (
        lambda: client.text_classification(TEXTS[0], top_k=2),
        lambda: client.zero_shot_classification(TEXTS[0], ["animals", "finance"]),
    ):
        with pytest.raises(HfHubHTTPError) as err:
            call()
        assert err.value.response is not None and err.value.response.status_code == 422
        assert "not supported" in err.value.response.json()["error"]


def test_inference_api_parameters_object_is_read_as_the_embed_fields(url: str) -> None:
    for path in ("/", "/invocations", "/embed"):
        r = post(url, path, {"inputs": TEXTS, "parameters": {"normalize": False, "dimensions": 32}})
        assert r.status_code == 200, r.text
        np.testing.assert_array_equal(
            np.array(r.json(), dtype=np.float32), runtime(TEXTS, normalize=False, dimensions=32)
        )
    clash = post(url, "/", {"inputs": TEXTS, "normalize": True, "parameters": {"normalize": False}})
    assert clash.status_code == 422 and "normalize" in clash.json()["error"]
    bad = post(url, "/", {"inputs": TEXTS, "parameters": {"dimensions": "many"}})
    assert bad.status_code == 422 and "parameters.dimensions" in bad.json()["error"]


def test_jina_fields_that_cannot_be_honoured_are_refused(url: str) -> None:
    for field in ("late_chunking", "return_multivector"):
        refused = post(url, "/v1/embeddings", {"model": name(), "input": TEXTS, field: True})
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "unsupported_parameter" and field in refused.text
        served = post(url, "/v1/embeddings", {"model": name(), "input": TEXTS, field: False})
        vectors = np.array([d["embedding"] for d in served.json()["data"]], dtype=np.float32)
        np.testing.assert_array_equal(vectors, runtime(TEXTS))
    normalized = post(
        url, "/v1/embeddings", {"input": TEXTS, "normalized": False, "dimensions": 16, "task": "text-matching"}
    )
    vectors = np.array([d["embedding"] for d in normalized.json()["data"]], dtype=np.float32)
    np.testing.assert_array_equal(vectors, runtime(TEXTS, normalize=False, dimensions=16))


def test_langchain_cohere_embeddings(url: str) -> None:
    # (LangChain's HuggingFaceEndpointEmbeddings 1.2 refuses an endpoint URL: it cannot be pointed at a server)
    from langchain_cohere import CohereEmbeddings

    co = CohereEmbeddings(model=name(), cohere_api_key=KEY, base_url=url)  # type: ignore[call-arg]
    np.testing.assert_array_equal(np.array(co.embed_documents(TEXTS), dtype=np.float32), runtime(TEXTS))
    np.testing.assert_array_equal(np.array(co.embed_query(QUERY), dtype=np.float32), runtime([QUERY])[0])


def test_null_for_an_optional_field_means_its_default(url: str) -> None:
    # clients that serialize every field send null for the ones left unset (LangChain's CohereEmbeddings: truncate)
    openai_body = {"model": name(), "input": TEXTS, "encoding_format": None, "dimensions": None, "user": None}
    data = post(url, "/v1/embeddings", openai_body).json()["data"]
    np.testing.assert_array_equal(np.array([d["embedding"] for d in data], dtype=np.float32), runtime(TEXTS))
    cohere_body = {"model": name(), "texts": TEXTS, "truncate": None, "embedding_types": None, "input_type": None}
    got = post(url, "/v2/embed", cohere_body).json()["embeddings"]["float"]
    np.testing.assert_array_equal(np.array(got, dtype=np.float32), runtime(TEXTS))
