"""Bundle integrity: a missing, truncated or altered file is a clear BundleError naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.toy_bundles import make_toy_embed_bundle, make_toy_rerank_bundle

from edge_encoders import BundleError, Embedder, Reranker
from edge_encoders.manifest import read_manifest


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return make_toy_embed_bundle(tmp_path / "b")[0]


def test_loads_clean(bundle: Path) -> None:
    emb = Embedder.from_bundle(bundle)
    assert emb.variant == "fp32" and emb.dimension == 16


def test_altered_file(bundle: Path) -> None:
    data = bytearray((bundle / "model.onnx").read_bytes())
    data[-5] ^= 0xFF
    (bundle / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"model\.onnx sha256 .* does not match"):
        Embedder.from_bundle(bundle)


def test_truncated_file(bundle: Path) -> None:
    path = bundle / "tokenizer.json"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(BundleError, match=r"tokenizer\.json has 100 bytes"):
        Embedder.from_bundle(bundle)


def test_missing_file(bundle: Path) -> None:
    (bundle / "calibration.npy").unlink()
    with pytest.raises(BundleError, match=r"calibration\.npy is missing"):
        Embedder.from_bundle(bundle)


def test_missing_manifest_and_folder(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="does not exist"):
        Embedder.from_bundle(tmp_path / "nowhere")
    with pytest.raises(BundleError, match="make export"):
        Embedder.from_bundle(tmp_path)


def test_schema_version_and_kind(bundle: Path, tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="is a 'embed' bundle, expected 'rerank'"):
        Reranker.from_bundle(bundle)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["schema_version"] = 99
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="schema_version 99 is not supported"):
        read_manifest(bundle)


def test_manifest_not_json(bundle: Path) -> None:
    (bundle / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match="cannot be read as JSON"):
        Embedder.from_bundle(bundle)


def test_unverified_load_still_opens(bundle: Path) -> None:
    """verify=False skips the digests (for callers that verified already, e.g. after an S3 fetch)."""
    (bundle / "manifest.json").write_text((bundle / "manifest.json").read_text().replace('"size": ', '"size": 1', 1))
    assert Embedder.from_bundle(bundle, verify=False).dimension == 16


def test_arch_variant_is_chosen(tmp_path: Path) -> None:
    folder = make_toy_rerank_bundle(tmp_path / "r")[0]
    manifest = read_manifest(folder)
    manifest.arch_variants = {"aarch64": {"variant": "int8-arm64", "file": "model_arm64.onnx"}}
    assert manifest.model_for_machine("arm64") == ("int8-arm64", "model_arm64.onnx")
    assert manifest.model_for_machine("x86_64") == ("fp32", "model.onnx")
