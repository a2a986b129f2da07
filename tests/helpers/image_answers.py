"""Check a function URL answer against the runtime library called in-process on the same bundles."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from edge_encoders import Embedder, Reranker


def _embeddings(vectors: list[list[float]], texts: list[str], embedder: Embedder) -> None:
    got = np.asarray(vectors, dtype=np.float32)
    want = embedder.embed(texts)
    assert got.shape == want.shape == (len(texts), embedder.dimension)
    cos = (got * want).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1))
    assert cos.min() > 0.9999, cos


def _rerank(
    hits: list[dict[str, Any]], query: str, docs: list[str], top_n: int | None, reranker: Reranker, key: str
) -> None:
    want = reranker.rerank(query, docs, top_n=top_n)
    assert [h["index"] for h in hits] == [w.index for w in want]
    assert np.allclose([h[key] for h in hits], [w.score for w in want], atol=1e-4)


def check_answer(event: dict[str, Any], response: dict[str, Any], embedder: Embedder, reranker: Reranker) -> None:
    """The Lambda response to a function URL event: 200 and the content the runtime computes here."""
    assert response.get("statusCode") == 200, response
    body = json.loads(response["body"])
    request = json.loads(event["body"]) if event.get("body") else {}
    path = event["rawPath"]
    if path == "/native/embed":
        _embeddings(body["embeddings"], request["inputs"], embedder)
    elif path == "/embed":  # TEI: a bare list of vectors
        _embeddings(body, request["inputs"], embedder)
    elif path == "/v1/embeddings":
        assert [d["index"] for d in body["data"]] == list(range(len(request["input"])))
        _embeddings([d["embedding"] for d in body["data"]], request["input"], embedder)
    elif path == "/native/rerank":
        _rerank(body["results"], request["query"], request["texts"], request.get("top_n"), reranker, "score")
    elif path in ("/v1/rerank", "/v2/rerank"):
        docs = [d if isinstance(d, str) else d["text"] for d in request["documents"]]
        _rerank(body["results"], request["query"], docs, request.get("top_n"), reranker, "relevance_score")
    elif path == "/health":
        assert body["status"] == "ok"
    else:
        raise AssertionError(f"no content check for {path}: add one in tests/helpers/image_answers.py")
