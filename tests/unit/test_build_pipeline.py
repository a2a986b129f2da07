"""The whole build path on tiny models: export -> variants -> validation -> gate -> bundle -> cache."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("optimum.onnxruntime")

from edge_build import pipeline
from edge_build.variants import BUILDERS, VariantInputs, dynamic_int8
from helpers.build_fixtures import tiny_config, write_small_data
from helpers.tiny_models import make_tiny_cross_encoder, make_tiny_embedder

from edge_encoders import Embedder, Reranker
from edge_encoders.hashing import sha256_file
from edge_encoders.manifest import read_manifest


def _quiet(_: str) -> None:
    pass


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny")
    return {
        "embed": make_tiny_embedder(root),
        "rerank": make_tiny_cross_encoder(root),
        "data": write_small_data(root),
    }


@pytest.fixture(scope="module")
def built(models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    out = tmp_path_factory.mktemp("out")
    cfg = tiny_config(models["embed"], models["rerank"], out, ["fp32", "O3", "int8-avx512_vnni", "int8-arm64"])
    outcomes = {
        kind: pipeline.build_model(kind, cfg, progress=_quiet, data_dir=models["data"]) for kind in ("embed", "rerank")
    }
    return {"cfg": cfg, "outcomes": outcomes, "out": out}


def test_bundles_have_every_file_with_matching_digests(built: dict) -> None:
    for kind in ("embed", "rerank"):
        bundle = built["out"] / kind
        manifest = read_manifest(bundle)
        assert manifest.kind == kind
        on_disk = {p.name for p in bundle.iterdir()} - {"manifest.json"}
        assert on_disk == set(manifest.files)
        assert {"model.onnx", "tokenizer.json", "validation.json"} <= on_disk
        for name, entry in manifest.files.items():
            assert sha256_file(bundle / name) == entry.sha256, name
            assert (bundle / name).stat().st_size == entry.size, name
        assert manifest.build_key and manifest.tools["onnxruntime"]
        assert manifest.validation["passed"] is True
        assert manifest.validation["reference"]["device"] in ("cpu", "cuda")


def test_embed_manifest_carries_model_facts(built: dict) -> None:
    manifest = read_manifest(built["out"] / "embed")
    assert (manifest.pooling, manifest.normalize, manifest.dimension, manifest.max_seq_length) == ("mean", True, 32, 64)
    assert manifest.output_name == "last_hidden_state"
    assert manifest.input_names == ["input_ids", "attention_mask", "token_type_ids"]
    assert manifest.calibration_file == "calibration.npy"
    calibration = np.load(built["out"] / "embed" / "calibration.npy")
    assert calibration.dtype == np.float32 and calibration.shape[1] == 32
    # pooled and NOT normalized: the runtime derives int8 ranges from raw pooled values
    assert not np.allclose(np.linalg.norm(calibration, axis=1), 1.0, atol=1e-3)


def test_rerank_manifest_carries_activation(built: dict) -> None:
    manifest = read_manifest(built["out"] / "rerank")
    assert (manifest.activation, manifest.num_labels, manifest.output_name) == ("sigmoid", 1, "logits")


def test_shipped_variant_is_the_fastest_passing_one(built: dict) -> None:
    for kind in ("embed", "rerank"):
        report = json.loads((built["out"] / kind / "validation.json").read_text())
        speed = "texts_per_s" if kind == "embed" else "pairs_per_s"
        passing = {v: r["metrics"][speed] for v, r in report["variants"].items() if r["passed"] and v != "int8-arm64"}
        assert report["shipped"] == max(passing, key=lambda v: passing[v])
        assert read_manifest(built["out"] / kind).variant == report["shipped"]
        assert report["variants"]["fp32"]["passed"]  # fp32 matches torch on any model


def test_fp32_bundle_matches_sentence_transformers(built: dict, models: dict[str, Path]) -> None:
    from helpers.build_fixtures import TEXTS
    from sentence_transformers import CrossEncoder, SentenceTransformer

    fp32_stage = next((built["out"] / ".work" / "embed").iterdir()) / "stage" / "fp32"
    ours = Embedder.from_bundle(fp32_stage).embed(TEXTS)
    ref = SentenceTransformer(str(models["embed"]), device="cpu").encode(TEXTS, convert_to_numpy=True)
    assert np.max(np.abs(ours - ref)) < 1e-5
    pairs = [("what is a cat?", t) for t in TEXTS]
    rr_stage = next((built["out"] / ".work" / "rerank").iterdir()) / "stage" / "fp32"
    scores = Reranker.from_bundle(rr_stage).score(pairs)
    ref_scores = CrossEncoder(str(models["rerank"]), device="cpu").predict(pairs, convert_to_numpy=True)
    assert np.max(np.abs(scores - ref_scores)) < 1e-4


def test_arm64_variant_is_recorded_for_aarch64(built: dict) -> None:
    manifest = read_manifest(built["out"] / "embed")
    report = json.loads((built["out"] / "embed" / "validation.json").read_text())
    if report["variants"]["int8-arm64"]["passed"]:
        choice = manifest.arch_variants["aarch64"]
        assert choice["variant"] == "int8-arm64" and choice["file"] in manifest.files
        assert manifest.model_for_machine("aarch64") == ("int8-arm64", choice["file"])
    else:
        assert "aarch64" not in manifest.arch_variants


def test_run_hints_are_measured_for_the_shipped_bundles(built: dict) -> None:
    """Each manifest carries the probe's choice for the variant it ships (when the box has two CPUs: the probe
    needs them), the embedder's from an API-sized and a bulk-sized call; validation.json records the same."""
    from edge_build.families.embed import RUN_PROBE_TEXTS

    from edge_encoders.session import available_cpus

    for family in ("rerank", "embed"):
        manifest = read_manifest(built["out"] / family)
        report = json.loads((built["out"] / family / "validation.json").read_text())
        assert report["run_hints"] == manifest.run_hints
        if available_cpus() >= 2:
            assert manifest.run_hints["variant"] == manifest.variant
            assert manifest.run_hints["run_mode"] in ("sequential", "concurrent")
        else:
            assert manifest.run_hints == {}
    if available_cpus() >= 2:
        calls = read_manifest(built["out"] / "embed").run_hints["calls"]
        assert sorted(calls) == sorted(f"{n} texts" for n in RUN_PROBE_TEXTS)


