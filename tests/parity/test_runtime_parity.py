"""Parity of the runtime (issue 3): edge_encoders on the exported bundles vs sentence-transformers on torch.

fp32 and O3 embeddings within 1e-5 max abs diff over the whole shipped validation set (long inputs included),
the shipped int8 within its gate, reranker fp32 scores within 1e-4 of CrossEncoder's with identical ordering.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from edge_build.config import DATA_DIR
from edge_build.pipeline import ModelOutcome

from edge_encoders import Embedder, Reranker

pytestmark = pytest.mark.parity


@pytest.fixture(scope="module")
def st_reference(st_model: Any, embed_texts: list[str]) -> np.ndarray:
    return np.asarray(st_model.encode(embed_texts, batch_size=32, convert_to_numpy=True))


@pytest.mark.parametrize("variant", ["fp32", "O3"])
def test_exact_variants_match_sentence_transformers(
    embed_outcome: ModelOutcome, embed_texts: list[str], st_reference: np.ndarray, variant: str
) -> None:
    assert any(len(t) > 2000 for t in embed_texts)  # inputs beyond max_seq_length are part of the set
    ours = Embedder.from_bundle(embed_outcome.work_dir / "stage" / variant).embed(embed_texts)
    assert np.abs(ours - st_reference).max() <= 1e-5


def test_shipped_bundle_within_its_gate(embed_outcome: ModelOutcome, st_model: Any) -> None:
    """Recompute the shipped variant's gate figures here, with a torch reference of our own, on the build's
    validation inputs in both compositions the gate uses (all in one call, each alone)."""
    from edge_build.validation import load_validation_set

    texts = load_validation_set(DATA_DIR).all_embed_texts()
    reference = np.asarray(st_model.encode(texts, batch_size=32, convert_to_numpy=True))
    embedder = Embedder.from_bundle(embed_outcome.bundle_dir)
    report = embed_outcome.report
    for vectors in (embedder.embed(texts), np.concatenate([embedder.embed([t]) for t in texts])):
        cos = np.sum(vectors * reference, axis=1)  # both sides are normalized
        if report["shipped"].startswith("int8"):
            assert cos.mean() >= report["gates"]["embed_int8_mean_cos"]
            assert cos.min() >= report["gates"]["embed_int8_min_cos"]
        else:
            assert cos.min() >= report["gates"]["embed_fp_min_cos"]


def test_prompts_and_precisions_match_sentence_transformers(embed_outcome: ModelOutcome, st_model: Any) -> None:
    from sentence_transformers.util import quantize_embeddings

    texts = ["what is onnx?", "ONNX is an open format for machine learning models.", "ein kurzer Satz", "🙂"]
    fp32 = Embedder.from_bundle(embed_outcome.work_dir / "stage" / "fp32")
    ref = np.asarray(st_model.encode(texts, prompt="query: ", convert_to_numpy=True))
    np.testing.assert_allclose(fp32.embed(texts, prompt="query: "), ref, atol=1e-5)
    shipped = Embedder.from_bundle(embed_outcome.bundle_dir)  # the published bundle carries calibration.npy
    floats = shipped.embed(texts)
    calibration = np.load(embed_outcome.bundle_dir / "calibration.npy")
    calibration = calibration / np.linalg.norm(calibration, axis=1, keepdims=True)
    for precision in ("int8", "uint8", "binary", "ubinary"):
        want = quantize_embeddings(floats, precision, calibration_embeddings=calibration)
        np.testing.assert_array_equal(shipped.embed(texts, precision=precision), want)


@pytest.mark.parametrize("bundle", ["shipped", "O3"])
def test_embeddings_do_not_depend_on_the_run_mode(
    embed_outcome: ModelOutcome, embed_texts: list[str], bundle: str
) -> None:
    """Micro-batches one after another or two at once on the exported embed graphs: the same vectors, bit for
    bit, per-token outputs included."""
    from edge_encoders import SessionConfig

    folder = embed_outcome.bundle_dir if bundle == "shipped" else embed_outcome.work_dir / "stage" / "O3"
    models = {
        mode: Embedder.from_bundle(folder, session_config=SessionConfig(intra_op_threads=2, run_mode=mode))
        for mode in ("sequential", "concurrent")
    }
    np.testing.assert_array_equal(models["concurrent"].embed(embed_texts), models["sequential"].embed(embed_texts))
    few = embed_texts[:40]
    tokens = {mode: m.token_embeddings_with_usage(few).token_embeddings for mode, m in models.items()}
    for a, b in zip(tokens["concurrent"], tokens["sequential"], strict=True):
        np.testing.assert_array_equal(a, b)


def test_reranker_fp32_matches_cross_encoder(rerank_outcome: ModelOutcome, rerank_queries: list[dict]) -> None:
    from sentence_transformers import CrossEncoder

    source = rerank_outcome.report.get("source") or {}
    manifest_source = Reranker.from_bundle(rerank_outcome.bundle_dir).manifest.source
    folder = manifest_source.get("local_path") or source.get("local_path")
    reference = CrossEncoder(folder, device="cpu")
    ours = Reranker.from_bundle(rerank_outcome.work_dir / "stage" / "fp32")
    for item in rerank_queries:
        pairs = [(item["query"], p) for p in item["passages"]]
        want = np.asarray(reference.predict(pairs, batch_size=32))
        got = ours.score(pairs)
        assert np.abs(got - want).max() <= 1e-4, item["query"]
        rank = {h.index: place for place, h in enumerate(ours.rerank(item["query"], item["passages"]))}
        # identical ordering, up to pairs the reference itself scores within float noise (sigmoid near 1)
        for i in range(len(want)):
            for j in range(len(want)):
                if want[i] - want[j] > 1e-5:
                    assert rank[i] < rank[j], (item["query"], i, j)


@pytest.mark.parametrize("bundle", ["shipped", "fp32"])
def test_rerank_scores_do_not_depend_on_the_run_mode(
    rerank_outcome: ModelOutcome, rerank_queries: list[dict[str, Any]], bundle: str
) -> None:
    """Micro-batches one after another or two at once on the exported graphs: the same scores, bit for bit
    (the same micro-batches run; only when each runs changes)."""
    from edge_encoders import SessionConfig

    folder = rerank_outcome.bundle_dir if bundle == "shipped" else rerank_outcome.work_dir / "stage" / "fp32"
    pairs = [(q["query"], p) for q in rerank_queries for p in q["passages"]]
    scores = {
        mode: Reranker.from_bundle(folder, session_config=SessionConfig(intra_op_threads=2, run_mode=mode)).score(
            pairs, raw_scores=True
        )
        for mode in ("sequential", "concurrent")
    }
    np.testing.assert_array_equal(scores["concurrent"], scores["sequential"])
