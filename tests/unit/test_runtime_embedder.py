"""Embedder on toy bundles: pooling, normalization, prompts, dimensions, precision, truncation, batching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers.toy_bundles import make_toy_embed_bundle
from tokenizers import Tokenizer

from edge_encoders import (
    BatchPolicy,
    Embedder,
    EmptyInputError,
    InputError,
    InputTooLongError,
    InvalidArgumentError,
    Limits,
    TooManyTokensError,
)
from edge_encoders.precision import quantize, ranges_from

TEXTS = [
    "hello world",
    "A somewhat longer sentence, with punctuation; and more words than the first one.",
    "",
    "🙂 emoji and 中文 text",
    "def f(x):\n    return x * 2",
    "word " * 100,
]


def _expected(folder: Path, words: np.ndarray, types: np.ndarray, texts: list[str], limit: int, mode: str):
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(limit)
    rows = []
    for enc in tok.encode_batch(texts):
        hidden = words[enc.ids] + types[enc.type_ids]
        rows.append({"mean": hidden.mean(axis=0), "cls": hidden[0], "lasttoken": hidden[-1]}[mode])
    return np.stack(rows)


@pytest.mark.parametrize("mode", ["mean", "cls", "lasttoken"])
def test_pooling_matches_hand_computation(tmp_path: Path, mode: str) -> None:
    folder, words, types = make_toy_embed_bundle(tmp_path / mode, pooling=mode, normalize=False)
    got = Embedder.from_bundle(folder).embed(TEXTS)
    want = _expected(folder, words, types, TEXTS, 32, mode)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_normalized_and_in_input_order(toy_embed) -> None:
    folder, words, types = toy_embed
    emb = Embedder.from_bundle(folder, batch_policy=BatchPolicy(token_budget=40, max_batch_size=2))
    got = emb.embed(TEXTS)
    want = _expected(folder, words, types, TEXTS, 32, "mean")
    want /= np.linalg.norm(want, axis=1, keepdims=True)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, rtol=1e-6)


def test_same_vector_whatever_the_batch(toy_embed) -> None:
    emb = Embedder.from_bundle(toy_embed[0])
    together = emb.embed(TEXTS)
    alone = np.vstack([emb.embed([t]) for t in TEXTS])
    np.testing.assert_array_equal(together, alone)


def test_tokenizer_json_trap_is_overridden(toy_embed) -> None:
    """MiniLM's tokenizer.json pads to 128 and truncates at 128; the manifest's limit (32 here) rules."""
    emb = Embedder.from_bundle(toy_embed[0])
    counts = emb.embed_with_usage(["hi", "word " * 100]).token_counts
    assert counts == [3, 32]


def test_truncation_off_names_length_and_limit(toy_embed) -> None:
    emb = Embedder.from_bundle(toy_embed[0])
    with pytest.raises(InputTooLongError) as info:
        emb.embed(["short", "word " * 100], truncate=False)
    assert (info.value.index, info.value.length, info.value.limit) == (1, 102, 32)
    assert "102 tokens" in info.value.message and "32" in info.value.message
    assert emb.embed(["short"], truncate=False).shape == (1, 16)


def test_prompts_by_name_and_text(toy_embed) -> None:
    emb = Embedder.from_bundle(toy_embed[0])
    by_name = emb.embed(["cats"], prompt_name="query")
    by_text = emb.embed(["cats"], prompt="query: ")
    plain = emb.embed(["query: cats"])
    np.testing.assert_array_equal(by_name, plain)
    np.testing.assert_array_equal(by_text, plain)
    with pytest.raises(InvalidArgumentError, match="unknown prompt_name 'nope'"):
        emb.embed(["cats"], prompt_name="nope")


def test_matryoshka_dimensions_renormalize(toy_embed) -> None:
    emb = Embedder.from_bundle(toy_embed[0])
    full = emb.embed(TEXTS, normalize=False)
    cut = emb.embed(TEXTS, dimensions=8)
    want = full[:, :8] / np.linalg.norm(full[:, :8], axis=1, keepdims=True)
    np.testing.assert_allclose(cut, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bad", [0, 17, -1])
def test_dimensions_outside_the_width_are_refused(toy_embed, bad: int) -> None:
    with pytest.raises(InvalidArgumentError, match="between 1 and 16"):
        Embedder.from_bundle(toy_embed[0]).embed(["x"], dimensions=bad)


def test_precisions_follow_sentence_transformers(toy_embed) -> None:
    """Same arithmetic as sentence_transformers.quantize_embeddings, ranges from the bundle's calibration."""
    folder = toy_embed[0]
    emb = Embedder.from_bundle(folder)
    floats = emb.embed(TEXTS)
    calibration = np.load(folder / "calibration.npy")
    calibration = calibration / np.linalg.norm(calibration, axis=1, keepdims=True)
    ranges = ranges_from(calibration)
    for precision in ("int8", "uint8"):
        got = emb.embed(TEXTS, precision=precision)
        np.testing.assert_array_equal(got, quantize(floats, precision, ranges))
    packed = emb.embed(TEXTS, precision="ubinary")
    assert packed.dtype == np.uint8 and packed.shape == (len(TEXTS), 2)
    np.testing.assert_array_equal(np.unpackbits(packed, axis=1).astype(bool), floats > 0)
    signed = emb.embed(TEXTS, precision="binary")
    np.testing.assert_array_equal(signed.astype(np.int16) + 128, packed)
    with pytest.raises(InvalidArgumentError, match="precision must be one of"):
        emb.embed(["x"], precision="float16")


