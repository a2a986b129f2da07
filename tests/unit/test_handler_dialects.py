"""The dialect layer through the ASGI app: TEI shapes and errors, model names, Cohere/Jina mapping, truncation
direction, /tokenize and /decode, /metrics, offline /docs, HEAD /health, CORS and the Lambda docs default."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from helpers.toy_handler import make_app, shared_models
from starlette.testclient import TestClient

from handler.dialects import tei_error_type
from handler.prometheus import Metrics
from handler.settings import Settings
from handler.tokenization import keep_head, keep_tail, special_count

TEXTS = ["The cat sits on the mat.", "A feline rests on a rug.", "Stock markets fell sharply today."]
LONG = "opening words " + "filler " * 500 + "and the closing words"


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(make_app(embed_model_aliases="alias-one, alias-two"))


def embedder():  # type: ignore[no-untyped-def]
    return shared_models().require_embedder()


def test_tei_embed_is_a_bare_list_with_tei_defaults(client: TestClient) -> None:
    r = client.post("/embed", json={"inputs": TEXTS})
    assert r.status_code == 200 and isinstance(r.json(), list)
    np.testing.assert_array_equal(np.array(r.json(), dtype=np.float32), embedder().embed(TEXTS))
    one = client.post("/embed", json={"inputs": "hi", "normalize": False, "dimensions": 8}).json()
    np.testing.assert_array_equal(
        np.array(one, dtype=np.float32), embedder().embed(["hi"], normalize=False, dimensions=8)
    )
    # truncate defaults to false, as in TEI: an over-long input is refused, not silently cut
    r = client.post("/embed", json={"inputs": LONG})
    assert r.status_code == 422 and r.json() == {"error": r.json()["error"], "error_type": "Validation"}
    assert "tokens long" in r.json()["error"]


def test_truncation_direction_left_keeps_the_end(client: TestClient) -> None:
    budget = embedder().manifest.max_seq_length - special_count(embedder().tokenizer)
    tail = keep_tail(embedder().tokenizer, LONG, budget)
    assert tail.endswith("and the closing words") and not tail.startswith("opening")
    assert len(embedder().tokenizer.encode([tail], truncate=False)[0].ids) <= embedder().manifest.max_seq_length
    left = client.post("/embed", json={"inputs": LONG, "truncate": True, "truncation_direction": "Left"}).json()
    right = client.post("/embed", json={"inputs": LONG, "truncate": True, "truncation_direction": "right"}).json()
    np.testing.assert_array_equal(np.array(left, dtype=np.float32), embedder().embed([tail]))
    np.testing.assert_array_equal(np.array(right, dtype=np.float32), embedder().embed([LONG]))
    assert not np.allclose(left, right)


def test_keep_head_and_tail_cut_at_token_boundaries() -> None:
    tok = embedder().tokenizer
    assert keep_head(tok, "one two three four", 2) == "one two"
    assert keep_tail(tok, "one two three four", 2) == "three four"
    assert keep_head(tok, "short", 10) == "short" and keep_tail(tok, "short", 10) == "short"
    huge = "x " * 200_000 + "last"
    assert keep_tail(tok, huge, 3) == "x x last" and keep_head(tok, huge, 2) == "x x"


@pytest.mark.parametrize("path", ["/similarity", "/", "/invocations"])
def test_similarity_answers_cosines(client: TestClient, path: str) -> None:
    body = {"inputs": {"source_sentence": TEXTS[0], "sentences": TEXTS[1:]}}
    v = embedder().embed(TEXTS)
    r = client.post(path, json=body)
    assert r.status_code == 200 and r.json() == pytest.approx([float(v[0] @ v[1]), float(v[0] @ v[2])], abs=1e-6)


def test_similarity_and_predict_route(client: TestClient) -> None:
    assert (
        client.post("/", json={"inputs": TEXTS[:1]}).json() == client.post("/embed", json={"inputs": TEXTS[:1]}).json()
    )
    empty = client.post("/similarity", json={"inputs": {"source_sentence": "a", "sentences": []}})
    assert (empty.status_code, empty.json()["error_type"]) == (400, "Empty")
    bad = client.post("/", content=b"[1]")
    assert bad.status_code == 400 and set(bad.json()) == {"error", "error_type"}


def test_tei_rerank_shape(client: TestClient) -> None:
    query = "Where does the cat sit?"
    r = client.post("/rerank", json={"query": query, "texts": TEXTS, "return_text": True, "raw_scores": True})
    hits = shared_models().require_reranker().rerank(query, TEXTS, raw_scores=True)
    assert [x["index"] for x in r.json()] == [h.index for h in hits]
    assert [x["score"] for x in r.json()] == pytest.approx([h.score for h in hits], abs=1e-6)
    assert [x["text"] for x in r.json()] == [TEXTS[h.index] for h in hits]
    assert "text" not in client.post("/rerank", json={"query": query, "texts": TEXTS}).json()[0]


def test_tei_rerank_left_truncation_cuts_documents_from_the_start(client: TestClient) -> None:
    reranker = shared_models().require_reranker()
    query, docs = "closing words", [LONG, TEXTS[0]]
    body = {"query": query, "texts": docs, "truncate": True, "truncation_direction": "Left", "return_text": True}
    left = client.post("/rerank", json=body).json()
    room = reranker.manifest.max_seq_length - special_count(reranker.tokenizer, pair=True)
    budget = room - (len(reranker.tokenizer.encode([query], truncate=True)[0].ids) - special_count(reranker.tokenizer))
    cut = [keep_tail(reranker.tokenizer, d, budget) for d in docs]
    assert cut[0].endswith("and the closing words") and cut[1] == TEXTS[0]
    hits = reranker.rerank(query, cut)
    assert [x["score"] for x in left] == pytest.approx([h.score for h in hits], abs=1e-6)
    assert [x["text"] for x in left] == [docs[h.index] for h in hits]  # the texts as sent, not the cut ones


def test_tokenize_and_decode(client: TestClient) -> None:
    tokens = client.post("/tokenize", json={"inputs": ["Hello world!"]}).json()[0]
    assert [t["text"] for t in tokens] == ["[CLS]", "Hello", "world", "!", "[SEP]"]
    assert tokens[0] == {"id": tokens[0]["id"], "text": "[CLS]", "special": True, "start": None, "stop": None}
    assert (tokens[1]["start"], tokens[1]["stop"]) == (0, 5)
    ids = [t["id"] for t in tokens]
    assert client.post("/decode", json={"ids": ids}).json() == ["hello world!"]
    assert (
        client.post("/decode", json={"ids": [ids, ids[1:3]], "skip_special_tokens": False}).json()[1] == "hello world"
    )
    r = client.post("/decode", json={"ids": [10**9]})
    assert r.status_code == 422 and "outside this vocabulary" in r.json()["error"]
    assert client.post("/tokenize", json={"inputs": []}).json()["error_type"] == "Empty"
    r = client.post("/embed", json={"inputs": [[101, 102]]})
    assert r.status_code == 422 and "token ids" in r.json()["error"]


def test_tokenize_refuses_an_input_longer_than_the_scan_limit_before_tokenizing_any() -> None:
    client = TestClient(make_app(models=shared_models(), max_scan_chars=40))
    at_limit = client.post("/tokenize", json={"inputs": ["a" * 40, " " * 40]})
    assert at_limit.status_code == 200, at_limit.text
    for inputs, field in ((["fine", " " * 41], "inputs[1]"), ("b" * 41, "inputs")):
        r = client.post("/tokenize", json={"inputs": inputs})
        assert (r.status_code, r.json()["error_type"]) == (413, "Validation"), r.text
        assert r.json()["error"].startswith(f"{field} has 41 characters") and "EDGE_MAX_SCAN_CHARS" in r.text


def test_tei_embed_takes_the_model_s_own_token_ids_as_tei_does(client: TestClient) -> None:
    texts = ["Hello, world! Ünïcode café", "a [UNK] b", "😀 日本語"]
    ids = [[t["id"] for t in row] for row in client.post("/tokenize", json={"inputs": texts}).json()]
    from_ids = client.post("/embed", json={"inputs": ids})
    assert from_ids.status_code == 200, from_ids.text
    assert from_ids.json() == client.post("/embed", json={"inputs": texts}).json()  # the same vectors, exactly
    single = client.post("/", json={"inputs": ids[0]})
    assert single.json() == from_ids.json()[:1]
    outside = client.post("/embed", json={"inputs": [ids[0], [101, 10**6, 102]]})
    assert outside.status_code == 422 and "inputs[1]" in outside.json()["error"] and "vocabulary" in outside.text
    # ids no tokenizing of their text gives back (not this tokenizer's): refused, never embedded as other text
    vocab = {v: k for k, v in embedder().tokenizer._tok.get_vocab().items()}
    unused = next(i for i, token in sorted(vocab.items()) if token.startswith("[unused"))
    foreign = client.post("/embed", json={"inputs": [7592, unused, 7592]})
    assert foreign.status_code == 422 and foreign.json()["error_type"] == "Validation", foreign.text
    assert client.post("/embed", json={"inputs": [True, False]}).status_code == 422  # booleans are not ids
    # OpenAI's route keeps refusing ids: there they are tiktoken ids, meaningless to this model
    assert client.post("/v1/embeddings", json={"input": ids[0]}).json()["error"]["code"] == "token_ids_not_supported"


def test_tei_info_fields(client: TestClient) -> None:
    info = client.get("/info").json()
    manifest = embedder().manifest
    assert info["model_id"] == manifest.name and info["model_type"] == {"embedding": {"pooling": manifest.pooling}}
    assert info["max_input_length"] == manifest.max_seq_length and info["max_client_batch_size"] == 1024
    assert info["auto_truncate"] is False and info["version"] == "1.9.3"
    assert client.get("/native/info").json()["models"]["embed"]["name"] == manifest.name


def test_model_names(client: TestClient) -> None:
    names = [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert names[:3] == [embedder().manifest.name, "alias-one", "alias-two"]
    assert shared_models().require_reranker().manifest.name in names
    ok = client.post("/v1/embeddings", json={"model": "alias-two", "input": "x"})
    assert ok.status_code == 200 and ok.json()["model"] == "alias-two"
    r = client.post("/v1/embeddings", json={"model": "text-embedding-3-small", "input": "x"})
    assert (r.status_code, r.json()["error"]["code"]) == (404, "model_not_found")
    assert client.get("/v1/models/nope").status_code == 404
    anything = TestClient(make_app(accept_any_model=True))
    r = anything.post("/v1/embeddings", json={"model": "text-embedding-3-small", "input": "x"})
    assert r.status_code == 200 and r.json()["model"] == embedder().manifest.name  # says what really answered


def test_cohere_input_type_truncate_and_errors(client: TestClient) -> None:
    r = client.post("/v2/embed", json={"texts": TEXTS, "input_type": "search_query", "embedding_types": ["binary"]})
    assert (
        r.status_code == 200
        and r.json()["embeddings"]["binary"]
        == embedder().embed(TEXTS, precision="binary", prompt_name="query").tolist()  # the toy has a query prompt
    )
    assert client.post("/v2/embed", json={"texts": ["x"], "input_type": "poetry"}).status_code == 422
    assert client.post("/v2/embed", json={"texts": ["x"], "images": ["data:image/png;base64,AA=="]}).status_code == 422
    cut = client.post("/v1/embed", json={"texts": ["one two three four"], "max_tokens": 2}).json()["embeddings"]
    np.testing.assert_array_equal(np.array(cut, dtype=np.float32), embedder().embed(["one two"]))
    start = client.post("/v1/embed", json={"texts": ["one two three four"], "max_tokens": 2, "truncate": "START"})
    np.testing.assert_array_equal(
        np.array(start.json()["embeddings"], dtype=np.float32), embedder().embed(["three four"])
    )
    refused = client.post("/v1/embed", json={"texts": ["one two three four"], "max_tokens": 2, "truncate": "NONE"})
    assert refused.status_code == 422
    small = TestClient(make_app(max_inputs=2))
    too_many = small.post("/v2/embed", json={"texts": ["a", "b", "c"]})
    assert (too_many.status_code, too_many.json()["error"]["code"]) == (400, "too_many_inputs")  # Cohere: 400
    assert small.post("/native/embed", json={"inputs": ["a", "b", "c"]}).status_code == 413  # ours: 413


def test_rank_fields_and_missing_fields(client: TestClient) -> None:
    docs = [{"title": "Cats", "body": TEXTS[0]}, {"title": "Markets", "body": TEXTS[2]}]
    r = client.post("/v1/rerank", json={"query": "cat", "documents": docs, "rank_fields": ["title", "body"]})
    assert r.status_code == 200 and {x["document"]["title"] for x in r.json()["results"]} == {"Cats", "Markets"}
    missing = client.post("/v1/rerank", json={"query": "cat", "documents": docs})  # default rank field: text
    assert missing.status_code == 422 and "'text'" in missing.json()["error"]["message"]


def test_metrics_count_requests(client: TestClient) -> None:
    client.post("/embed", json={"inputs": ["a"]})
    client.post("/embed", json={"inputs": []})
    text = client.get("/metrics").text
    assert 'te_request_success{route="/embed"}' in text and 'te_request_failure{err="empty",route="/embed"}' in text
    assert (
        "# TYPE te_request_duration histogram" in text
        and 'te_request_input_length_bucket{route="/embed",le="+Inf"}' in text
    )
    m = Metrics()
    m.record("/x", 200, 0.01, 0.005, 7)
    assert 'te_request_inference_duration_sum{route="/x"} 0.005' in m.render()
    assert tei_error_type(429, "overloaded") == "Overloaded" and tei_error_type(503, "x") == "Unhealthy"


def test_docs_offline_head_health_and_cors() -> None:
    client = TestClient(make_app(api_key="k", cors_origins="https://app.example"))
    page = client.get("/docs")
    assert page.status_code == 200 and "cdn" not in page.text.lower() and "/docs/swagger-ui-bundle.js" in page.text
    js = client.get("/docs/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 100_000  # served from this box, without a key
    head = client.head("/health")
    assert head.status_code == 200 and head.content == b""
    keyed = {"authorization": "Bearer k"}
    for path in ("/", "/ping"):  # TEI's other health routes
        assert client.get(path, headers=keyed).json() == client.get("/health").json()
    assert client.post("/embeddings", json={"input": "x"}, headers=keyed).json()["object"] == "list"
    preflight = client.options(
        "/v1/embeddings",
        headers={"origin": "https://app.example", "access-control-request-method": "POST",
                 "access-control-request-headers": "authorization,content-type"},
    )  # fmt: skip
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    other = client.post("/embed", json={"inputs": "x"}, headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    assert TestClient(make_app(docs=False)).get("/docs").status_code == 404


def test_docs_default_off_in_lambda() -> None:
    assert Settings.from_env({"AWS_LAMBDA_FUNCTION_NAME": "fn"}).docs is False
    assert Settings.from_env({"AWS_LAMBDA_FUNCTION_NAME": "fn", "EDGE_DOCS": "true"}).docs is True
    assert Settings.from_env({}).docs is True
    assert Settings(embed_model_aliases=" a, ,b ").model_aliases("embed") == ("a", "b")


class _Counting:
    """A real embedder that counts its inference passes."""

    def __init__(self, inner: object) -> None:
        self._inner = inner
        self.calls = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def embed_with_usage(self, *args: object, **kwargs: object) -> object:
        self.calls += 1
        return self._inner.embed_with_usage(*args, **kwargs)  # type: ignore[attr-defined]


def test_cohere_every_embedding_type_in_at_most_two_passes() -> None:
    from handler.loaded_models import Models

    counting = _Counting(shared_models().require_embedder())
    client = TestClient(make_app(models=Models(embedder=counting, reranker=shared_models().reranker)))  # type: ignore[arg-type]
    types = ["float", "int8", "uint8", "binary", "ubinary", "base64"]
    r = client.post("/v2/embed", json={"texts": TEXTS, "embedding_types": types, "output_dimension": 64})
    assert r.status_code == 200 and counting.calls == 2
    got = r.json()["embeddings"]
    for name, precision in [("int8", "int8"), ("uint8", "uint8"), ("binary", "binary"), ("ubinary", "ubinary")]:
        assert got[name] == embedder().embed(TEXTS, precision=precision, dimensions=64).tolist(), name
    floats = embedder().embed(TEXTS, dimensions=64)
    np.testing.assert_array_equal(np.array(got["float"], dtype=np.float32), floats)
    raw = np.stack([np.frombuffer(base64.b64decode(v), dtype="<f4") for v in got["base64"]])
    np.testing.assert_array_equal(raw, floats)


@pytest.mark.parametrize("path", ["/v1/embed", "/v2/embed"])
def test_cohere_empty_embedding_types_is_refused_not_answered_as_floats(client: TestClient, path: str) -> None:
    r = client.post(path, json={"texts": TEXTS, "embedding_types": []})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "invalid_request" and "embedding_types is empty" in r.json()["error"]["message"]
    for absent in ({}, {"embedding_types": None}):  # absent or null still means float
        assert client.post(path, json={"texts": TEXTS, **absent}).status_code == 200


def test_a_trailing_slash_is_served_not_redirected_and_tei_s_other_paths_404_in_tei_shape(client: TestClient) -> None:
    plain = client.post("/embed", json={"inputs": "hello"})
    slashed = client.post("/embed/", json={"inputs": "hello"}, follow_redirects=False)
    assert slashed.status_code == 200 and slashed.json() == plain.json()  # no 307 to a URL built from Host
    assert client.post("/embed//", json={"inputs": ""}, follow_redirects=False).json()["error_type"] == "Validation"
    missing = client.post("/embed_sparse", json={"inputs": "hello"})  # TEI serves it for SPLADE models only
    assert missing.status_code == 404 and set(missing.json()) == {"error", "error_type"}


def test_empty_id_lists_and_empty_cohere_contents_are_refused(client: TestClient) -> None:
    for ids in ([], [[]], [[101], []]):
        r = client.post("/decode", json={"ids": ids})
        assert (r.status_code, r.json()["error_type"]) == (422, "Validation"), (ids, r.text)  # TEI refuses them
    r = client.post("/v2/embed", json={"inputs": [{"content": [{"type": "text", "text": "a"}]}, {"content": []}]})
    assert r.status_code == 400 and "inputs[1].content" in r.json()["error"]["message"]


def _token_rows(texts: list[str], **kwargs: object) -> list[np.ndarray]:
    return embedder().token_embeddings_with_usage(texts, **kwargs).token_embeddings  # type: ignore[arg-type]


def test_tei_embed_all_answers_each_token_s_vector_before_pooling(client: TestClient) -> None:
    r = client.post("/embed_all", json={"inputs": TEXTS})
    assert r.status_code == 200, r.text
    got = r.json()
    assert len(got) == len(TEXTS)
    for rows, want in zip(got, _token_rows(TEXTS), strict=True):
        np.testing.assert_array_equal(np.array(rows, dtype=np.float32), want)  # shortest decimals read back exactly
    one = client.post("/embed_all", json={"inputs": "hi"}).json()  # one string: still a batch of one, as TEI
    np.testing.assert_array_equal(np.array(one[0], dtype=np.float32), _token_rows(["hi"])[0])
    # TEI's fields: truncate (absent: refused when too long), truncation_direction, token ids
    assert client.post("/embed_all", json={"inputs": LONG}).status_code == 422
    left = client.post("/embed_all", json={"inputs": LONG, "truncate": True, "truncation_direction": "Left"})
    budget = embedder().manifest.max_seq_length - special_count(embedder().tokenizer)
    tail = keep_tail(embedder().tokenizer, LONG, budget)
    np.testing.assert_array_equal(np.array(left.json()[0], dtype=np.float32), _token_rows([tail])[0])
    ids = [t["id"] for t in client.post("/tokenize", json={"inputs": "hi", "add_special_tokens": False}).json()[0]]
    by_ids = client.post("/embed_all", json={"inputs": [ids]})
    assert by_ids.status_code == 200 and by_ids.json() == one
    empty = client.post("/embed_all", json={"inputs": ""})
    assert empty.status_code == 422 and empty.json()["error_type"] == "Validation"


def test_tei_embed_all_is_bounded_by_the_response_limit_before_and_after_inference() -> None:
    width = embedder().dimension
    before = TestClient(make_app(max_response_bytes=width * 2 * 10))  # room for at most 10 tokens at 2 bytes each
    r = before.post("/embed_all", json={"inputs": ["a b c d e f g h i j k l"]})
    assert r.status_code == 413 and r.json()["error_type"] == "Validation"
    assert "at most 10 tokens fit" in r.json()["error"]
    assert "x-compute-tokens" not in r.headers  # refused before inference
    size = len(TestClient(make_app()).post("/embed_all", json={"inputs": TEXTS}).content)
    after = TestClient(make_app(max_response_bytes=size - 1))
    r = after.post("/embed_all", json={"inputs": TEXTS})
    assert r.status_code == 413 and "split the request" in r.json()["error"]
    assert TestClient(make_app(max_response_bytes=size)).post("/embed_all", json={"inputs": TEXTS}).status_code == 200


def test_tei_takes_texts_and_token_id_lists_mixed_in_one_batch(client: TestClient) -> None:
    ids = [t["id"] for t in client.post("/tokenize", json={"inputs": "hi", "add_special_tokens": False}).json()[0]]
    mixed = client.post("/embed", json={"inputs": [TEXTS[0], ids, TEXTS[1]]})
    assert mixed.status_code == 200, mixed.text
    np.testing.assert_array_equal(
        np.array(mixed.json(), dtype=np.float32), embedder().embed([TEXTS[0], "hi", TEXTS[1]])
    )
    bad = client.post("/embed", json={"inputs": [TEXTS[0], [10**9]]})
    assert bad.status_code == 422 and "`inputs[1]`" in bad.json()["error"]
    empty = client.post("/embed", json={"inputs": [ids, ""]})
    assert empty.status_code == 422 and "`inputs[1]`" in empty.json()["error"]


def test_tei_embed_all_refuses_normalize_rather_than_ignore_it(client: TestClient) -> None:
    refused = client.post("/embed_all", json={"inputs": "hi", "normalize": True})
    assert refused.status_code == 422 and "normalize" in refused.json()["error"]
    assert client.post("/embed_all", json={"inputs": "hi", "normalize": False}).status_code == 200


def test_tokenize_counts_against_the_token_limit_with_special_tokens_and_refuses_past_it() -> None:
    limited = TestClient(make_app(max_tokens=12))
    words = ["word"] * 10  # 10 tokens + [CLS] [SEP] = 12: at the limit
    at_limit = limited.post("/tokenize", json={"inputs": " ".join(words)})
    assert at_limit.status_code == 200 and len(at_limit.json()[0]) == 12
    over = limited.post("/tokenize", json={"inputs": " ".join([*words, "more"])})
    assert over.status_code == 413 and "more than 12 tokens" in over.json()["error"]
    bare = limited.post("/tokenize", json={"inputs": " ".join([*words, "a", "b"]), "add_special_tokens": False})
    assert bare.status_code == 200 and len(bare.json()[0]) == 12
    for huge in ("word " * 1_000_000, "字" * 1_000_000):  # refused from a head window, not tokenized whole
        r = limited.post("/tokenize", json={"inputs": huge})
        assert r.status_code == 413, r.text[:200]
    second = limited.post("/tokenize", json={"inputs": [" ".join(words[:6]), " ".join(words[:6])]})
    assert second.status_code == 413  # 8 + 8 tokens in one call
