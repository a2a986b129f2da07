"""Real clients against a real uvicorn server on 127.0.0.1: openai-python for embeddings, httpx for rerank.

The server runs in a thread over the shared models, on a socket bound to port 0 (no port race), and is
stopped after the module. One more test starts `uvicorn handler.app:app` as its own process, the way
`make serve` does, to prove the module-level app loads from EDGE_* settings.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import numpy as np
import openai
import pytest
from helpers.handler_support import REPO, bundle_paths, make_app, shared_models
from helpers.loopback_server import serve_on_loopback

API_KEY = "client-test-key"
MODEL = "all-MiniLM-L6-v2"  # the packaged model's name: another name is a 404 (test_dialect_clients.py)
TEXTS = ["The quick brown fox jumps over the lazy dog.", "A fast auburn fox leaps over a sleepy hound.", "x"]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    app = make_app(api_key=API_KEY, rerank_model_aliases="rerank-v3.5,jina-reranker-v2-base-multilingual")
    with serve_on_loopback(app) as base:
        yield base


@pytest.fixture(scope="module")
def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key=API_KEY, max_retries=0)


def test_openai_default_base64(client: openai.OpenAI) -> None:
    response = client.embeddings.create(model="all-MiniLM-L6-v2", input=TEXTS)  # SDK asks for base64
    got = np.array([d.embedding for d in response.data], dtype=np.float32)
    expected = shared_models().require_embedder().embed(TEXTS)
    np.testing.assert_array_equal(got, expected)
    assert [d.index for d in response.data] == [0, 1, 2]
    assert response.usage.prompt_tokens == response.usage.total_tokens > 0


def test_openai_float_and_dimensions(client: openai.OpenAI) -> None:
    response = client.embeddings.create(model=MODEL, input=TEXTS[0], encoding_format="float", dimensions=128)
    assert len(response.data) == 1 and len(response.data[0].embedding) == 128
    expected = shared_models().require_embedder().embed(TEXTS[:1], dimensions=128)[0]
    np.testing.assert_array_equal(np.array(response.data[0].embedding, dtype=np.float32), expected)


def test_openai_errors_surface_as_sdk_exceptions(base_url: str, client: openai.OpenAI) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as err:
        client.embeddings.create(model=MODEL, input=[[101, 2023, 102]])
    assert "check_embedding_ctx_length=False" in str(err.value)
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model=MODEL, input=[])
    bad_key = openai.OpenAI(base_url=f"{base_url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad_key.embeddings.create(model=MODEL, input="x")


@pytest.mark.parametrize("path", ["/v1/rerank", "/v2/rerank"])
def test_rerank_shapes_over_http(base_url: str, path: str) -> None:
    query = "Which animal jumps?"
    headers = {"authorization": f"Bearer {API_KEY}"}
    cohere = httpx.post(
        f"{base_url}{path}",
        json={"model": "rerank-v3.5", "query": query, "documents": TEXTS, "top_n": 2, "max_tokens_per_doc": 4096},
        headers=headers,
    )
    assert cohere.status_code == 200
    body = cohere.json()
    hits = shared_models().require_reranker().rerank(query, TEXTS, top_n=2)
    assert [r["index"] for r in body["results"]] == [h.index for h in hits]
    assert body["meta"]["api_version"]["version"] == "2" and body["meta"]["billed_units"]["search_units"] == 1
    assert cohere.headers["x-request-id"] == body["id"]

    jina = httpx.post(
        f"{base_url}{path}",
        json={"model": "jina-reranker-v2-base-multilingual", "query": query, "documents": [{"text": t} for t in TEXTS],
              "return_documents": True},
        headers=headers,
    )  # fmt: skip
    results = jina.json()["results"]
    assert [r["document"]["text"] for r in results] == [TEXTS[r["index"]] for r in results]
    assert jina.json()["usage"]["total_tokens"] == int(jina.headers["x-compute-tokens"])


def test_uvicorn_serves_the_module_level_app(tmp_path: object) -> None:
    embed, rerank = bundle_paths()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "EDGE_EMBED_BUNDLE": str(embed), "EDGE_RERANK_BUNDLE": str(rerank), "EDGE_WARMUP": "0"}
    cmd = [sys.executable, "-m", "uvicorn", "handler.app:app", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else "uvicorn exited"
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "uvicorn handler.app:app did not answer in 60 s"
                time.sleep(0.1)
        assert health.status_code == 200 and health.json()["models"] == {"embed": "ready", "rerank": "ready"}
        r = httpx.post(f"http://127.0.0.1:{port}/embed", content=b'{"inputs": "hi"}')  # no content-type
        assert r.status_code == 200 and len(r.json()[0]) == shared_models().require_embedder().dimension
    finally:
        proc.terminate()
        proc.wait(timeout=20)
