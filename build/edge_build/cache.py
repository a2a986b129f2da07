"""Build keys: a digest of everything a bundle depends on, so an unchanged rebuild is a no-op.

What goes in: the model source (spec, resolved info, and a digest of the model files themselves, so a local
folder edited in place is noticed), the build config that affects this model (variants, gates, prompts), the
validation/calibration data, the versions of the tools that export and quantize, and the build + runtime code.
Checked without importing torch, so a cache hit finishes in seconds.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import Any

from edge_encoders.errors import BundleError
from edge_encoders.hashing import sha256_file
from edge_encoders.manifest import read_manifest, verify_files

TOOLS = (
    "torch",
    "transformers",
    "sentence-transformers",
    "optimum",
    "optimum-onnx",
    "onnx",
    "onnxruntime",
    "tokenizers",
    "numpy",
)
_BUILD_PACKAGE = Path(__file__).resolve().parent
_RUNTIME_PACKAGE = Path(str(__import__("edge_encoders").__file__)).resolve().parent


def tool_versions() -> dict[str, str]:
    """Installed versions of the tools that shape the output (read from metadata: no imports)."""
    versions = {}
    for name in TOOLS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def digest(value: Any) -> str:
    """sha256 of a JSON-able value in canonical form."""
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def tree_digest(paths: list[Path], root: Path | None = None) -> str:
    """Digest of files (sorted, with their relative names): folders are walked, hidden entries skipped."""
    entries = []
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            rel = file.relative_to(root or (path if path.is_dir() else path.parent))
            if any(part.startswith(".") for part in rel.parts) or "__pycache__" in rel.parts:
                continue
            entries.append((str(rel), sha256_file(file)))
    return digest(entries)


def code_version() -> str:
    """Digest of the build and runtime source: a change in either may change the bundle or its validation."""
    entries = []
    for package in (_BUILD_PACKAGE, _RUNTIME_PACKAGE):
        for path in sorted(package.rglob("*.py")):  # subpackages too (edge_build.families, ...)
            entries.append((path.relative_to(package.parent).as_posix(), sha256_file(path)))
    return digest(entries)


def bundle_is_current(bundle_dir: Path, build_key: str) -> bool:
    """True when bundle_dir holds a bundle built with this key whose files all match their digests."""
    try:
        manifest = read_manifest(bundle_dir)
        if manifest.build_key != build_key:
            return False
        verify_files(bundle_dir, manifest)
    except BundleError:
        return False
    return True
