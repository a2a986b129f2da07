"""Which bundles the bench measures: the shipped ones, else intermediates the export kept, else stand-ins it
builds; each copied to a private snapshot so a concurrent `make export` cannot pull it away mid-run."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.measure import ROOT, child_env, log
from bench.prepare import is_valid_bundle


def find_variant_bundle(root: Path, variant: str, kind: str = "embed") -> Path | None:
    """A bundle of the given kind and variant anywhere under artifacts/ (export keeps intermediates in .work)."""
    for manifest in sorted(root.glob("artifacts/**/manifest.json")):
        if "bench" in manifest.parts:
            continue
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if data.get("kind") == kind and data.get("variant") == variant and is_valid_bundle(manifest.parent):
            return manifest.parent
    return None


def _prepare(kind: str, dest: Path, template: Path, threads: int) -> Path:
    if is_valid_bundle(dest):
        return dest
    log(f"building a {kind} stand-in bundle at {dest} (cached for later runs)")
    cmd = [sys.executable, "-m", "bench.prepare", kind, str(dest), str(template)]
    subprocess.run(cmd, cwd=ROOT, env=child_env(threads), check=True, stdout=subprocess.DEVNULL)
    return dest


def resolve_bundles(args: argparse.Namespace) -> dict[str, Path]:
    art = ROOT / "artifacts"
    shipped = art / "embed"
    template = shipped if is_valid_bundle(shipped) else art / "dev" / "embed"
    if args.embed_int8:
        int8 = args.embed_int8
    elif is_valid_bundle(shipped):
        int8 = shipped
    else:
        int8 = find_variant_bundle(ROOT, "int8-avx512_vnni") or find_variant_bundle(ROOT, "int8-avx2")
        int8 = int8 or _prepare("int8", art / "bench" / "embed-int8", template, args.threads)
    if args.embed_o3:
        o3 = args.embed_o3
    else:
        o3 = find_variant_bundle(ROOT, "O3") or _prepare("O3", art / "bench" / "embed-O3", template, args.threads)
    default_rerank = art / "rerank" if is_valid_bundle(art / "rerank") else art / "dev" / "rerank"
    rerank = args.rerank or default_rerank
    for name, path in (("embed-int8", int8), ("embed-o3", o3), ("rerank", rerank)):
        if not is_valid_bundle(path):
            raise SystemExit(f"bench: {name} bundle {path} is missing or does not match its manifest")
    found = {"int8": int8, "O3": o3, "rerank": rerank}
    # the fp32 reranker the export validated beside the shipped one: the baseline of the int8 rerank speed-up
    rerank_fp32 = find_variant_bundle(ROOT, "fp32", "rerank")
    if rerank_fp32 is not None and manifest(rerank)["variant"] != "fp32":
        found["rerank_fp32"] = rerank_fp32
    return found


def snapshot(bundle: Path, dest: Path) -> Path:
    """A private copy of a bundle, so a concurrent `make export` rewriting artifacts/ cannot pull it away mid-run.

    Reused when its manifest is byte-identical to the source's (the manifest pins every file's sha256).
    """
    source_manifest = (bundle / "manifest.json").read_bytes()
    copy = dest / "manifest.json"
    if copy.is_file() and copy.read_bytes() == source_manifest and is_valid_bundle(dest):
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(bundle, dest)
    if not is_valid_bundle(dest):
        raise SystemExit(f"bench: {bundle} changed while it was copied; run the bench again")
    return dest


def rel(path: Path) -> str:
    """`path` relative to the repository when it lies inside it (how reports name bundles)."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def manifest(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    return data


def ce_reference(args: argparse.Namespace, rerank: Path, minilm: Path) -> dict[str, Any]:
    """The CrossEncoder the torch rerank baseline loads: given, the rerank bundle's source, else MiniLM + new head."""
    if args.ce_model:
        return {"model": str(args.ce_model), "note": "given on the command line"}
    source = manifest(rerank).get("source") or {}
    for key in ("path", "local_path", "model_dir", "folder", "dir"):
        value = source.get(key)
        if isinstance(value, str):
            candidate = Path(value) if Path(value).is_absolute() else ROOT / value
            if (candidate / "config.json").is_file():
                return {"model": str(candidate), "note": "the rerank bundle's source folder"}
    return {"model": str(minilm), "num_labels": 1, "note": "MiniLM + new 1-label head (same architecture; timing)"}
