"""Run modes on real sessions: the same scores in every mode, the manifest hint and its override, and the
activation memory a concurrent call may hold counted where the handler reports it."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from helpers.toy_bundles import make_toy_embed_bundle, make_toy_rerank_bundle

from edge_encoders import BatchPolicy, BundleError, Embedder, Reranker, SessionConfig
from edge_encoders import bundle_model as bundle_model_module
from edge_encoders.manifest import read_manifest
from handler.loaded_models import Models

POLICY = BatchPolicy(token_budget=48, max_batch_size=3)  # many small micro-batches
DOCS = [("word " * n).strip() or "x" for n in range(1, 40, 2)]


def _hint(folder: Path, hints: dict | None) -> None:
    path = folder / "manifest.json"
    data = json.loads(path.read_text())
    if hints is None:
        data.pop("run_hints", None)  # as a bundle from before run hints
    else:
        data["run_hints"] = hints
    path.write_text(json.dumps(data))


@pytest.fixture
def rerank_folder(tmp_path: Path) -> Path:
    return make_toy_rerank_bundle(tmp_path / "r")[0]


def _reranker(folder: Path, mode: str, threads: int = 2, shrink: bool = False) -> Reranker:
    config = SessionConfig(intra_op_threads=threads, run_mode=mode, arena_shrinkage=shrink, allow_spinning=False)
    return Reranker.from_bundle(folder, session_config=config, batch_policy=POLICY)


@pytest.mark.parametrize("shrink", [False, True])  # the server shrinks the arena after every run (default)
def test_scores_are_the_same_in_every_mode(rerank_folder: Path, shrink: bool) -> None:
    sequential = _reranker(rerank_folder, "sequential")
    concurrent = _reranker(rerank_folder, "concurrent", shrink=shrink)
    assert (sequential.run_plan.workers, concurrent.run_plan.workers) == (1, 2)
    pairs = [("a query", d) for d in DOCS]
    expected = sequential.score(pairs, raw_scores=True)
    for _ in range(3):  # completion order varies between calls; the scores must not
        np.testing.assert_array_equal(concurrent.score(pairs, raw_scores=True), expected)
    hits = concurrent.rerank("a query", [d for _, d in pairs])
    assert [h.index for h in hits] == [h.index for h in sequential.rerank("a query", [d for _, d in pairs])]


def test_embeddings_are_the_same_in_every_mode(tmp_path: Path) -> None:
    folder = make_toy_embed_bundle(tmp_path / "e")[0]
    texts = list(DOCS)
    one = Embedder.from_bundle(folder, session_config=SessionConfig(run_mode="sequential"), batch_policy=POLICY)
    two = Embedder.from_bundle(
        folder, session_config=SessionConfig(intra_op_threads=2, run_mode="concurrent"), batch_policy=POLICY
    )
    np.testing.assert_array_equal(two.embed(texts), one.embed(texts))
    tokens_one = one.token_embeddings_with_usage(texts).token_embeddings
    tokens_two = two.token_embeddings_with_usage(texts).token_embeddings
    for a, b in zip(tokens_one, tokens_two, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("hints", "requested", "mode"),
    [
        (None, "auto", "sequential"),  # an older bundle without the field
        ({"run_mode": "concurrent", "variant": "fp32"}, "auto", "concurrent"),
        ({"run_mode": "concurrent", "variant": "int8-rowwise"}, "auto", "sequential"),  # measured on another file
        ({"run_mode": "concurrent", "variant": "fp32"}, "sequential", "sequential"),  # the override wins
        ({"run_mode": "sequential"}, "concurrent", "concurrent"),
    ],
)
def test_the_manifest_hint_and_its_override(rerank_folder: Path, hints: dict | None, requested: str, mode: str) -> None:
    _hint(rerank_folder, hints)
    assert _reranker(rerank_folder, requested).run_plan.mode == mode


@pytest.mark.parametrize("hints", [{"run_mode": "parallel"}, []])
def test_a_bad_hint_is_a_bundle_error(rerank_folder: Path, hints: object) -> None:
    path = rerank_folder / "manifest.json"
    data = json.loads(path.read_text())
    data["run_hints"] = hints
    path.write_text(json.dumps(data))
    with pytest.raises(BundleError, match="run_hints"):
        read_manifest(rerank_folder)


def test_activations_in_flight_are_bounded_and_counted(rerank_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Padded tokens inside onnxruntime at once never exceed the model's tokens_in_flight, which counts the
    concurrent micro-batches; the handler's figure multiplies it by its compute slots."""
    concurrent = _reranker(rerank_folder, "concurrent")
    sequential = _reranker(rerank_folder, "sequential")
    assert concurrent.tokens_in_flight == 2 * POLICY.token_budget
    assert sequential.tokens_in_flight == POLICY.token_budget
    counts = _count_tokens_inside_onnxruntime(monkeypatch)
    for _ in range(5):
        concurrent.score([("a query", d) for d in DOCS])
    assert 0 < counts.peak <= concurrent.tokens_in_flight
    models = Models(reranker=concurrent, max_concurrency=3)
    assert models.tokens_in_flight == 3 * 2 * POLICY.token_budget


def test_a_concurrent_embedder_is_bounded_and_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedder's micro-batches go through the same runner: a concurrent embed call holds at most its
    tokens_in_flight inside onnxruntime, and the handler's figure counts it as it counts a concurrent reranker."""
    folder = make_toy_embed_bundle(tmp_path / "e")[0]
    config = SessionConfig(intra_op_threads=2, run_mode="concurrent", allow_spinning=False)
    embedder = Embedder.from_bundle(folder, session_config=config, batch_policy=POLICY)
    sequential = Embedder.from_bundle(folder, session_config=SessionConfig(run_mode="sequential"), batch_policy=POLICY)
    assert (embedder.run_plan.workers, embedder.tokens_in_flight) == (2, 2 * POLICY.token_budget)
    counts = _count_tokens_inside_onnxruntime(monkeypatch)
    for _ in range(5):
        embedder.embed(DOCS)
    assert counts.runs > 5  # several micro-batches per call: the bound is exercised
    assert 0 < counts.peak <= embedder.tokens_in_flight
    with_sequential = Models(embedder=sequential, max_concurrency=3)
    assert with_sequential.tokens_in_flight == 3 * POLICY.token_budget
    assert Models(embedder=embedder, max_concurrency=3).tokens_in_flight == 3 * 2 * POLICY.token_budget


class _TokensInside:
    """Padded tokens inside onnxruntime right now, the most at once, and how many runs there were."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.inside = self.peak = self.runs = 0


def _count_tokens_inside_onnxruntime(monkeypatch: pytest.MonkeyPatch) -> _TokensInside:
    counts = _TokensInside()
    real_run = bundle_model_module.run_session

    def counting_run(bundle, feeds):  # type: ignore[no-untyped-def]
        size = int(feeds["input_ids"].size)
        with counts.lock:
            counts.inside += size
            counts.runs += 1
            counts.peak = max(counts.peak, counts.inside)
        try:
            return real_run(bundle, feeds)
        finally:
            with counts.lock:
                counts.inside -= size

    monkeypatch.setattr(bundle_model_module, "run_session", counting_run)
    return counts
