"""The embed call's work outside onnxruntime, made cheaper, must give the same bytes as the plain path.

The reference here is the straightforward path the runtime took before: tokenizers' encode_batch (with offsets)
on whole texts, lengths from the ids lists, a padding loop that reads every list, the same micro-batches, the
session run directly, then mean pooling and L2 normalization in numpy. The runtime's result must equal it byte
for byte on mixed texts (short, long past truncation, empty, non-ASCII), alone and in one call.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from helpers.toy_bundles import make_toy_embed_bundle
from tokenizers import Encoding, Tokenizer

from edge_encoders import BatchPolicy, Embedder, Limits, TooManyTokensError
from edge_encoders.batching import plan_batches

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.texts import generate_texts  # noqa: E402

MAX_LEN = 32
MIXED = [
    "hello world",
    "",
    "🙂 emoji and 中文 text, ünïcödé",
    "def f(x):\n    return x * 2",
    "word " * 100,
    "x" * 3000,
    *generate_texts(40, seed=3),
]


def _reference_tokenizer(folder: Path) -> Tokenizer:
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=MAX_LEN, stride=0, strategy="longest_first")
    return tok


def _reference_pad(encodings: list[Encoding], pad_id: int) -> dict[str, np.ndarray]:
    width = max(len(e.ids) for e in encodings)
    ids = np.full((len(encodings), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(encodings), width), dtype=np.int64)
    types = np.zeros((len(encodings), width), dtype=np.int64)
    for row, enc in enumerate(encodings):
        ids[row, : len(enc.ids)] = enc.ids
        mask[row, : len(enc.ids)] = 1
        types[row, : len(enc.ids)] = enc.type_ids
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def _reference_embed(folder: Path, texts: list[str], policy: BatchPolicy) -> np.ndarray:
    tok = _reference_tokenizer(folder)
    encodings = tok.encode_batch(texts)
    lengths = [len(e.ids) for e in encodings]
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    pooled = np.empty((len(texts), 16), dtype=np.float32)
    for indices in plan_batches(lengths, policy):
        feeds = _reference_pad([encodings[i] for i in indices], tok.token_to_id("[PAD]"))
        (hidden,) = session.run(["last_hidden_state"], feeds)
        mask = feeds["attention_mask"].astype(np.float32)
        summed = np.einsum("bsh,bs->bh", hidden, mask)
        pooled[indices] = summed / np.clip(mask.sum(axis=1, keepdims=True), 1e-9, None)
    return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder, _words, _types = make_toy_embed_bundle(tmp_path_factory.mktemp("callpath") / "b", max_seq_length=MAX_LEN)
    return folder


@pytest.mark.parametrize("budget", [512, 40])
def test_one_call_equals_the_plain_path_byte_for_byte(bundle: Path, budget: int) -> None:
    policy = BatchPolicy(token_budget=budget)
    got = Embedder.from_bundle(bundle, batch_policy=policy).embed(MIXED)
    want = _reference_embed(bundle, MIXED, policy)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes()


def test_each_text_alone_equals_the_plain_path_byte_for_byte(bundle: Path) -> None:
    embedder = Embedder.from_bundle(bundle)
    for text in MIXED:
        assert embedder.embed(text).tobytes() == _reference_embed(bundle, [text], embedder.batch_policy).tobytes()


def test_a_token_limit_still_refuses_before_tokenizing_and_none_skips_the_scan(bundle: Path) -> None:
    embedder = Embedder.from_bundle(bundle)
    scans: list[int] = []
    original = embedder.tokenizer.kept_lower_bound

    def counting(texts: list[str], *, head: str = "") -> list[int] | None:
        scans.append(len(texts))
        return original(texts, head=head)

    embedder.tokenizer.kept_lower_bound = counting  # type: ignore[method-assign]
    try:
        embedder.embed(MIXED)
        assert scans == []
        with pytest.raises(TooManyTokensError, match="at least"):
            embedder.embed_with_usage(["word " * 100] * 4, limits=Limits(max_tokens=60))
        assert scans == [4]
    finally:
        del embedder.tokenizer.kept_lower_bound


def test_padding_of_texts_and_of_pairs_equals_the_plain_loop(bundle: Path) -> None:
    embedder = Embedder.from_bundle(bundle)
    tok = embedder.tokenizer
    singles = tok.encode(MIXED, truncate=True)
    pairs = tok.encode_pairs([("a query", text) for text in MIXED[:8]], truncate=True)
    for encodings in (singles, singles[:1], pairs):
        got = tok.pad(encodings).feeds(["input_ids", "attention_mask", "token_type_ids"])
        want = _reference_pad(encodings, tok.pad_id)
        for name, array in want.items():
            assert got[name].dtype == np.int64
            np.testing.assert_array_equal(got[name], array)
    assert _reference_pad(pairs, tok.pad_id)["token_type_ids"].any()  # the pairs really carry segment ids


def test_tokens_equal_the_plain_encode_batch(bundle: Path) -> None:
    got = Embedder.from_bundle(bundle).tokenizer.encode(MIXED, truncate=True)
    want = _reference_tokenizer(bundle).encode_batch(MIXED)
    assert [e.ids for e in got] == [e.ids for e in want]
    assert [e.type_ids for e in got] == [e.type_ids for e in want]