def test_empty_and_too_many(toy_embed) -> None:
    emb = Embedder.from_bundle(toy_embed[0], limits=Limits(max_inputs=3))
    with pytest.raises(EmptyInputError):
        emb.embed([])
    with pytest.raises(Exception, match="over the limit of 3"):
        emb.embed(["a", "b", "c", "d"])
    with pytest.raises(InputError, match="input 1 is int, expected a string") as non_string:
        emb.embed(["a", 3])  # type: ignore[list-item]
    assert not isinstance(non_string.value, EmptyInputError)  # a number is not an empty input


def test_single_string_is_one_text(toy_embed) -> None:
    emb = Embedder.from_bundle(toy_embed[0])
    np.testing.assert_array_equal(emb.embed("hello world"), emb.embed(["hello world"]))


def test_token_limit_counts_after_truncation_and_advises(toy_embed) -> None:
    emb = Embedder.from_bundle(toy_embed[0], limits=Limits(max_tokens=40))
    assert emb.embed(["word " * 100]).shape == (1, 16)  # 32 tokens after truncation: under the limit
    with pytest.raises(TooManyTokensError, match=r"64 tokens .* over the limit of 40; .* about 1 inputs") as info:
        emb.embed(["word " * 100, "word " * 100])
    assert (info.value.total, info.value.limit) == (64, 40)
    # a per-call override wins over the instance's limits
    assert emb.embed_with_usage(["word " * 100] * 2, limits=Limits(max_tokens=64)).total_tokens == 64


def test_token_embeddings_are_the_unpooled_rows_in_input_order(toy_embed) -> None:
    folder, words, types = toy_embed
    emb = Embedder.from_bundle(folder, batch_policy=BatchPolicy(token_budget=40, max_batch_size=2))
    result = emb.token_embeddings_with_usage(TEXTS)
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(32)
    encodings = tok.encode_batch(TEXTS)
    assert result.token_counts == [len(e.ids) for e in encodings]
    for got, enc in zip(result.token_embeddings, encodings, strict=True):
        assert got.dtype == np.float32 and got.shape == (len(enc.ids), words.shape[1])  # padding left out
        np.testing.assert_allclose(got, words[enc.ids] + types[enc.type_ids], rtol=1e-5, atol=1e-6)
    # pooled as the manifest says (mean, then normalize), they give embed()'s vectors
    pooled = np.stack([rows.mean(axis=0) for rows in result.token_embeddings])
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    np.testing.assert_allclose(pooled, emb.embed(TEXTS), rtol=1e-5, atol=1e-6)


def test_token_embeddings_keep_the_limits_and_truncation_rules(toy_embed) -> None:
    emb = Embedder.from_bundle(toy_embed[0])
    with pytest.raises(TooManyTokensError):
        emb.token_embeddings_with_usage(TEXTS, limits=Limits(max_tokens=20))
    with pytest.raises(InputTooLongError):
        emb.token_embeddings_with_usage(["word " * 100], truncate=False)
    with pytest.raises(EmptyInputError):
        emb.token_embeddings_with_usage([])
    assert emb.token_embeddings_with_usage("one text").token_counts == emb.embed_with_usage("one text").token_counts
