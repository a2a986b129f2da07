"""Texts nobody tried yet, on every text-taking route of every dialect: each answer is either the right vector
(or score, or token list), equal to the runtime's own for the same text, or a clear 4xx in the dialect's error
shape. Never a 5xx, never a NaN, never an empty text embedded as if it were text where the dialect refuses it.

Toy bundles (helpers.toy_handler): the routes, limits and error mapping are what is under test, and the toy
graphs make every token count, so a wrong text (a dropped, swapped or substituted input) shows in the vector.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from helpers.toy_handler import make_app, shared_models
from starlette.testclient import TestClient

from handler.dialects import COHERE_PATHS, TEI_PATHS
from handler.tokenization import raw_tokenizer

MAX_INPUTS = 8
OTHER = "x"  # the neighbour every text is batched with: it must come back unchanged
TEXTS: dict[str, str] = {
    "empty": "",
    "space": " ",
    "whitespace": " \t\n\r ",
    "punctuation": "?!...;;--",
    "emoji": "😀",
    "zwj-family": "👩\u200d👩\u200d👧\u200d👦",
    "flag": "🇺🇸",
    "cjk": "你好世界，今天天气很好",
    "thai": "สวัสดีครับ",
    "arabic": "مرحبا بالعالم",
    "hebrew": "שלום עולם",
    "rtl-override": "\u202ehello",
    "combining": "e\u0301" * 50,
    "zero-width-only": "\u200b\u200c\u200d",
    "zero-width-inside": "a\u200bb",
    "control": "\x01\x02\x7f",
    "nul": "\x00",
    "nul-inside": "a\x00b",
    "bom": "\ufeffhello",
    "bom-only": "\ufeff",
    "noncharacters": "\uffff\U0010ffff",
    "word-100k": "a" * 100_000,
    "under-max-tokens": "word " * 10,
    "over-max-tokens": "word " * 70,  # the toy embedder's max_seq_length is 64
}


@dataclass(frozen=True)
class Route:
    """One way a route takes a text: the body around it, and what kind of answer a 200 is."""

    path: str
    body: Callable[[str], dict[str, Any]]
    answer: str  # "vectors", "scores", "tokens", "similarities"
    truncates: bool = True  # False: an over-long text is refused (TEI's truncate defaults to false)

    @property
    def dialect(self) -> str:
        return "tei" if self.path in TEI_PATHS else "cohere" if self.path in COHERE_PATHS else "ours"


ROUTES: dict[str, Route] = {
    "native/embed": Route("/native/embed", lambda t: {"inputs": [t, OTHER]}, "vectors"),
    "native/rerank": Route("/native/rerank", lambda t: {"query": "q", "texts": [t, OTHER]}, "scores"),
    "native/rerank query": Route("/native/rerank", lambda t: {"query": t, "texts": [OTHER]}, "scores"),
    "tei/embed": Route("/embed", lambda t: {"inputs": [t, OTHER]}, "vectors", truncates=False),
    "tei/embed truncate": Route("/embed", lambda t: {"inputs": t, "truncate": True}, "vectors"),
    "tei/POST /": Route("/", lambda t: {"inputs": t}, "vectors", truncates=False),
    "tei/rerank": Route("/rerank", lambda t: {"query": "q", "texts": [t, OTHER]}, "scores", truncates=False),
    "tei/rerank query": Route("/rerank", lambda t: {"query": t, "texts": [OTHER], "truncate": True}, "scores"),
    "tei/similarity": Route(
        "/similarity",
        lambda t: {"inputs": {"source_sentence": t, "sentences": [t, OTHER]}, "parameters": {"truncate": True}},
        "similarities",
    ),
    "tei/tokenize": Route("/tokenize", lambda t: {"inputs": [t, OTHER]}, "tokens"),
    "tei/embed_all": Route("/embed_all", lambda t: {"inputs": [t, OTHER]}, "token vectors", truncates=False),
    "openai": Route("/v1/embeddings", lambda t: {"input": [t, OTHER]}, "vectors"),
    "openai single": Route("/v1/embeddings", lambda t: {"input": t}, "vectors"),
    "cohere/v1/embed": Route("/v1/embed", lambda t: {"texts": [t, OTHER]}, "vectors"),
    "cohere/v2/embed": Route("/v2/embed", lambda t: {"texts": [t, OTHER], "embedding_types": ["float"]}, "vectors"),
    "cohere/v1/rerank": Route("/v1/rerank", lambda t: {"query": "q", "documents": [t, OTHER]}, "scores"),
    "cohere/v2/rerank": Route("/v2/rerank", lambda t: {"query": "q", "documents": [t, OTHER]}, "scores"),
    "cohere/v2/rerank query": Route("/v2/rerank", lambda t: {"query": t, "documents": [OTHER]}, "scores"),
    "jina/rerank": Route("/v1/rerank", lambda t: {"query": "q", "documents": [{"text": t}, {"text": OTHER}]}, "scores"),
}

# (text, route) -> (status, code): the answers that are refusals. Everything else must be a correct 200.
TEI_EMPTY = (422, "Validation")  # TEI: "`inputs` cannot be empty" (an empty string, not blank text)
REFUSED: dict[tuple[str, str], tuple[int, str]] = {
    **{("empty", r): TEI_EMPTY for r in ("tei/embed", "tei/embed truncate", "tei/POST /", "tei/similarity")},
    ("empty", "tei/tokenize"): TEI_EMPTY,
    ("empty", "tei/embed_all"): TEI_EMPTY,
    ("empty", "openai"): (400, "invalid_request"),  # OpenAI refuses an empty string
    ("empty", "openai single"): (400, "invalid_request"),
    # Cohere: "query must not be empty or be only whitespace"
    **{(t, "cohere/v2/rerank query"): (400, "invalid_request") for t in ("empty", "space", "whitespace")},
    # one 100,000-character word: no token boundary within the scan limit, refused before any tokenizing
    # (/tokenize, which answers every token: longer than the scan limit, refused before any tokenizing too)
    **{("word-100k", r): (413, "input_unbounded") for r in ROUTES},
    # over the model's max tokens where truncation is off by default (TEI)
    **{("over-max-tokens", r): (422, "Validation") for r, route in ROUTES.items() if not route.truncates},
}


def in_dialect(route: Route, status: int, code: str) -> tuple[int, str]:
    """An error as the route's dialect answers it: TEI names error types, not codes; on Cohere's paths (Jina's
    /v1/rerank is one) a 413 is a 400, since Cohere's SDK has no 413 error."""
    if route.dialect == "tei":
        return status, "Validation"
    if route.dialect == "cohere" and status == 413:
        return 400, code
    return status, code


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(make_app(max_inputs=MAX_INPUTS), raise_server_exceptions=False)


