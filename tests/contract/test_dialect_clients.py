"""Each dialect through its REAL client, unmodified but for the base URL and key, against uvicorn on 127.0.0.1.

openai, cohere (v1 Client and ClientV2: embed and rerank), huggingface_hub's InferenceClient, LlamaIndex's TEI
embedding and TEI rerank, LangChain's CohereRerank, and Jina-shaped requests. Every answer is compared with
the runtime called directly: the same vectors and the same ranking, never just "it parsed".
"""

from __future__ import annotations

from collections.abc import Iterator

import cohere
import httpx
import numpy as np
import openai
import pytest
from helpers.handler_support import make_app, shared_models
from helpers.loopback_server import serve_on_loopback
from huggingface_hub import InferenceClient

from handler.tokenization import keep_tail, special_count

KEY = "dialect-test-key"
EMBED_ALIAS = "embed-english-v3.0"
RERANK_ALIAS = "rerank-v3.5"
QUERY = "Which animal sits on the mat?"
TEXTS = [
    "The cat sits on the mat.",
    "Stock markets fell sharply today.",
    "A small kitten rests on a rug by the door.",
]


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    """The app under a real uvicorn server on 127.0.0.1."""
    app = make_app(api_key=KEY, embed_model_aliases=EMBED_ALIAS, rerank_model_aliases=RERANK_ALIAS)
    with serve_on_loopback(app) as base:
        yield base


def embed_name() -> str:
    return shared_models().require_embedder().manifest.name


def runtime_embed(texts: list[str], **options: object) -> np.ndarray:
    return shared_models().require_embedder().embed(texts, **options)  # type: ignore[arg-type]


def tei_left_cut(text: str) -> str:
    """What Left truncation keeps of `text`: its last max_seq_length - specials tokens."""
    embedder = shared_models().require_embedder()
    return keep_tail(embedder.tokenizer, text, embedder.manifest.max_seq_length - special_count(embedder.tokenizer))


def runtime_order(query: str, docs: list[str]) -> list[int]:
    return [h.index for h in shared_models().require_reranker().rerank(query, docs)]


# ---- OpenAI ---------------------------------------------------------------------------------------------------
def test_openai_models_names_and_key(url: str) -> None:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)
    names = [m.id for m in client.models.list()]
    assert names[:2] == [embed_name(), EMBED_ALIAS] and RERANK_ALIAS in names
    assert client.models.retrieve(EMBED_ALIAS).id == EMBED_ALIAS
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("text-embedding-3-small")
    with pytest.raises(openai.NotFoundError) as err:  # another model's name: never MiniLM's vectors instead
        client.embeddings.create(model="text-embedding-3-small", input="x")
    assert err.value.code == "model_not_found"
    got = client.embeddings.create(model=EMBED_ALIAS, input=TEXTS)
    np.testing.assert_array_equal(np.array([d.embedding for d in got.data], dtype=np.float32), runtime_embed(TEXTS))
    assert got.model == EMBED_ALIAS
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model=EMBED_ALIAS, input="")
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model=EMBED_ALIAS, input=["ok", ""])
    wrong = openai.OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as auth:
        wrong.embeddings.create(model=EMBED_ALIAS, input="x")
    assert auth.value.status_code == 401 and auth.value.code == "invalid_api_key"


# ---- Cohere ---------------------------------------------------------------------------------------------------
def test_cohere_v2_embed_by_type(url: str) -> None:
    co = cohere.ClientV2(api_key=KEY, base_url=url)
    response = co.embed(
        model=EMBED_ALIAS,
        texts=TEXTS,
        input_type="search_document",
        embedding_types=["float", "int8", "ubinary"],
    )
    np.testing.assert_array_equal(np.array(response.embeddings.float_, dtype=np.float32), runtime_embed(TEXTS))
    assert response.embeddings.int8 == runtime_embed(TEXTS, precision="int8").tolist()
    assert response.embeddings.ubinary == runtime_embed(TEXTS, precision="ubinary").tolist()
    assert response.texts == TEXTS and response.meta is not None and response.meta.billed_units is not None


