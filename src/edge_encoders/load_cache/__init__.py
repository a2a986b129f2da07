"""A bundle's graph optimized once, ahead of time (at image build), so a cold start skips onnxruntime's
graph optimization and the copy of every weight out of the model file: measured in the Lambda image, session
creation of the MiniLM bundles takes about 40% of the CPU it takes from the shipped model (scripts/init_profile.py).

    python -m edge_encoders.load_cache bundles/embed bundles/rerank

writes ``<bundle>/.onnxruntime/<model>.extended.onnx``, its weights beside it in ``<model>.extended.data``
(external initializers: onnxruntime maps them instead of copying them out of the protobuf), a sidecar JSON, and
``<tokenizer>.content.json``, the digest of the tokenizer with its truncation and padding left out (the runtime
sets both from the manifest), so bundles whose tokenizers differ only there share one tokenizer at load
(text_tokenizer.TokenizerCache), and, for a WordPiece tokenizer, the same tokenizer in two parts that load in about
two thirds of its CPU (edge_encoders.wordpiece_parts: the vocabulary as text, the rest as JSON), named with their
digests in that record. The saved graph is what onnxruntime builds at load from the shipped, validated
model (level "extended": fusions of the CPU provider, no hardware-specific layouts), so the numbers are the
same. Pre-packed weights are not saved: they are laid out for the build machine's CPU (MLAS picks its int8 GEMM
kernels for the CPU it runs on), and measured here they saved little beyond the mapped weights (about 6 ms of CPU
for both MiniLM bundles, for 34 MB more in each). Every record is used only when it names the sha256 the manifest
gives for its source (and, for the graph, this very onnxruntime version); anything else falls back to the
bundle's own files.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import onnxruntime as ort

from edge_encoders.errors import BundleError
from edge_encoders.hashing import sha256_file
from edge_encoders.manifest import Manifest, read_manifest, verify_files
from edge_encoders.text_tokenizer import content_digest
from edge_encoders.wordpiece_parts import part_paths
from edge_encoders.wordpiece_parts import write as write_tokenizer_parts

log = logging.getLogger("edge_encoders")

CACHE_DIR = ".onnxruntime"
LEVEL = "extended"
# Initializers at least this large go to the data file (mapped at load); smaller ones stay in the graph.
_EXTERNAL_MIN_BYTES = 1024


def _paths(bundle_dir: Path, model_file: str) -> tuple[Path, Path, Path]:
    """The optimized graph, its weights file and its sidecar."""
    stem = Path(model_file).name
    folder = bundle_dir / CACHE_DIR
    return folder / f"{stem}.{LEVEL}.onnx", folder / f"{stem}.{LEVEL}.data", folder / f"{stem}.{LEVEL}.json"


def _tokenizer_record_path(bundle_dir: Path, tokenizer_file: str) -> Path:
    return bundle_dir / CACHE_DIR / f"{Path(tokenizer_file).name}.content.json"


def _file_record(path: Path) -> dict[str, Any]:
    return {"file": path.name, "sha256": sha256_file(path), "size": path.stat().st_size}


def build(bundle_dir: str | Path, machine: str | None = None) -> Path:
    """Verify the model this machine loads, save its optimized graph beside it, return the saved file."""
    bundle = Path(bundle_dir)
    manifest = read_manifest(bundle)
    _, model_file = manifest.model_for_machine(machine)
    verify_files(bundle, manifest, [model_file, manifest.tokenizer_file])
    optimized, data, sidecar = _paths(bundle, model_file)
    optimized.parent.mkdir(exist_ok=True)
    data.unlink(missing_ok=True)  # onnxruntime appends to an existing data file
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(optimized)
    options.add_session_config_entry("session.optimized_model_external_initializers_file_name", data.name)
    options.add_session_config_entry(
        "session.optimized_model_external_initializers_min_size_in_bytes", str(_EXTERNAL_MIN_BYTES)
    )
    options.log_severity_level = 3
    ort.InferenceSession(str(bundle / model_file), sess_options=options, providers=["CPUExecutionProvider"])
    record = {
        "source": model_file,
        "source_sha256": manifest.files[model_file].sha256,
        "onnxruntime": ort.__version__,
        "level": LEVEL,
        "sha256": sha256_file(optimized),
        "size": optimized.stat().st_size,
        "data": _file_record(data) if data.is_file() else None,  # none when no weight reaches the threshold
    }
    sidecar.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    tokenizer = bundle / manifest.tokenizer_file
    parts = write_tokenizer_parts(tokenizer, optimized.parent)  # None: not a tokenizer they rebuild exactly
    tokenizer_record = {
        "source": manifest.tokenizer_file,
        "source_sha256": manifest.files[manifest.tokenizer_file].sha256,
        "content_sha256": content_digest(tokenizer.read_text(encoding="utf-8")),
        "parts": None if parts is None else {"vocab": _file_record(parts[0]), "rest": _file_record(parts[1])},
    }
    _tokenizer_record_path(bundle, manifest.tokenizer_file).write_text(
        json.dumps(tokenizer_record, indent=1) + "\n", encoding="utf-8"
    )
    return optimized


def _file_problem(path: Path, record: Any, *, verify: bool) -> str | None:
    """Why a file named by a sidecar cannot be used (None: it can)."""
    if not isinstance(record, dict) or not path.is_file() or path.stat().st_size != record.get("size"):
        return "its file is missing or truncated"
    if verify and sha256_file(path) != record.get("sha256"):
        return "its sha256 does not match"
    return None


def find(bundle_dir: Path, manifest: Manifest, model_file: str, *, verify: bool) -> Path | None:
    """The pre-optimized graph of model_file if it was made from this model by this onnxruntime, else None."""
    optimized, data, sidecar = _paths(bundle_dir, model_file)
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
    else:
        why = _file_problem(optimized, record, verify=verify)
        if why is None and record.get("data") is not None:
            why = _file_problem(data, record["data"], verify=verify)
            why = why and f"weights: {why}"
    if why:
        log.warning("%s: not using the pre-optimized graph (%s): optimizing at load", bundle_dir, why)
        return None
    return optimized


def _tokenizer_record(bundle_dir: Path, manifest: Manifest) -> dict[str, Any] | None:
    """The image build's record of the bundle's tokenizer if it names the manifest's sha256 for the file."""
    source_sha256 = manifest.files[manifest.tokenizer_file].sha256  # listed: read_manifest checks it
    try:
        record = json.loads(_tokenizer_record_path(bundle_dir, manifest.tokenizer_file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("source_sha256") != source_sha256:
        return None
    return record


def tokenizer_key(bundle_dir: Path, manifest: Manifest) -> str:
    """What identifies the bundle's tokenizer apart from truncation and padding: the digest recorded at image
    build when its record names the manifest's sha256 for the file, else that sha256 (identical files only)."""
    record = _tokenizer_record(bundle_dir, manifest)
    content = None if record is None else record.get("content_sha256")
    return f"content:{content}" if isinstance(content, str) else manifest.files[manifest.tokenizer_file].sha256


def tokenizer_parts(bundle_dir: Path, manifest: Manifest, *, verify: bool) -> tuple[Path, Path] | None:
    """The vocabulary and rest files the image build split the bundle's tokenizer into (wordpiece_parts), if its
    record names the manifest's sha256 for the tokenizer and both files match the record (with verify: their
    sha256 too); else None, and the tokenizer loads from its own file."""
    record = _tokenizer_record(bundle_dir, manifest)
    parts = None if record is None else record.get("parts")
    if not isinstance(parts, dict):
        return None
    vocab, rest = part_paths(bundle_dir / CACHE_DIR, manifest.tokenizer_file)
    for label, path in (("vocab", vocab), ("rest", rest)):
        entry = parts.get(label)
        why = _file_problem(path, entry, verify=verify)
        if why is None and isinstance(entry, dict) and entry.get("file") != path.name:
            why = f"the record names {entry.get('file')!r}"
        if why:
            log.warning("%s: not using the split tokenizer (%s: %s): loading its file", bundle_dir, label, why)
            return None
    return vocab, rest


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
        weights = path.with_suffix(".data")
        size = path.stat().st_size + (weights.stat().st_size if weights.is_file() else 0)
        print(f"load cache: {path} ({size / 1e6:.1f} MB with its weights, onnxruntime {ort.__version__})")
    return 0
