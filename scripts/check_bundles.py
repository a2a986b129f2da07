"""Build-time check of the bundles baked into an image: every file's size and sha256, and the variant this
CPU architecture will load.

Why a script and not a Dockerfile heredoc: buildah/podman and Docker's legacy builder (what `sam build` uses)
do not read heredocs. Why it imports only the manifest and hashing modules, not the `edge_encoders` package:
the package imports onnxruntime, which an arm64 build under qemu-user may not be able to load, and the check
needs none of it. A bundle that cannot serve this architecture fails the image build, not the function's init.

    python check_bundles.py <runtime source dir> <bundle dir>... [--machine aarch64]

Exit status 0 when every bundle passes, 1 (one line per problem) otherwise.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
import types
from pathlib import Path
from typing import Any


def load_manifest_module(runtime_dir: Path) -> Any:
    """edge_encoders.manifest without running edge_encoders/__init__.py (which imports onnxruntime)."""
    package = types.ModuleType("edge_encoders")
    package.__path__ = [str(runtime_dir)]
    sys.modules.setdefault("edge_encoders", package)
    return importlib.import_module("edge_encoders.manifest")


def check_bundle(manifest_module: Any, bundle: Path, machine: str) -> str:
    """Verify every file of one bundle; return the line that says what this architecture will serve."""
    manifest = manifest_module.read_manifest(bundle)
    variant, model_file = manifest.model_for_machine(machine)
    if model_file not in manifest.files:
        raise manifest_module.BundleError(f"{bundle}: {model_file} (variant {variant} for {machine}) is not listed")
    manifest_module.verify_files(bundle, manifest)
    what = f"{manifest.kind}: {manifest.name}, variant {variant} ({model_file}) on {machine}"
    return f"{what}; {len(manifest.files)} files verified"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runtime_dir", type=Path, help="the edge_encoders source folder")
    parser.add_argument("bundles", type=Path, nargs="+", help="bundle folders to check")
    parser.add_argument("--machine", default=platform.machine(), help="CPU architecture (default: this one)")
    args = parser.parse_args(argv)
    manifest_module = load_manifest_module(args.runtime_dir)
    failed = False
    for bundle in args.bundles:
        try:
            print(check_bundle(manifest_module, bundle, args.machine))
        except manifest_module.BundleError as exc:
            print(f"bundle check failed: {exc.message}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
