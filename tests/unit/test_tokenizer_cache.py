"""TokenizerCache: bundles whose tokenizers are the same (apart from the truncation and padding the runtime
replaces) share one TextTokenizer object; anything else gets its own, and answers stay the same."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers.toy_bundles import make_toy_embed_bundle, make_toy_rerank_bundle

from edge_encoders import Embedder, Reranker, load_cache
from edge_encoders.hashing import sha256_file
from edge_encoders.manifest import read_manifest
from edge_encoders.text_tokenizer import TokenizerCache, content_digest

TEXTS = ["hello world", "a longer text about tokenizers shared between two models", ""]


def _set_tokenizer(bundle: Path, **changes: object) -> None:
    """Rewrite the bundle's tokenizer.json with changed top-level fields, and its manifest entry to match."""
    path = bundle / "tokenizer.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config.update(changes)
    path.write_text(json.dumps(config), encoding="utf-8")
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"]["tokenizer.json"] = {"sha256": sha256_file(path), "size": path.stat().st_size}
    (bundle / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def _pair(tmp_path: Path, *, rerank_max: int = 32) -> tuple[Path, Path]:
    return (
        make_toy_embed_bundle(tmp_path / "embed")[0],
        make_toy_rerank_bundle(tmp_path / "rerank", max_seq_length=rerank_max)[0],
    )


def test_identical_files_share_one_tokenizer(tmp_path: Path) -> None:
    embed, rerank = _pair(tmp_path)
    cache = TokenizerCache()
    embedder = Embedder.from_bundle(embed, tokenizers=cache)
    reranker = Reranker.from_bundle(rerank, tokenizers=cache)
    assert embedder.tokenizer is reranker.tokenizer
    assert len(cache) == 1
    np.testing.assert_array_equal(embedder.embed(TEXTS), Embedder.from_bundle(embed).embed(TEXTS))
    alone = Reranker.from_bundle(rerank).rerank("tokenizers", TEXTS)
    assert [(h.index, h.score) for h in reranker.rerank("tokenizers", TEXTS)] == [(h.index, h.score) for h in alone]


def test_another_max_seq_length_gets_its_own(tmp_path: Path) -> None:
    embed, rerank = _pair(tmp_path, rerank_max=24)
    cache = TokenizerCache()
    embedder = Embedder.from_bundle(embed, tokenizers=cache)
    reranker = Reranker.from_bundle(rerank, tokenizers=cache)
    assert embedder.tokenizer is not reranker.tokenizer
    assert (embedder.tokenizer.max_seq_length, reranker.tokenizer.max_seq_length) == (32, 24)


def test_other_truncation_and_padding_share_only_through_the_image_build_record(tmp_path: Path) -> None:
    """The files differ (as the MiniLM embedder's and the stand-in reranker's do): their sha256 differ, so they
    are shared only once load_cache has recorded that their content apart from those settings is the same."""
    embed, rerank = _pair(tmp_path)
    _set_tokenizer(
        rerank,
        truncation={"direction": "Right", "max_length": 256, "strategy": "LongestFirst", "stride": 0},
        padding=None,
    )
    cache = TokenizerCache()
    a = Embedder.from_bundle(embed, tokenizers=cache)
    b = Reranker.from_bundle(rerank, tokenizers=cache)
    assert a.tokenizer is not b.tokenizer
    load_cache.build(embed)
    load_cache.build(rerank)
    cache = TokenizerCache()
    a = Embedder.from_bundle(embed, tokenizers=cache)
    b = Reranker.from_bundle(rerank, tokenizers=cache)
    assert a.tokenizer is b.tokenizer
    assert a.tokenizer.encode(TEXTS, truncate=True)[1].ids == (
        Reranker.from_bundle(rerank).tokenizer.encode(TEXTS, truncate=True)[1].ids
    )


def test_other_content_is_never_shared(tmp_path: Path) -> None:
    embed, rerank = _pair(tmp_path)
    config = json.loads((rerank / "tokenizer.json").read_text(encoding="utf-8"))
    config["normalizer"]["lowercase"] = not config["normalizer"]["lowercase"]
    _set_tokenizer(rerank, normalizer=config["normalizer"])
    for bundle in (embed, rerank):
        load_cache.build(bundle)
    cache = TokenizerCache()
    a = Embedder.from_bundle(embed, tokenizers=cache)
    b = Reranker.from_bundle(rerank, tokenizers=cache)
    assert a.tokenizer is not b.tokenizer
    assert a.tokenizer.encode(["Hello"], truncate=True)[0].ids != b.tokenizer.encode(["Hello"], truncate=True)[0].ids


def test_a_stale_record_falls_back_to_the_files_digest(tmp_path: Path) -> None:
    """A record made from another tokenizer file (the bundle changed after the image build) is not used."""
    embed, _ = _pair(tmp_path)
    load_cache.build(embed)
    manifest = read_manifest(embed)
    assert load_cache.tokenizer_key(embed, manifest).startswith("content:")
    _set_tokenizer(embed, padding=None)
    assert load_cache.tokenizer_key(embed, read_manifest(embed)) == sha256_file(embed / "tokenizer.json")


def test_content_digest_ignores_only_truncation_and_padding(tmp_path: Path) -> None:
    config = json.loads((make_toy_embed_bundle(tmp_path / "e")[0] / "tokenizer.json").read_text(encoding="utf-8"))
    base = content_digest(json.dumps(config))
    assert content_digest(json.dumps({**config, "truncation": None, "padding": {"strategy": "BatchLongest"}})) == base
    assert content_digest(json.dumps({**config, "added_tokens": []})) != base
    with pytest.raises(Exception, match="not a JSON object"):
        content_digest("[]")
