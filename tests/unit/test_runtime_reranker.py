"""Reranker on a toy bundle: pair encoding with segment ids, activation, ordering, top_n, documents."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from edge_encoders import (
    BatchPolicy,
    EmptyInputError,
    InputError,
    InputTooLongError,
    InvalidArgumentError,
    Limits,
    Reranker,
)

DOCS = ["Paris is the capital of France.", "bananas", "", "word " * 60, "the capital city of France is Paris"]


def _logits(folder: Path, words, types, weight, query: str, docs: list[str]) -> np.ndarray:
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(32, strategy="longest_first")
    out = []
    for enc in tok.encode_batch([(query, d) for d in docs]):
        assert 1 in enc.type_ids  # the second segment is marked
        out.append(float((words[enc.ids] + types[enc.type_ids]).sum(axis=0) @ weight[:, 0]))
    return np.array(out, dtype=np.float32)


def test_scores_use_segment_ids_and_sigmoid(toy_rerank) -> None:
    folder, words, types, weight = toy_rerank
    rr = Reranker.from_bundle(folder, batch_policy=BatchPolicy(token_budget=64, max_batch_size=2))
    query = "capital of France"
    logits = _logits(folder, words, types, weight, query, DOCS)
    raw = rr.score([(query, d) for d in DOCS], raw_scores=True)
    np.testing.assert_allclose(raw, logits, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(rr.score([(query, d) for d in DOCS]), 1 / (1 + np.exp(-logits)), rtol=1e-5)


def test_rerank_sorts_best_first_with_top_n_and_documents(toy_rerank) -> None:
    rr = Reranker.from_bundle(toy_rerank[0])
    scores = rr.score([("q", d) for d in DOCS])
    hits = rr.rerank("q", DOCS, top_n=3, return_documents=True)
    assert [h.index for h in hits] == list(np.argsort(-scores, kind="stable")[:3])
    assert all(h.document == DOCS[h.index] for h in hits)
    assert all(h.document is None for h in rr.rerank("q", DOCS))


def test_ties_keep_input_order(toy_rerank) -> None:
    rr = Reranker.from_bundle(toy_rerank[0])
    hits = rr.rerank("q", ["same", "other", "same", "same"])
    same = [h.index for h in hits if h.index != 1]
    assert same == [0, 2, 3]


def test_bad_arguments(toy_rerank) -> None:
    rr = Reranker.from_bundle(toy_rerank[0], limits=Limits(max_inputs=4))
    with pytest.raises(EmptyInputError):
        rr.rerank("q", [])
    with pytest.raises(InvalidArgumentError, match="top_n"):
        rr.rerank("q", ["a"], top_n=0)
    with pytest.raises(InputError, match="pair 0's document is int, expected a string") as non_string:
        rr.score([("q", 3)])  # type: ignore[list-item]
    assert not isinstance(non_string.value, EmptyInputError)  # a number is not an empty input
    with pytest.raises(Exception, match="over the limit of 4"):
        rr.rerank("q", ["a"] * 5)
    with pytest.raises(InputTooLongError, match="over the model's limit of 32"):
        rr.rerank("q", ["word " * 60], truncate=False)


def test_usage_counts_truncated_tokens(toy_rerank) -> None:
    rr = Reranker.from_bundle(toy_rerank[0])
    result = rr.rerank_with_usage("q", ["a", "word " * 60])
    assert result.token_counts == [5, 32]
