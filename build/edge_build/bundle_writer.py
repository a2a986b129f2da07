"""Write bundle folders: the staged ones validation loads, and the published one the runtime serves.

A staged bundle is a complete bundle (manifest with digests) so validation loads it exactly as the runtime
will; publishing replaces the output folder in one rename, so a crashed build never leaves half a bundle.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge_build.model_facts import ModelFacts
from edge_encoders.manifest import Manifest, file_entry

MODEL_FILE = "model.onnx"
ARM64_FILE = "model_arm64.onnx"
TOKENIZER_FILE = "tokenizer.json"
VALIDATION_FILE = "validation.json"


@dataclass
class BundleSpec:
    """What goes into one bundle folder besides the facts."""

    name: str
    facts: ModelFacts
    variant: str
    input_names: list[str]
    output_name: str
    files: dict[str, Path]  # bundle file name -> source path (model.onnx and tokenizer.json at least)
    arch_variants: dict[str, dict[str, str]] = field(default_factory=dict)
    run_hints: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    validation: dict[str, Any] = field(default_factory=dict)
    tools: dict[str, str] = field(default_factory=dict)
    build_key: str | None = None
    extra_prompts: dict[str, str] = field(default_factory=dict)


def _place(src: Path, dest: Path, link: bool) -> None:
    """Hard link for staging (a 90 MB model need not be copied per variant); a real copy for publishing,
    so editing a published file can never reach the cached variants."""
    dest.unlink(missing_ok=True)
    if link:
        try:
            os.link(src, dest)
            return
        except OSError:
            pass
    shutil.copyfile(src, dest)


def write_bundle(dest: Path, spec: BundleSpec, *, link: bool = True) -> Manifest:
    """Fill dest with the spec's files and a manifest listing each with sha256 and size."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name, src in spec.files.items():
        _place(src, dest / name, link)
    from edge_build.families import get_family

    fields = get_family(spec.facts.kind).manifest_fields(spec.facts, spec.extra_prompts, set(spec.files))
    manifest = Manifest(
        kind=spec.facts.kind,
        name=spec.name,
        max_seq_length=spec.facts.max_seq_length,
        input_names=list(spec.input_names),
        output_name=spec.output_name,
        model_file=MODEL_FILE,
        variant=spec.variant,
        files={name: file_entry(dest / name) for name in sorted(spec.files)},
        tokenizer_file=TOKENIZER_FILE,
        arch_variants=dict(spec.arch_variants),
        run_hints=dict(spec.run_hints),
        source=dict(spec.source),
        validation=dict(spec.validation),
        tools=dict(spec.tools),
        build_key=spec.build_key,
        created_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
        **fields,
    )
    manifest.write(dest)
    return manifest


def publish(staged: Path, out: Path) -> None:
    """Move a finished bundle folder to out, replacing what was there in (nearly) one step."""
    out.parent.mkdir(parents=True, exist_ok=True)
    old = out.with_name(f".{out.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if out.exists():
        out.rename(old)
    shutil.move(str(staged), str(out))
    if old.exists():
        shutil.rmtree(old)