def test_cohere_v1_embed_floats_and_truncate(url: str) -> None:
    co = cohere.Client(api_key=KEY, base_url=url)
    response = co.embed(texts=TEXTS, model=embed_name(), input_type="search_query")
    assert response.response_type == "embeddings_floats"
    np.testing.assert_array_equal(np.array(response.embeddings, dtype=np.float32), runtime_embed(TEXTS))
    long_text = "start " + "word " * 600 + "the very end"
    with pytest.raises(cohere.UnprocessableEntityError):
        co.embed(texts=[long_text], model=embed_name(), truncate="NONE")
    start = co.embed(texts=[long_text], model=embed_name(), truncate="START", embedding_types=["float"])
    tail = tei_left_cut(long_text)
    assert tail.endswith("the very end") and len(tail) < len(long_text)
    np.testing.assert_array_equal(np.array(start.embeddings.float_, dtype=np.float32), runtime_embed([tail]))


def test_cohere_errors_are_the_sdk_typed_errors(url: str) -> None:
    co = cohere.ClientV2(api_key=KEY, base_url=url)
    with pytest.raises(cohere.NotFoundError):
        co.embed(model="embed-multilingual-v3.0", texts=["x"], input_type="search_query", embedding_types=["float"])
    with pytest.raises(cohere.BadRequestError) as err:  # too many texts: Cohere's status for it is 400
        co.embed(model=EMBED_ALIAS, texts=["x"] * 1025, input_type="search_query", embedding_types=["float"])
    assert "split" in str(err.value.body)
    with pytest.raises(cohere.UnauthorizedError):
        cohere.ClientV2(api_key="wrong", base_url=url).rerank(model=RERANK_ALIAS, query="q", documents=["d"])


def test_cohere_rerank_v2_and_v1_rank_fields(url: str) -> None:
    v2 = cohere.ClientV2(api_key=KEY, base_url=url).rerank(model=RERANK_ALIAS, query=QUERY, documents=TEXTS)
    assert [r.index for r in v2.results] == runtime_order(QUERY, TEXTS)
    scores = [h.score for h in shared_models().require_reranker().rerank(QUERY, TEXTS)]
    assert [r.relevance_score for r in v2.results] == pytest.approx(scores, abs=1e-6)

    docs = [{"title": f"note {i}", "text": t, "id": i} for i, t in enumerate(TEXTS)]
    v1 = cohere.Client(api_key=KEY, base_url=url).rerank(
        model=RERANK_ALIAS, query=QUERY, documents=docs, rank_fields=["title", "text"], return_documents=True
    )
    ranked_as = [f"title: note {i}\ntext: {t}" for i, t in enumerate(TEXTS)]
    assert [r.index for r in v1.results] == runtime_order(QUERY, ranked_as)
    assert all(r.document is not None and r.document.text == TEXTS[r.index] for r in v1.results)


def test_langchain_cohere_rerank(url: str) -> None:
    from langchain_cohere import CohereRerank
    from langchain_core.documents import Document

    reranker = CohereRerank(cohere_api_key=KEY, base_url=url, model=RERANK_ALIAS, top_n=2)
    out = reranker.compress_documents([Document(page_content=t) for t in TEXTS], QUERY)
    assert [d.page_content for d in out] == [TEXTS[i] for i in runtime_order(QUERY, TEXTS)[:2]]
    assert out[0].metadata["relevance_score"] >= out[1].metadata["relevance_score"]


# ---- TEI clients ----------------------------------------------------------------------------------------------
def test_huggingface_hub_feature_extraction_and_similarity(url: str) -> None:
    client = InferenceClient(base_url=url, api_key=KEY)
    vectors = client.feature_extraction(TEXTS[0])
    np.testing.assert_array_equal(np.asarray(vectors, dtype=np.float32).reshape(1, -1), runtime_embed(TEXTS[:1]))
    long_text = "begin " + "word " * 600 + "closing words here"
    left = client.feature_extraction(long_text, truncate=True, truncation_direction="Left")
    right = client.feature_extraction(long_text, truncate=True, truncation_direction="Right")
    tail = tei_left_cut(long_text)
    np.testing.assert_array_equal(np.asarray(left, dtype=np.float32).reshape(1, -1), runtime_embed([tail]))
    np.testing.assert_array_equal(np.asarray(right, dtype=np.float32).reshape(1, -1), runtime_embed([long_text]))

    direct = InferenceClient(model=f"{url}/embed", api_key=KEY).feature_extraction(TEXTS[1])  # the /embed URL
    np.testing.assert_array_equal(np.asarray(direct, dtype=np.float32).reshape(1, -1), runtime_embed(TEXTS[1:2]))

    sims = client.sentence_similarity(TEXTS[0], other_sentences=TEXTS[1:])
    v = runtime_embed(TEXTS)
    assert sims == pytest.approx([float(v[0] @ v[1]), float(v[0] @ v[2])], abs=1e-6)