def error_code(route: Route, data: Any) -> str:
    """The code of an error body, checking it has the dialect's shape on the way."""
    if route.dialect == "tei":
        assert set(data) == {"error", "error_type"} and isinstance(data["error"], str), data
        return str(data["error_type"])
    assert set(data["error"]) == {"message", "type", "code"}, data
    return str(data["error"]["code"])


def unit(rows: Any) -> np.ndarray:
    matrix = np.asarray(rows, dtype=np.float64)
    assert np.isfinite(matrix).all()
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def vectors(data: Any) -> list[list[float]]:
    """The float vectors of any dialect's embeddings answer."""
    if isinstance(data, list):
        return data
    if "data" in data:
        return [item["embedding"] for item in data["data"]]
    embeddings = data["embeddings"]
    return embeddings["float"] if isinstance(embeddings, dict) else embeddings


def scores(data: Any) -> dict[int, float]:
    items = data if isinstance(data, list) else data["results"]
    return {item["index"]: item.get("score", item.get("relevance_score")) for item in items}


def check_answer(route: Route, text: str, body: dict[str, Any], data: Any) -> None:
    """A 200 must be what the runtime itself gives for the same texts: nothing dropped, swapped or made up."""
    embedder = shared_models().require_embedder()
    reranker = shared_models().require_reranker()
    if route.answer == "vectors":
        sent = body.get("inputs", body.get("input", body.get("texts")))
        sent = [sent] if isinstance(sent, str) else sent
        got = unit(vectors(data))
        want = unit(embedder.embed(sent))
        assert got.shape == want.shape and np.abs(got - want).max() < 1e-5
    elif route.answer == "token vectors":
        want_rows = embedder.token_embeddings_with_usage(body["inputs"]).token_embeddings
        assert len(data) == len(want_rows)
        for got_rows, want in zip(data, want_rows, strict=True):
            assert np.array_equal(np.asarray(got_rows, dtype=np.float32), want)
    elif route.answer == "scores":
        query = body["query"]
        docs = [d["text"] if isinstance(d, dict) else d for d in body.get("texts", body.get("documents"))]
        want = {h.index: h.score for h in reranker.rerank(query, docs)}
        got = scores(data)
        assert got.keys() == want.keys() and all(math.isclose(got[i], want[i], abs_tol=1e-5) for i in want)
    elif route.answer == "similarities":
        source, sentences = body["inputs"]["source_sentence"], body["inputs"]["sentences"]
        matrix = unit(embedder.embed([source, *sentences]))
        assert np.allclose(data, matrix[1:] @ matrix[0], atol=1e-5)
        assert math.isclose(data[0], 1.0, abs_tol=1e-5)  # the source against itself
    else:
        assert len(data) == 2 and all(isinstance(t["id"], int) for row in data for t in row)
        assert [t["id"] for t in data[0]] == raw_tokenizer(embedder.tokenizer).encode(text).ids  # never cut


@pytest.mark.parametrize("route_name", sorted(ROUTES))
@pytest.mark.parametrize("text_name", list(TEXTS))
def test_every_text_on_every_route(client: TestClient, text_name: str, route_name: str) -> None:
    route = ROUTES[route_name]
    body = route.body(TEXTS[text_name])
    r = client.post(route.path, content=json.dumps(body), headers={"content-type": "application/json"})
    assert r.status_code < 500, r.text[:300]
    data = r.json()
    refused = REFUSED.get((text_name, route_name))
    expected = None if refused is None else in_dialect(route, *refused)
    if expected is None:
        assert r.status_code == 200, r.text[:300]
        check_answer(route, TEXTS[text_name], body, data)
    else:
        assert (r.status_code, error_code(route, data)) == expected, r.text[:300]
        assert "Traceback" not in r.text


