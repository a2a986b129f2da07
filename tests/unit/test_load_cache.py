"""edge_encoders.load_cache: the graph optimized ahead of time gives the same numbers, and is used only when it
was made from this bundle's model by this onnxruntime (anything else: the model, optimized at load)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers.toy_bundles import make_toy_embed_bundle, make_toy_rerank_bundle

from edge_encoders import Embedder, Reranker, load_cache
from edge_encoders.manifest import read_manifest

TEXTS = ["hello world", "a longer text about graphs and cold starts", ""]


def _model_path(model: Embedder | Reranker) -> str:
    return str(model._bundle.session._model_path)


@pytest.fixture
def embed_pair(tmp_path: Path) -> tuple[Path, Path]:
    plain = make_toy_embed_bundle(tmp_path / "plain")[0]
    cached = make_toy_embed_bundle(tmp_path / "cached")[0]
    load_cache.build(cached)
    return plain, cached


def test_cached_graph_is_used_and_gives_the_same_vectors(embed_pair: tuple[Path, Path]) -> None:
    plain, cached = embed_pair
    a, b = Embedder.from_bundle(plain), Embedder.from_bundle(cached)
    assert _model_path(a).endswith("model.onnx")
    assert load_cache.CACHE_DIR in _model_path(b)
    np.testing.assert_array_equal(a.embed(TEXTS), b.embed(TEXTS))


def test_reranker_too(tmp_path: Path) -> None:
    plain = make_toy_rerank_bundle(tmp_path / "plain")[0]
    cached = make_toy_rerank_bundle(tmp_path / "cached")[0]
    load_cache.build(cached)
    a, b = Reranker.from_bundle(plain), Reranker.from_bundle(cached)
    assert load_cache.CACHE_DIR in _model_path(b)
    assert [(h.index, h.score) for h in a.rerank("graphs", TEXTS)] == [
        (h.index, h.score) for h in b.rerank("graphs", TEXTS)
    ]


@pytest.mark.parametrize(
    "damage", ["other onnxruntime", "other model", "truncated", "altered", "weights truncated", "weights altered"]
)
def test_stale_or_damaged_cache_falls_back_to_the_model(
    embed_pair: tuple[Path, Path], damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    plain, cached = embed_pair
    folder = cached / load_cache.CACHE_DIR
    sidecar = folder / f"model.onnx.{load_cache.LEVEL}.json"
    optimized = folder / f"model.onnx.{load_cache.LEVEL}.onnx"
    weights = folder / f"model.onnx.{load_cache.LEVEL}.data"
    record = json.loads(sidecar.read_text())
    target = weights if damage.startswith("weights") else optimized
    if damage == "other onnxruntime":
        record["onnxruntime"] = "0.0.1"
    elif damage == "other model":
        record["source_sha256"] = "0" * 64
    elif damage.endswith("truncated"):
        target.write_bytes(target.read_bytes()[:100])
    else:  # same size, other bytes: only the sha256 check (verify=True) can tell
        data = bytearray(target.read_bytes())
        data[-10] ^= 0xFF
        target.write_bytes(bytes(data))
    sidecar.write_text(json.dumps(record))
    manifest = read_manifest(cached)
    assert load_cache.find(cached, manifest, manifest.model_file, verify=True) is None
    assert "not using the pre-optimized graph" in caplog.text
    model = Embedder.from_bundle(cached)
    assert _model_path(model).endswith("model.onnx")
    np.testing.assert_array_equal(model.embed(TEXTS), Embedder.from_bundle(plain).embed(TEXTS))


def test_weights_are_kept_outside_the_cached_graph(embed_pair: tuple[Path, Path]) -> None:
    """The toy model's weights are mapped from the data file the sidecar names, not copied out of the graph."""
    _, cached = embed_pair
    folder = cached / load_cache.CACHE_DIR
    record = json.loads((folder / f"model.onnx.{load_cache.LEVEL}.json").read_text())
    weights = folder / record["data"]["file"]
    assert weights.stat().st_size == record["data"]["size"] > 0
    assert (folder / f"model.onnx.{load_cache.LEVEL}.onnx").stat().st_size < weights.stat().st_size


def test_cli_builds_each_bundle_and_refuses_a_bad_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = make_toy_embed_bundle(tmp_path / "good")[0]
    bad = make_toy_embed_bundle(tmp_path / "bad")[0]
    (bad / "model.onnx").write_bytes(b"not a model")
    assert load_cache.main([str(good)]) == 0
    assert "load cache:" in capsys.readouterr().out
    assert load_cache.main([str(bad)]) == 1
    assert "model.onnx" in capsys.readouterr().err
    assert load_cache.main([]) == 2


def test_python_m_runs_the_command_as_the_image_build_does_without_a_runpy_warning(tmp_path: Path) -> None:
    """`python -m edge_encoders.load_cache <bundle>` (Dockerfile.lambda's step): exit 0, the cache written, and
    no RuntimeWarning about the module being imported before it runs (-W error turns one into a failure)."""
    bundle = make_toy_embed_bundle(tmp_path / "bundle")[0]
    src = Path(load_cache.__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-m", "edge_encoders.load_cache", str(bundle)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "RuntimeWarning" not in done.stderr and "load cache:" in done.stdout
    assert (bundle / load_cache.CACHE_DIR / f"model.onnx.{load_cache.LEVEL}.json").is_file()
