"""Compressed request bodies (Content-Encoding) and HEAD answers, on the toy app."""

from __future__ import annotations

import gzip
import json
import zlib

import pytest
from helpers.toy_handler import make_app
from starlette.testclient import TestClient

from handler.content_encoding import inflate
from handler.errors import ApiError

BODY = json.dumps({"inputs": ["hello", "world"]}).encode()


@pytest.mark.parametrize(
    ("coded", "encoding"),
    [
        (gzip.compress(BODY), "gzip"),
        (gzip.compress(BODY), "GZip"),
        (zlib.compress(BODY), "deflate"),
        (zlib.compress(BODY)[2:-4], "deflate"),  # raw deflate, as some clients send it
        (gzip.compress(zlib.compress(BODY)), "deflate, gzip"),  # applied in order: undone last first
        (BODY, "identity"),
    ],
)
def test_inflate_undoes_each_coding(coded: bytes, encoding: str) -> None:
    assert inflate(coded, encoding, limit=10_000) == BODY


@pytest.mark.parametrize(
    ("coded", "encoding", "status"),
    [
        (gzip.compress(b" " * 20_000), "gzip", 413),  # inflates past the limit: stops at limit + 1 bytes
        (gzip.compress(BODY)[:-8], "gzip", 400),  # truncated
        (b"plain text", "gzip", 400),
        (BODY, "br", 415),
        (BODY, "compress", 415),
    ],
)
def test_inflate_refuses(coded: bytes, encoding: str, status: int) -> None:
    with pytest.raises(ApiError) as caught:
        inflate(coded, encoding, limit=10_000)
    assert caught.value.status == status


def test_a_gzip_body_gets_the_same_vectors_and_head_gets_no_body() -> None:
    client = TestClient(make_app(), raise_server_exceptions=False)
    plain = client.post("/native/embed", content=BODY, headers={"content-type": "application/json"})
    packed = client.post(
        "/native/embed",
        content=gzip.compress(BODY),
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert plain.status_code == packed.status_code == 200
    assert plain.json()["embeddings"] == packed.json()["embeddings"]
    for path in ("/health", "/", "/ping"):
        head = client.head(path)
        assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 0


def test_gzip_members_back_to_back_are_all_inflated() -> None:
    """RFC 1952 allows several members (`cat a.gz b.gz`); the body is all of them, as gzip.decompress reads it."""
    half = len(BODY) // 2
    members = gzip.compress(BODY[:half]) + gzip.compress(BODY[half:])
    assert inflate(members, "gzip", limit=10_000) == BODY == gzip.decompress(members)
    assert inflate(members + b"\0" * 8, "gzip", limit=10_000) == BODY  # zero padding after the last member


@pytest.mark.parametrize(
    ("coded", "status"),
    [
        (gzip.compress(BODY) + b"not gzip", 400),  # a later member that is not gzip
        (gzip.compress(BODY) + gzip.compress(BODY)[:-8], 400),  # a truncated later member
        (gzip.compress(b" " * 6_000) + gzip.compress(b" " * 6_000), 413),  # the limit counts every member
    ],
    ids=["junk-member", "truncated-member", "over-the-limit-together"],
)
def test_gzip_members_are_checked_like_the_first(coded: bytes, status: int) -> None:
    with pytest.raises(ApiError) as refused:
        inflate(coded, "gzip", limit=10_000)
    assert refused.value.status == status