# ---- batches: at the limit, over it, duplicates; wrong types ------------------------------------------------
BATCH_ROUTES = {
    name: ROUTES[name]
    for name in (
        "native/embed",
        "tei/embed",
        "tei/embed_all",
        "openai",
        "cohere/v2/embed",
        "native/rerank",
        "tei/rerank",
        "jina/rerank",
    )
}


def _batch_body(route: Route, texts: list[str]) -> dict[str, Any]:
    body = route.body(OTHER)
    for key in ("inputs", "input", "texts", "documents"):
        if key in body:
            body[key] = [{"text": t} for t in texts] if route.path == "/v1/rerank" else texts
    return body


@pytest.mark.parametrize("route_name", sorted(BATCH_ROUTES))
def test_a_batch_at_the_limit_passes_and_one_over_is_refused(client: TestClient, route_name: str) -> None:
    route = BATCH_ROUTES[route_name]
    at_limit = [f"text number {i}" for i in range(MAX_INPUTS)]
    r = client.post(route.path, json=_batch_body(route, at_limit))
    assert r.status_code == 200, r.text[:300]
    check_answer(route, "", _batch_body(route, at_limit), r.json())
    over = client.post(route.path, json=_batch_body(route, [*at_limit, "one more"]))
    status = 400 if route.dialect == "cohere" or route.path == "/v1/rerank" else 413
    code = "Validation" if route.dialect == "tei" else "too_many_inputs"
    assert (over.status_code, error_code(route, over.json())) == (status, code)
    assert str(MAX_INPUTS) in over.text


@pytest.mark.parametrize("route_name", sorted(BATCH_ROUTES))
def test_duplicates_in_a_batch_each_get_their_own_identical_answer(client: TestClient, route_name: str) -> None:
    route = BATCH_ROUTES[route_name]
    texts = ["same", "other", "same", "same"]
    r = client.post(route.path, json=_batch_body(route, texts))
    assert r.status_code == 200, r.text[:300]
    data = r.json()
    check_answer(route, "", _batch_body(route, texts), data)
    if route.answer in ("vectors", "token vectors"):
        rows = [np.asarray(row) for row in (vectors(data) if route.answer == "vectors" else data)]
        assert len(rows) == 4 and (rows[0] == rows[2]).all() and (rows[0] == rows[3]).all()
    else:
        got = scores(data)
        assert sorted(got) == [0, 1, 2, 3] and got[0] == got[2] == got[3]


WRONG_TYPES: dict[str, Any] = {
    "number": 5,
    "null": None,
    "float": 1.5,
    "bool": True,
    "object": {"a": 1},
    "nested lists": [["a"]],
    "numbers in the list": [1.5, 2.5],
    "bools in the list": [True, False],
    "null in the list": ["a", None],
    "object in the list": ["a", {"a": 1}],
    "empty list": [],
}


@pytest.mark.parametrize("route_name", sorted(BATCH_ROUTES))
@pytest.mark.parametrize("kind", list(WRONG_TYPES))
def test_wrong_types_are_a_4xx_in_the_dialect_s_shape(client: TestClient, route_name: str, kind: str) -> None:
    route = BATCH_ROUTES[route_name]
    body = route.body(OTHER)
    key = next(k for k in ("inputs", "input", "texts", "documents") if k in body)
    body[key] = WRONG_TYPES[kind]
    r = client.post(route.path, json=body)
    assert 400 <= r.status_code < 500, r.text[:300]
    code = error_code(route, r.json())
    if kind == "bools in the list":  # never read as token ids 1 and 0
        assert "token" not in r.text, r.text[:300]
    assert code


@pytest.mark.parametrize("path", ["/", "/invocations", "/embed", "/v1/embeddings", "/v1/rerank", "/embed_all"])
def test_json_nested_too_deeply_is_a_400_not_a_crash(client: TestClient, path: str) -> None:
    deep = b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    r = client.post(path, content=deep, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text[:300]
    assert "JSON" in r.text and "Traceback" not in r.text


@pytest.mark.parametrize("path", ["/", "/invocations", "/embed", "/v1/embeddings", "/v2/rerank"])
@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("5,000-digit integer", b'{"inputs": "a", "input": "a", "dimensions": ' + b"9" * 5000 + b"}"),  # valid JSON
        ("Latin-1 bytes", '{"inputs": "caf\xe9", "input": "caf\xe9"}'.encode("latin-1")),  # not UTF-8/16/32
    ],
)
def test_json_no_parser_here_can_read_is_a_400_that_says_why(
    client: TestClient, path: str, kind: str, body: bytes
) -> None:
    r = client.post(path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400, (kind, r.text[:300])
    data = r.json()
    message = data["error"] if path in TEI_PATHS else data["error"]["message"]
    assert "UTF-8" in message and "4,300 digits" in message, (kind, message)