def test_rerun_with_nothing_changed_is_a_cache_hit(built: dict, models: dict[str, Path]) -> None:
    before = (built["out"] / "embed" / "manifest.json").read_text()
    again = pipeline.build_model("embed", built["cfg"], progress=_quiet, data_dir=models["data"])
    assert again.cached
    assert (built["out"] / "embed" / "manifest.json").read_text() == before


def test_changing_one_models_config_rebuilds_only_that_model(built: dict, models: dict[str, Path]) -> None:
    cfg = built["cfg"]
    changed = type(cfg)(**{**cfg.__dict__, "gates": {"embed_fp_min_cos": 0.99}})
    assert not pipeline.build_model("embed", changed, progress=_quiet, data_dir=models["data"]).cached
    assert pipeline.build_model("rerank", changed, progress=_quiet, data_dir=models["data"]).cached
    assert pipeline.build_model("embed", changed, progress=_quiet, data_dir=models["data"]).cached


def test_a_tampered_bundle_is_rebuilt(built: dict, models: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(built["out"], out)
    cfg = type(built["cfg"])(**{**built["cfg"].__dict__, "output_dir": out, "work_dir": out / ".work"})
    with open(out / "rerank" / "tokenizer.json", "a") as handle:
        handle.write(" ")
    assert not pipeline.build_model("rerank", cfg, progress=_quiet, data_dir=models["data"]).cached


def _perturbed(inputs: VariantInputs, out: Path) -> None:
    """fp32 with noise on every large weight: a broken export the gate must catch."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(inputs.fp32_model))
    rng = np.random.default_rng(0)
    for init in model.graph.initializer:
        array = numpy_helper.to_array(init)
        if array.dtype == np.float32 and array.size > 1000:
            noisy = array + rng.normal(0, 0.05, array.shape).astype(np.float32)
            init.CopyFrom(numpy_helper.from_array(noisy, init.name))
    onnx.save(model, str(out))


def test_damaged_variants_are_rejected_and_never_shipped(models: dict[str, Path], tmp_path: Path) -> None:
    builders = {**BUILDERS, "O3": _perturbed, "int8-avx2": dynamic_int8("avx2", per_channel=False)}
    cfg = tiny_config(models["embed"], models["rerank"], tmp_path / "out", ["fp32", "O3", "int8-avx2"])
    outcome = pipeline.build_model("embed", cfg, progress=_quiet, data_dir=models["data"], builders=builders)
    damaged = outcome.report["variants"]["O3"]
    assert not damaged["passed"]
    assert "cos_min" in damaged["reason"]
    assert outcome.report["shipped"] != "O3"
    assert read_manifest(tmp_path / "out" / "embed").variant != "O3"


def test_no_passing_variant_ships_nothing(models: dict[str, Path], tmp_path: Path) -> None:
    builders = {**BUILDERS, "fp32": _perturbed}
    cfg = tiny_config(models["embed"], models["rerank"], tmp_path / "out", ["fp32"])
    with pytest.raises(pipeline.GateFailure, match="no embed variant passed"):
        pipeline.build_model("embed", cfg, progress=_quiet, data_dir=models["data"], builders=builders)
    assert not (tmp_path / "out" / "embed").exists()
