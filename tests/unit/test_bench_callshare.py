"""bench.callshare: the inputs it times through session.run alone must be exactly what embed() runs.

No timing is asserted: if the prepared micro-batches differed from embed()'s (other cuts, other padding), the
share outside onnxruntime it reports would compare different work.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from helpers.toy_bundles import make_toy_embed_bundle

import edge_encoders.bundle_model as bundle_model
from edge_encoders import BatchPolicy, Embedder

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.callshare import micro_batches  # noqa: E402
from bench.texts import generate_texts  # noqa: E402


def test_prepared_micro_batches_are_the_ones_embed_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder, _words, _types = make_toy_embed_bundle(tmp_path / "b", max_seq_length=24)
    embedder = Embedder.from_bundle(folder, batch_policy=BatchPolicy(token_budget=64))
    texts = generate_texts(70, seed=5)
    calls = [texts[i : i + 32] for i in range(0, len(texts), 32)]
    ran: list[dict[str, np.ndarray]] = []
    original = bundle_model.run_session

    def recording(bundle: object, feeds: dict[str, np.ndarray]) -> np.ndarray:
        ran.append(feeds)
        return original(bundle, feeds)  # type: ignore[arg-type]

    monkeypatch.setattr(bundle_model, "run_session", recording)
    for call in calls:
        embedder.embed(call)
    prepared = micro_batches(embedder, calls)
    assert len(prepared) == len(ran) > len(calls)  # the budget cuts calls into several runs
    for mine, theirs in zip(prepared, ran, strict=True):
        assert mine.keys() == theirs.keys()
        for name in mine:
            np.testing.assert_array_equal(mine[name], theirs[name])
