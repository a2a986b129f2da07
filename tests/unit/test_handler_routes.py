"""Routes through the ASGI app (starlette TestClient): values equal the runtime's, shapes match the APIs."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from helpers.toy_handler import make_app, shared_models
from starlette.testclient import TestClient


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(make_app())


def error_code(response: object) -> str:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "code"}
    code: str = body["error"]["code"]
    return code


TEXTS = ["The cat sits on the mat.", "A feline rests on a rug.", "Stock markets fell sharply today."]


def test_native_embed_float_equals_runtime(client: TestClient) -> None:
    r = client.post("/native/embed", json={"inputs": TEXTS})
    assert r.status_code == 200
    body = r.json()
    expected = shared_models().require_embedder().embed(TEXTS)
    np.testing.assert_array_equal(np.array(body["embeddings"], dtype=np.float32), expected)
    assert body["dimensions"] == expected.shape[1] and body["precision"] == "float32"
    assert body["usage"]["total_tokens"] == int(r.headers["x-compute-tokens"])


def test_native_embed_options_reach_the_runtime(client: TestClient) -> None:
    embedder = shared_models().require_embedder()
    body = {"inputs": "hello", "dimensions": 64, "precision": "int8", "prompt_name": "query"}
    r = client.post("/native/embed", json=body)
    assert r.status_code == 200, r.text
    row = r.json()["embeddings"][0]
    assert all(isinstance(v, int) for v in row) and len(row) == 64
    expected = embedder.embed(["hello"], dimensions=64, precision="int8", prompt_name="query")
    assert row == expected[0].tolist()

    r = client.post("/native/embed", json={"inputs": ["a", "b"], "precision": "ubinary", "encoding_format": "base64"})
    raw = [np.frombuffer(base64.b64decode(v), dtype=np.uint8) for v in r.json()["embeddings"]]
    np.testing.assert_array_equal(np.stack(raw), embedder.embed(["a", "b"], precision="ubinary"))


def test_openai_embeddings_shape_and_base64(client: TestClient) -> None:
    r = client.post("/v1/embeddings", json={"input": TEXTS, "encoding_format": "base64"})
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "list" and body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > 0
    assert [d["object"] for d in body["data"]] == ["embedding"] * 3
    got = np.stack([np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in body["data"]])
    np.testing.assert_array_equal(got, shared_models().require_embedder().embed(TEXTS))

    single = client.post("/v1/embeddings", json={"input": TEXTS[0], "dimensions": 32}).json()
    assert len(single["data"]) == 1 and len(single["data"][0]["embedding"]) == 32


@pytest.mark.parametrize("ids", [[101, 2023, 102], [[101, 2023], [101, 102]]])
def test_openai_token_ids_are_refused_with_langchain_advice(client: TestClient, ids: list) -> None:
    r = client.post("/v1/embeddings", json={"input": ids})
    assert r.status_code == 422
    assert error_code(r) == "token_ids_not_supported"
    assert "check_embedding_ctx_length=False" in r.json()["error"]["message"]


def test_native_rerank_equals_runtime_order(client: TestClient) -> None:
    query = "Where does the cat sit?"
    r = client.post("/native/rerank", json={"query": query, "texts": TEXTS, "return_text": True, "top_n": 2})
    assert r.status_code == 200
    results = r.json()["results"]
    hits = shared_models().require_reranker().rerank(query, TEXTS, top_n=2)
    assert [x["index"] for x in results] == [h.index for h in hits]
    assert [x["score"] for x in results] == pytest.approx([h.score for h in hits], abs=1e-6)
    assert [x["text"] for x in results] == [TEXTS[h.index] for h in hits]

    raw = client.post("/native/rerank", json={"query": query, "texts": TEXTS, "raw_scores": True}).json()["results"]
    assert "text" not in raw[0]
    logits = shared_models().require_reranker().rerank(query, TEXTS, raw_scores=True)
    assert [x["score"] for x in raw] == pytest.approx([h.score for h in logits], abs=1e-5)


@pytest.mark.parametrize("path", ["/v1/rerank", "/v2/rerank"])
def test_compat_rerank_accepts_strings_and_text_objects(client: TestClient, path: str) -> None:
    docs = [TEXTS[0], {"text": TEXTS[1]}, TEXTS[2]]
    r = client.post(path, json={"query": "cat", "documents": docs, "return_documents": True})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"id", "model", "results", "usage", "meta"}
    assert body["meta"]["billed_units"] == {"search_units": 1, "input_tokens": body["usage"]["total_tokens"]}
    assert sorted(x["index"] for x in body["results"]) == [0, 1, 2]
    assert all(x["document"]["text"] == TEXTS[x["index"]] for x in body["results"])
    plain = client.post(path, json={"query": "cat", "documents": TEXTS, "top_n": 1}).json()
    # without return_documents: Jina's default (true) on /v1/rerank, Cohere v2's (false) on /v2/rerank
    assert len(plain["results"]) == 1 and ("document" in plain["results"][0]) == (path == "/v1/rerank")


def test_max_tokens_per_doc_cuts_documents(client: TestClient) -> None:
    long_doc = "cats " * 200
    full = client.post("/v1/rerank", json={"query": "cat", "documents": [long_doc]}).json()
    cut = client.post("/v1/rerank", json={"query": "cat", "documents": [long_doc], "max_tokens_per_doc": 5}).json()
    assert cut["usage"]["total_tokens"] < full["usage"]["total_tokens"]
    assert cut["usage"]["total_tokens"] <= 5 + 2 + 3  # document + query "cat" + [CLS] [SEP] [SEP]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"inputs": []}, 400, "empty_input"),
        ({"inputs": "x", "dimensions": 0}, 422, "invalid_request"),
        ({"inputs": "x", "dimensions": 10_000}, 422, "invalid_argument"),
        ({"inputs": "x", "precision": "float16"}, 422, "invalid_request"),
        ({"inputs": "x", "prompt_name": "nope"}, 422, "invalid_argument"),
        ({"inputs": "word " * 400, "truncate": False}, 422, "input_too_long"),
        ({"inputs": [1, 2]}, 422, "invalid_request"),
        ({"nope": 1}, 422, "invalid_request"),
    ],
)
def test_validation_and_runtime_errors_map_to_statuses(
    client: TestClient, body: dict[str, object], status: int, code: str
) -> None:
    r = client.post("/native/embed", json=body)
    assert (r.status_code, error_code(r)) == (status, code)


def test_unreadable_bodies_map_to_their_codes(client: TestClient) -> None:
    assert error_code(client.post("/native/embed", content=b"")) == "empty_body"
    assert error_code(client.post("/native/embed", content=b"[1, 2]")) == "malformed_body"
    r = client.post("/native/embed", content=b'{"inputs": ')
    assert (r.status_code, error_code(r)) == (400, "malformed_json")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_any_content_type_is_read_as_json(client: TestClient, content_type: str) -> None:
    r = client.post("/native/embed", content=b'{"inputs": "hi"}', headers={"content-type": content_type})
    assert r.status_code == 200, r.text


def test_limits_answer_413_with_split_advice() -> None:
    # float JSON costs ~20 bytes a value, base64 ~5.3: a budget of 8 bytes a value refuses one and passes the other
    budget = 8 * shared_models().require_embedder().dimension
    client = TestClient(make_app(max_inputs=2, max_tokens=12, max_body_bytes=400, max_response_bytes=budget))
    r = client.post("/native/embed", json={"inputs": ["a", "b", "c"]})
    assert (r.status_code, error_code(r)) == (413, "too_many_inputs")
    assert "2 calls of at most 2 inputs" in r.json()["error"]["message"]
    r = client.post("/v1/rerank", json={"query": "q", "documents": ["one two three four five", "six seven"]})
    assert (r.status_code, error_code(r)) == (400, "too_many_tokens")  # Cohere's status for it (dialects.py)
    r = client.post("/native/embed", json={"inputs": ["x" * 500]})
    assert (r.status_code, error_code(r)) == (413, "body_too_large")
    r = client.post("/native/embed", json={"inputs": "hello"})
    assert (r.status_code, error_code(r)) == (413, "response_too_large")
    assert "base64" in r.json()["error"]["message"]
    assert client.post("/native/embed", json={"inputs": "hello", "encoding_format": "base64"}).status_code == 200


def test_health_info_and_routing(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok", "models": {"embed": "ready", "rerank": "ready"}}
    info = client.get("/native/info").json()
    embedder = shared_models().require_embedder()
    assert info["models"]["embed"]["dimension"] == embedder.dimension
    assert info["models"]["embed"]["variant"] == embedder.variant
    assert info["models"]["rerank"]["kind"] == "rerank"
    assert info["limits"]["max_inputs"] == 1024 and info["limits"]["auth"] == "none"
    assert info["versions"] == {}  # the serving stack's versions are in the init log, not on the wire
    source = info["models"]["embed"]["source"]
    assert "local_path" not in source and not any(str(v).startswith("/") for v in source.values())
    assert "content_sha256" in source or "revision" in source
    r = client.get("/nowhere")
    assert (r.status_code, error_code(r)) == (404, "not_found")
    r = client.delete("/v1/embeddings")
    assert (r.status_code, error_code(r)) == (405, "method_not_allowed")
