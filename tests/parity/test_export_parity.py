"""Parity of the build: the real packaged all-MiniLM-L6-v2 and the stand-in reranker, gate figures asserted.

Reuses the bundles under artifacts/ when they are current (the build cache): `make test` exports once.
"""

from __future__ import annotations

import pytest
from edge_build.pipeline import ModelOutcome

from edge_encoders.hashing import sha256_file
from edge_encoders.manifest import read_manifest

pytestmark = pytest.mark.parity


def test_embed_bundle_passes_its_gate_against_torch(embed_outcome: ModelOutcome) -> None:
    bundle, report = embed_outcome.bundle_dir, embed_outcome.report
    manifest = read_manifest(bundle)
    assert manifest.source["type"] == "package"
    assert manifest.name == "all-MiniLM-L6-v2"
    assert (manifest.pooling, manifest.normalize, manifest.dimension, manifest.max_seq_length) == (
        "mean",
        True,
        384,
        256,
    )
    variants = report["variants"]
    for exact in ("fp32", "O3"):
        assert variants[exact]["passed"], variants[exact]["reason"]
        assert variants[exact]["metrics"]["cos_min"] >= 0.9999
        assert variants[exact]["metrics"]["batch_invariance_cos_min"] >= 0.999999
    shipped = variants[report["shipped"]]
    assert shipped["passed"] and manifest.variant == report["shipped"]
    gates = report["gates"]
    if report["shipped"].startswith("int8"):
        for part in ("tune", "heldout"):  # the gate holds on the held-out texts too
            assert shipped["metrics"][part]["cos_mean"] >= gates["embed_int8_mean_cos"]
            assert shipped["metrics"][part]["cos_min"] >= gates["embed_int8_min_cos"]
    # the batch-invariant int8 schemes: a text's vector ignores its company
    invariant = ("int8-rowwise", "int8-hybrid", "int8-hybrid-fused", "int8-hybrid-attn8", "int8-rowwise-fused")
    for name in (*invariant, "int8-rowwise-cls", "int8-nbits8"):
        if variants.get(name, {}).get("metrics"):
            assert variants[name]["metrics"]["batch_invariance_cos_min"] >= 0.99999, name
    for name, result in variants.items():  # a failing variant says why and is not the one shipped
        if not result["passed"]:
            assert result["reason"] and name != report["shipped"]
    for name, entry in manifest.files.items():
        assert sha256_file(bundle / name) == entry.sha256, name


def test_rerank_bundle_passes_its_gate(rerank_outcome: ModelOutcome) -> None:
    report = rerank_outcome.report
    manifest = read_manifest(rerank_outcome.bundle_dir)
    assert manifest.activation == "sigmoid" and manifest.num_labels == 1
    assert manifest.source.get("standin") is True and "STAND-IN" in manifest.name
    fp32 = report["variants"]["fp32"]
    assert fp32["passed"], fp32["reason"]
    assert fp32["metrics"]["spearman_min"] >= 0.999 and fp32["metrics"]["top1_agreement"] == 1.0
    shipped = report["variants"][report["shipped"]]
    assert shipped["passed"] and manifest.variant == report["shipped"]
    for name, result in report["variants"].items():
        if not result["passed"]:
            assert result["reason"] and name != report["shipped"]
    # int8-rowwise-cls is int8-rowwise-fused with an exact rewrite (the last layer for token 0 only):
    # on the real reranker its scores against torch move by float rounding at most
    cls, fused = report["variants"].get("int8-rowwise-cls"), report["variants"].get("int8-rowwise-fused")
    if cls and fused and cls.get("metrics") and fused.get("metrics"):
        for part in ("tune", "heldout"):
            got, want = cls["metrics"][part], fused["metrics"][part]
            assert abs(got["max_abs_diff"] - want["max_abs_diff"]) < 1e-3, part
            assert got["top1_agreement"] == want["top1_agreement"], part
        assert cls["metrics"]["batch_invariance_max_abs_diff"] <= 1e-5