def test_llamaindex_tei_embedding_and_rerank(url: str) -> None:
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
    from llama_index.embeddings.text_embeddings_inference import TextEmbeddingsInference
    from llama_index.postprocessor.tei_rerank import TextEmbeddingInference as TEIRerank

    embedding = TextEmbeddingsInference(model_name=embed_name(), base_url=url, auth_token=KEY)
    got = np.array(embedding.get_text_embedding_batch(TEXTS), dtype=np.float32)
    np.testing.assert_array_equal(got, runtime_embed(TEXTS))

    rerank = TEIRerank(base_url=url, top_n=2, auth_token=f"Bearer {KEY}")
    nodes = [NodeWithScore(node=TextNode(text=t)) for t in TEXTS]
    out = rerank.postprocess_nodes(nodes, query_bundle=QueryBundle(QUERY))
    assert [n.node.get_content() for n in out] == [TEXTS[i] for i in runtime_order(QUERY, TEXTS)[:2]]


def test_tei_raw_shapes_and_errors(url: str) -> None:
    headers = {"authorization": f"Bearer {KEY}"}
    ranks = httpx.post(f"{url}/rerank", json={"query": QUERY, "texts": TEXTS, "return_text": True}, headers=headers)
    assert ranks.status_code == 200 and isinstance(ranks.json(), list)
    assert [r["index"] for r in ranks.json()] == runtime_order(QUERY, TEXTS)
    assert all(set(r) == {"index", "score", "text"} for r in ranks.json())
    empty = httpx.post(f"{url}/embed", json={"inputs": []}, headers=headers)
    assert (empty.status_code, empty.json()) == (400, {"error": empty.json()["error"], "error_type": "Empty"})
    too_long = httpx.post(f"{url}/embed", json={"inputs": "word " * 600}, headers=headers)  # truncate defaults off
    assert too_long.status_code == 422 and too_long.json()["error_type"] == "Validation"
    unauthorized = httpx.post(f"{url}/embed", json={"inputs": "x"})
    assert unauthorized.status_code == 401 and set(unauthorized.json()) == {"error", "error_type"}
    info = httpx.get(f"{url}/info", headers=headers).json()
    assert info["model_id"] == embed_name() and info["auto_truncate"] is False
    assert info["max_input_length"] == shared_models().require_embedder().manifest.max_seq_length
    metrics = httpx.get(f"{url}/metrics", headers=headers)
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'te_request_count{route="/rerank"}' in metrics.text


# ---- Jina -----------------------------------------------------------------------------------------------------
def test_jina_shaped_rerank_and_embeddings(url: str) -> None:
    headers = {"authorization": f"Bearer {KEY}"}
    body = {"model": RERANK_ALIAS, "query": QUERY, "documents": TEXTS, "top_n": 2}  # no return_documents
    results = httpx.post(f"{url}/v1/rerank", json=body, headers=headers).json()["results"]
    assert [r["index"] for r in results] == runtime_order(QUERY, TEXTS)[:2]
    assert all(r["document"] == {"text": TEXTS[r["index"]]} for r in results)  # Jina's default: true

    body = {"model": EMBED_ALIAS, "input": [{"text": t} for t in TEXTS], "task": "retrieval.query"}
    data = httpx.post(f"{url}/v1/embeddings", json=body, headers=headers).json()["data"]
    np.testing.assert_array_equal(np.array([d["embedding"] for d in data], dtype=np.float32), runtime_embed(TEXTS))
    body = {"model": EMBED_ALIAS, "input": TEXTS, "embedding_type": "binary"}
    data = httpx.post(f"{url}/v1/embeddings", json=body, headers=headers).json()["data"]
    assert [d["embedding"] for d in data] == runtime_embed(TEXTS, precision="binary").tolist()


# ---- LangChain's OpenAIEmbeddings, and TEI's documented request fields sent with plain `requests` ------------
def test_langchain_openai_embeddings(url: str) -> None:
    from langchain_openai import OpenAIEmbeddings

    # check_embedding_ctx_length=False: by default LangChain sends tiktoken ids, which this server refuses
    # with a 422 naming this setting (test_clients.py); tiktoken's own files are not even reachable offline
    lc = OpenAIEmbeddings(
        model=EMBED_ALIAS, base_url=f"{url}/v1", api_key=KEY, check_embedding_ctx_length=False, max_retries=0
    )
    np.testing.assert_allclose(np.array(lc.embed_documents(TEXTS), dtype=np.float32), runtime_embed(TEXTS), atol=1e-7)
    np.testing.assert_allclose(np.array(lc.embed_query(QUERY), dtype=np.float32), runtime_embed([QUERY])[0], atol=1e-7)


