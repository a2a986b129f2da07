"""The bundle contract: manifest.json, read by the runtime and written by the build.

The manifest is the only place where the facts that ONNX export drops survive (pooling, normalization,
max_seq_length, prompts, reranker activation, input names). The runtime trusts nothing else: not the
tokenizer.json padding/truncation, not the graph's metadata.
"""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from edge_encoders.errors import BundleError
from edge_encoders.hashing import sha256_file
from edge_encoders.scheduling import RUN_MODES, SEQUENTIAL

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"

Pooling = Literal["mean", "cls", "lasttoken"]
Activation = Literal["sigmoid", "identity"]

POOLING_MODES: tuple[str, ...] = ("mean", "cls", "lasttoken")
ACTIVATIONS: tuple[str, ...] = ("sigmoid", "identity")


@dataclass
class FileEntry:
    """A file of the bundle with the digest the runtime verifies at load."""

    sha256: str
    size: int


@dataclass
class Manifest:
    """Everything the runtime needs to serve a bundle; README.md's bundle section gives the field meanings."""

    kind: str  # the model family (edge_encoders.families): "embed" or "rerank" today
    name: str
    max_seq_length: int
    input_names: list[str]
    output_name: str
    model_file: str
    variant: str
    files: dict[str, FileEntry]
    schema_version: int = SCHEMA_VERSION
    tokenizer_file: str = "tokenizer.json"
    # embed family (families/embed.py checks these)
    dimension: int | None = None
    pooling: Pooling | None = None
    normalize: bool = False
    prompts: dict[str, str] = field(default_factory=dict)
    default_prompt_name: str | None = None
    calibration_file: str | None = None
    # rerank family (families/rerank.py checks these)
    activation: Activation | None = None
    num_labels: int | None = None
    # per CPU architecture (platform.machine() value) -> {"variant": ..., "file": ...}; falls back to model_file
    arch_variants: dict[str, dict[str, str]] = field(default_factory=dict)
    # how to run the graph, as the build measured it: {"run_mode": "sequential" | "concurrent", ...the figures
    # behind the choice}; only run_mode is read (edge_encoders.scheduling). Absent (older bundles): sequential.
    run_hints: dict[str, Any] = field(default_factory=dict)
    # provenance, validation summary and tool versions: carried for /info and humans, not interpreted here
    source: dict[str, Any] = field(default_factory=dict)
    validation: dict[str, Any] = field(default_factory=dict)
    tools: dict[str, str] = field(default_factory=dict)
    build_key: str | None = None
    created_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def write(self, bundle_dir: str | Path) -> Path:
        path = Path(bundle_dir) / MANIFEST_NAME
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n", encoding="utf-8")
        return path

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "manifest") -> Manifest:
        if not isinstance(data, dict):
            raise BundleError(f"{where}: expected a JSON object")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise BundleError(
                f"{where}: schema_version {version!r} is not supported by this runtime "
                f"(expects {SCHEMA_VERSION}); rebuild the bundle with a matching edge-encoders"
            )
        try:
            files = {name: FileEntry(**entry) for name, entry in data["files"].items()}
            fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "files"}
            manifest = cls(files=files, **fields)
        except (KeyError, TypeError) as exc:
            raise BundleError(f"{where}: malformed manifest ({exc})") from None
        manifest._check(where)
        return manifest

    def _check(self, where: str) -> None:
        # Imported here: each family's module imports this one (for the field types it checks).
        from edge_encoders.families import family

        kind = family(self.kind, where=where)
        if self.max_seq_length <= 0:
            raise BundleError(f"{where}: max_seq_length must be positive")
        kind.check_fields(self, where)
        for required in (self.model_file, self.tokenizer_file):
            if required not in self.files:
                raise BundleError(f"{where}: {required} is not listed in files")
        if not isinstance(self.run_hints, dict):
            raise BundleError(f"{where}: run_hints must be an object")
        mode = self.run_hints.get("run_mode", SEQUENTIAL)
        if mode not in RUN_MODES:
            raise BundleError(f"{where}: run_hints.run_mode must be one of {', '.join(RUN_MODES)}; got {mode!r}")

    def model_for_machine(self, machine: str | None = None) -> tuple[str, str]:
        """(variant, file) to load on this CPU architecture: an arch-specific variant if the build made one."""
        arch = (machine or platform.machine()).lower()
        aliases = {"arm64": "aarch64", "amd64": "x86_64"}
        arch = aliases.get(arch, arch)
        choice = self.arch_variants.get(arch)
        if choice:
            return choice["variant"], choice["file"]
        return self.variant, self.model_file


def read_manifest(bundle_dir: str | Path) -> Manifest:
    """Read and check manifest.json of a bundle folder (no file digests yet: see verify_files)."""
    bundle = Path(bundle_dir)
    path = bundle / MANIFEST_NAME
    if not bundle.is_dir():
        raise BundleError(f"bundle folder {bundle} does not exist")
    if not path.is_file():
        raise BundleError(f"{path} is missing: {bundle} is not a bundle (run `make export` to write one)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{path} cannot be read as JSON: {exc}") from None
    return Manifest.from_dict(data, where=str(path))


def verify_files(bundle_dir: str | Path, manifest: Manifest, names: list[str] | None = None) -> None:
    """Check size and sha256 of the named files (default: all), naming the first file that is wrong."""
    bundle = Path(bundle_dir)
    for name in names if names is not None else list(manifest.files):
        entry = manifest.files.get(name)
        if entry is None:
            raise BundleError(f"{bundle}: {name} is not listed in the manifest")
        path = bundle / name
        if not path.is_file():
            raise BundleError(f"{bundle}: {name} is missing (manifest lists it with {entry.size} bytes)")
        size = path.stat().st_size
        if size != entry.size:
            raise BundleError(
                f"{bundle}: {name} has {size} bytes, the manifest says {entry.size} (truncated or replaced)"
            )
        digest = sha256_file(path)
        if digest != entry.sha256:
            raise BundleError(
                f"{bundle}: {name} sha256 {digest[:12]}… does not match the manifest's {entry.sha256[:12]}… "
                "(file altered after the build)"
            )


def file_entry(path: str | Path) -> FileEntry:
    """Digest and size of a file, as the build records it."""
    p = Path(path)
    return FileEntry(sha256=sha256_file(p), size=p.stat().st_size)
