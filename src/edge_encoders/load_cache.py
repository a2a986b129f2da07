"""A bundle's graph optimized once, ahead of time (at image build), so a cold start skips onnxruntime's
graph optimization: measured in the Lambda image, session creation of the MiniLM bundles drops by a third
or more (scripts/init_profile.py).

    python -m edge_encoders.load_cache bundles/embed bundles/rerank

writes ``<bundle>/.onnxruntime/<model>.extended.onnx`` and a sidecar JSON. The saved graph is what
onnxruntime builds at load from the shipped, validated model (level "extended": fusions of the CPU provider,
no hardware-specific layouts), so the numbers are the same. It is used only when the sidecar names the
model's sha256 from the manifest and this very onnxruntime version; anything else falls back to the model.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import onnxruntime as ort

from edge_encoders.errors import BundleError
from edge_encoders.hashing import sha256_file
from edge_encoders.manifest import Manifest, read_manifest, verify_files

log = logging.getLogger("edge_encoders")

CACHE_DIR = ".onnxruntime"
LEVEL = "extended"


def _paths(bundle_dir: Path, model_file: str) -> tuple[Path, Path]:
    stem = Path(model_file).name
    folder = bundle_dir / CACHE_DIR
    return folder / f"{stem}.{LEVEL}.onnx", folder / f"{stem}.{LEVEL}.json"


def build(bundle_dir: str | Path, machine: str | None = None) -> Path:
    """Verify the model this machine loads, save its optimized graph beside it, return the saved file."""
    bundle = Path(bundle_dir)
    manifest = read_manifest(bundle)
    _, model_file = manifest.model_for_machine(machine)
    verify_files(bundle, manifest, [model_file])
    optimized, sidecar = _paths(bundle, model_file)
    optimized.parent.mkdir(exist_ok=True)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(optimized)
    options.log_severity_level = 3
    ort.InferenceSession(str(bundle / model_file), sess_options=options, providers=["CPUExecutionProvider"])
    record = {
        "source": model_file,
        "source_sha256": manifest.files[model_file].sha256,
        "onnxruntime": ort.__version__,
        "level": LEVEL,
        "sha256": sha256_file(optimized),
        "size": optimized.stat().st_size,
    }
    sidecar.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return optimized


def find(bundle_dir: Path, manifest: Manifest, model_file: str, *, verify: bool) -> Path | None:
    """The pre-optimized graph of model_file if it was made from this model by this onnxruntime, else None."""
    optimized, sidecar = _paths(bundle_dir, model_file)
    try:
        record = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    entry = manifest.files.get(model_file)
    why = None
    if not isinstance(record, dict) or entry is None or record.get("source_sha256") != entry.sha256:
        why = "it was made from another model"
    elif record.get("onnxruntime") != ort.__version__:
        why = f"it was made by onnxruntime {record.get('onnxruntime')}, this is {ort.__version__}"
    elif not optimized.is_file() or optimized.stat().st_size != record.get("size"):
        why = "its file is missing or truncated"
    elif verify and sha256_file(optimized) != record.get("sha256"):
        why = "its sha256 does not match"
    if why:
        log.warning("%s: not using the pre-optimized graph (%s): optimizing at load", bundle_dir, why)
        return None
    return optimized


def main(argv: list[str] | None = None) -> int:
    """Build the cache for each bundle folder given; one line per bundle."""
    folders = sys.argv[1:] if argv is None else argv
    if not folders:
        print("usage: python -m edge_encoders.load_cache <bundle folder>...", file=sys.stderr)
        return 2
    for folder in folders:
        try:
            path = build(folder)
        except BundleError as exc:
            print(f"load cache: {exc.message}", file=sys.stderr)
            return 1
        print(f"load cache: {path} ({path.stat().st_size / 1e6:.1f} MB, onnxruntime {ort.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