def test_requests_with_tei_s_documented_embed_fields(url: str) -> None:
    import requests

    headers = {"Authorization": f"Bearer {KEY}"}

    def embed(**body: object) -> requests.Response:
        return requests.post(f"{url}/embed", json=body, headers=headers, timeout=60)

    raw = embed(inputs=TEXTS[0], normalize=False)
    np.testing.assert_array_equal(np.array(raw.json(), dtype=np.float32), runtime_embed(TEXTS[:1], normalize=False))
    assert abs(np.linalg.norm(raw.json()[0]) - 1.0) > 1e-3  # really not normalized
    prompt = embed(inputs=TEXTS, prompt_name="query")
    np.testing.assert_array_equal(np.array(prompt.json(), dtype=np.float32), runtime_embed(TEXTS, prompt_name="query"))
    unknown = embed(inputs=TEXTS[0], prompt_name="no-such-prompt")
    assert unknown.status_code == 422 and unknown.json()["error_type"] == "Validation"
    assert "no-such-prompt" in unknown.json()["error"]
    long_text = "begin " + "word " * 600 + "closing words here"
    lower = embed(inputs=[long_text], truncate=True, truncation_direction="left")  # TEI's serde takes "Left" only
    np.testing.assert_array_equal(np.array(lower.json(), dtype=np.float32), runtime_embed([tei_left_cut(long_text)]))
    wrong = embed(inputs=TEXTS[0], truncation_direction="middle")
    assert wrong.status_code == 422 and wrong.json()["error_type"] == "Validation"


def test_requests_with_tei_s_documented_rerank_fields(url: str) -> None:
    import requests

    headers = {"Authorization": f"Bearer {KEY}"}
    reranker = shared_models().require_reranker()

    def rerank(**body: object) -> list[dict]:
        r = requests.post(f"{url}/rerank", json={"query": QUERY, "texts": TEXTS, **body}, headers=headers, timeout=60)
        assert r.status_code == 200, r.text
        return list(r.json())

    plain = rerank()
    assert all(set(item) == {"index", "score"} for item in plain)  # return_text defaults to false
    logits = {h.index: h.score for h in reranker.rerank(QUERY, TEXTS, raw_scores=True)}
    raw = rerank(raw_scores=True, return_text=True)
    assert all(item["score"] == pytest.approx(logits[item["index"]], abs=1e-6) for item in raw)
    assert all(item["text"] == TEXTS[item["index"]] for item in raw)
    assert [item["index"] for item in raw] == [item["index"] for item in plain]  # the activation keeps the order
    long_doc = "begin " + "word " * 600 + "closing"
    refused = requests.post(f"{url}/rerank", json={"query": QUERY, "texts": [long_doc]}, headers=headers, timeout=60)
    assert refused.status_code == 422 and refused.json()["error_type"] == "Validation"  # truncate defaults off
    assert len(rerank(texts=[long_doc, TEXTS[0]], truncate=True, truncation_direction="Left")) == 2


def test_requests_with_tei_s_tokenize_and_token_id_inputs(url: str) -> None:
    import requests

    headers = {"Authorization": f"Bearer {KEY}"}
    tokens = requests.post(f"{url}/tokenize", json={"inputs": TEXTS}, headers=headers, timeout=60).json()
    ids = [[t["id"] for t in row] for row in tokens]
    bare = requests.post(
        f"{url}/tokenize", json={"inputs": TEXTS[0], "add_special_tokens": False}, headers=headers, timeout=60
    ).json()
    assert [t["id"] for t in bare[0]] == ids[0][1:-1] and not any(t["special"] for t in bare[0])
    # TEI accepts the model's own ids as inputs: the same vectors as the texts they came from
    from_ids = requests.post(f"{url}/embed", json={"inputs": ids}, headers=headers, timeout=60)
    np.testing.assert_array_equal(np.array(from_ids.json(), dtype=np.float32), runtime_embed(TEXTS))
    texts = requests.post(f"{url}/decode", json={"ids": ids}, headers=headers, timeout=60).json()
    assert texts == [t.lower() for t in TEXTS]
