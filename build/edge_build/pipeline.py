"""One model through the build, as stages: key -> export -> variants -> validate -> choose -> ship.

Each stage is a function from one typed value to the next; what differs per model family is asked of the
family (edge_build.families). Each step's output is cached under the work dir, keyed by what it depends on;
the published bundle carries the build key, so an unchanged re-run stops after hashing its inputs (no torch
import).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edge_build import cache, gate, results
from edge_build.bundle_writer import (
    ARM64_FILE,
    MODEL_FILE,
    TOKENIZER_FILE,
    VALIDATION_FILE,
    BundleSpec,
    publish,
    write_bundle,
)
from edge_build.config import DATA_DIR, BuildConfig, ModelSpec
from edge_build.errors import BuildError
from edge_build.export import export_fp32, graph_io
from edge_build.families import FAMILY_NAMES, Family, get_family
from edge_build.model_facts import ModelFacts
from edge_build.report import Progress, format_report, print_progress, step
from edge_build.results import VariantResult
from edge_build.sources import ResolvedSource, resolve_source
from edge_build.validation import ValidationSet, load_validation_set, measure_speed
from edge_build.variants import ARM64_VARIANT, Builder, VariantInputs, build_variant, precision


class GateFailure(BuildError):
    """No variant of a model passed its gate: nothing was shipped for it."""


@dataclass
class ModelOutcome:
    kind: str
    bundle_dir: Path
    cached: bool
    report: dict[str, Any]
    seconds: float
    work_dir: Path  # intermediates: stage/<variant>/ holds a complete bundle of every variant built


@dataclass(frozen=True)
class Request:
    """What to build for one model family: the key stage's input."""

    family: Family
    spec: ModelSpec
    variants: tuple[str, ...]
    gates: dict[str, float]  # resolved: defaults with this family's config values on top
    prompts: dict[str, str]  # extra prompts for the manifest ({} for a family that takes none)
    out: Path  # the published bundle folder
    work_root: Path
    data_dir: Path


@dataclass(frozen=True)
class Keyed:
    """The key stage's output: the resolved source, the validation set, and the keys of the bundle and export."""

    request: Request
    source: ResolvedSource
    vset: ValidationSet
    key: str  # build key: everything the published bundle depends on
    work: Path  # intermediates of this export (keyed by model content, tools, code, data)
    tools: dict[str, str]
    name: str  # the model's human name


@dataclass
class Exported:
    """The export stage's output: the fp32 graph and the loaded torch model (the reference)."""

    facts: ModelFacts
    model: Any  # the sentence-transformers model; dropped once the reference outputs are computed
    ref_info: dict[str, Any]
    input_names: list[str]

    def bundle_spec(self, keyed: Keyed, variant: str, files: dict[str, Path], **extra: Any) -> BundleSpec:
        return BundleSpec(
            name=keyed.name,
            facts=self.facts,
            variant=variant,
            input_names=self.input_names,
            output_name=keyed.request.family.output_name,
            files=files,
            source=keyed.source.info,
            tools=keyed.tools,
            extra_prompts=keyed.request.prompts,
            **extra,
        )


@dataclass(frozen=True)
class VariantFile:
    """The variants stage's output for one variant: its ONNX file, or why it could not be built."""

    name: str
    path: Path | None
    error: str | None = None


@dataclass
class Validated:
    """The validate stage's output: one result per variant, in the configured order."""

    results: dict[str, VariantResult]
    files: dict[str, Path]  # variant -> ONNX file, for those built
    staged: dict[str, Path]  # variant -> its staged bundle, one per distinct file

    def staged_of(self, variant: str) -> Path:
        result = self.results[variant]
        return self.staged[result.same_bytes_as or variant]


@dataclass(frozen=True)
class Choice:
    """The choose stage's output: the x86 variant to ship (None: nothing passed) and the aarch64 one."""

    shipped: str | None
    arm: str | None


def library_text(exc: BaseException, limit: int = 400) -> str:
    """A library's exception as one short line: transformers' can list every model type it knows (kilobytes)."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit] + " ... (cut)"


def _data_digest(data_dir: Path) -> str:
    paths = [p for p in (data_dir / "validation", data_dir / "calibration.txt") if p.exists()]
    return cache.tree_digest(paths, root=data_dir)


def _model_name(info: Mapping[str, Any], path: Path) -> str:
    if info.get("name"):
        return str(info["name"])
    if path.name in ("model", "") and info.get("id"):
        return str(info["id"])
    return path.name


def request_for(kind: str, cfg: BuildConfig, data_dir: Path) -> Request:
    """The build request of one family from the config (gates resolved, prompts only where the family takes them)."""
    family = get_family(kind)
    return Request(
        family=family,
        spec=cfg.models[kind],
        variants=tuple(cfg.variants),
        gates=gate.resolve_gates(gate.for_family(kind, cfg.gates)),
        prompts=dict(cfg.prompts) if family.uses_prompts else {},
        out=cfg.output_dir / kind,
        work_root=cfg.work_dir,
        data_dir=data_dir,
    )


def key_stage(request: Request, progress: Progress) -> Keyed:
    """Resolve the source and hash every input: the build key (the bundle) and the export key (intermediates)."""
    kind = request.family.name
    with step(progress, f"[{kind}] source {request.spec.source}"):
        resolved = resolve_source(request.spec, kind, request.work_root, progress=progress)
    vset = load_validation_set(request.data_dir)
    content = resolved.info.get("content_sha256") or cache.tree_digest([resolved.path])
    tools = cache.tool_versions()
    code = cache.code_version()
    data = _data_digest(request.data_dir)
    key = cache.digest(
        {
            "kind": kind,
            "spec": asdict(request.spec),
            "source": {k: v for k, v in resolved.info.items() if k != "local_path"},
            "content": content,
            "variants": list(request.variants),
            "gates": request.gates,
            "prompts": request.prompts,
            "data": data,
            "tools": tools,
            "code": code,
        }
    )
    export_key = cache.digest({"content": content, "tools": tools, "code": code, "data": data, "kind": kind})
    work = request.work_root / kind / export_key[:16]
    name = _model_name(resolved.info, resolved.path)
    return Keyed(request, resolved, vset, key, work, tools, name)


def export_stage(keyed: Keyed, progress: Progress) -> Exported:
    """Load the model with sentence-transformers (the reference) and export its fp32 ONNX graph."""
    from edge_build.reference import reference_device

    family, spec, kind = keyed.request.family, keyed.request.spec, keyed.request.family.name
    ref_info = reference_device()
    with step(progress, f"[{kind}] loading the torch reference on {ref_info['device']}"):
        try:
            model, facts = family.load(
                keyed.source.path, trust_remote_code=spec.trust_remote_code, device=ref_info["device"]
            )
        except BuildError:
            raise
        except Exception as exc:
            raise BuildError(
                f"cannot load {keyed.source.path} as a sentence-transformers {kind} model: {library_text(exc)}"
            ) from None
    with step(progress, f"[{kind}] ONNX export (fp32, optimum)"):
        fp32 = export_fp32(
            facts, model, keyed.work / "export", task=family.export_task, trust_remote_code=spec.trust_remote_code
        )
    input_names, output_names = graph_io(fp32)
    if family.output_name not in output_names:
        raise BuildError(f"the exported graph has outputs {output_names}, expected {family.output_name!r}")
    return Exported(facts, model, ref_info, input_names)


def variants_stage(
    keyed: Keyed, exported: Exported, progress: Progress, builders: Mapping[str, Builder] | None
) -> list[VariantFile]:
    """Build every requested variant from the fp32 export; a variant that fails is recorded, not fatal."""
    kind = keyed.request.family.name
    inputs = VariantInputs(
        keyed.work / "export", kind, exported.input_names, exported.facts.max_seq_length, keyed.vset.calibration
    )
    built = []
    for name in keyed.request.variants:
        try:
            with step(progress, f"[{kind}] variant {name}"):
                built.append(VariantFile(name, build_variant(name, inputs, keyed.work / "variants", builders)))
        except BuildError as exc:
            built.append(VariantFile(name, None, str(exc)))
    return built


def validate_stage(keyed: Keyed, exported: Exported, files: list[VariantFile], progress: Progress) -> Validated:
    """Measure every variant through the runtime against the torch reference, time them, apply the gate."""
    family, vset, work = keyed.request.family, keyed.vset, keyed.work
    kind = family.name
    with step(progress, f"[{kind}] torch reference outputs ({family.reference_count(vset)} inputs)"):
        reference = family.reference(exported.model, vset)
    exported.model = None  # free the torch model before the runtime sessions load

    found: dict[str, VariantResult] = {}
    paths: dict[str, Path] = {}
    staged: dict[str, Path] = {}
    by_digest: dict[str, str] = {}
    for built in files:
        result = VariantResult(built.name, precision(built.name))
        found[built.name] = result
        if built.path is None:
            result.error = built.error
            continue
        paths[built.name] = built.path
        result.file_sha256 = cache.sha256_file(built.path)
        result.size = built.path.stat().st_size
        if result.file_sha256 in by_digest:
            twin = by_digest[result.file_sha256]
            result.metrics = dict(found[twin].metrics)
            result.same_bytes_as = twin
            continue
        by_digest[result.file_sha256] = built.name
        stage_dir = work / "stage" / built.name
        bundle_files = {MODEL_FILE: built.path, TOKENIZER_FILE: work / "export" / TOKENIZER_FILE}
        write_bundle(stage_dir, exported.bundle_spec(keyed, built.name, bundle_files))
        staged[built.name] = stage_dir
        with step(progress, f"[{kind}] validating {built.name} through edge_encoders"):
            result.metrics = _validate(family, stage_dir, vset, reference)

    label = f"[{kind}] speed of {len(staged)} distinct variants ({family.speed_metric}, round-robin)"
    with step(progress, label):
        speeds = measure_speed(family, staged, vset)
    for result in found.values():
        if result.error is not None:
            continue
        result.metrics[family.speed_metric] = speeds[result.same_bytes_as or result.name]
        results.apply_gate(family, result, keyed.request.gates)
    results.mark_pareto(family, found)
    return Validated(found, paths, staged)


def _validate(family: Family, staged: Path, vset: ValidationSet, ref: Any) -> dict[str, Any]:
    try:
        return family.validate(staged, vset, ref)
    except BuildError:
        raise
    except Exception as exc:
        raise BuildError(f"validating {staged.name} through the runtime failed: {type(exc).__name__}: {exc}") from None


def choose_stage(family: Family, validated: Validated) -> Choice:
    """The fastest passing variant for x86 (arm64 excluded: it is the aarch64 choice) and the arm64 one."""
    found = validated.results
    passing = [v for v, r in found.items() if r.passed and v != ARM64_VARIANT]
    shipped = max(passing, key=lambda v: found[v].speed(family)) if passing else None
    arm = ARM64_VARIANT if ARM64_VARIANT in found and found[ARM64_VARIANT].passed else None
    return Choice(shipped, arm)


def ship_stage(
    keyed: Keyed, exported: Exported, validated: Validated, choice: Choice, progress: Progress
) -> dict[str, Any]:
    """Write validation.json and publish the bundle of the chosen variant; GateFailure when nothing passed."""
    family, work, out = keyed.request.family, keyed.work, keyed.request.out
    found = validated.results
    validation_path = work / VALIDATION_FILE
    report = results.report(family, keyed.name, exported.ref_info, keyed.request.gates, keyed.vset.fingerprint(), found)
    if choice.shipped is None:
        validation_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        progress(format_report(report))
        raise GateFailure(
            f"no {family.name} variant passed its gate, so nothing was shipped for it (table above; full report in "
            f"{validation_path}); {out} was left as it was"
        )
    chosen = choice.shipped
    found[chosen].shipped_as = MODEL_FILE
    bundle_files = {MODEL_FILE: validated.files[chosen], TOKENIZER_FILE: work / "export" / TOKENIZER_FILE}
    arch_variants: dict[str, dict[str, str]] = {}
    if choice.arm is not None:
        arm = choice.arm
        arm_file = MODEL_FILE if found[arm].file_sha256 == found[chosen].file_sha256 else ARM64_FILE
        arch_variants["aarch64"] = {"variant": arm, "file": arm_file}
        found[arm].shipped_as = f"{arm_file} (aarch64)"
        if arm_file == ARM64_FILE:
            bundle_files[ARM64_FILE] = validated.files[arm]
    bundle_files.update(family.extra_files(validated.staged_of(chosen), keyed.vset, work, progress))
    run_hints = family.run_hints(validated.staged_of(chosen), keyed.vset, chosen)
    if run_hints:
        calls = run_hints.get("calls") or {"a probe call": run_hints}
        timed = "; ".join(
            f"{label}: sequential {c['sequential_ms']} ms, concurrent {c['concurrent_ms']} ms"
            for label, c in calls.items()
        )
        progress(f"{family.name}: micro-batches {run_hints['run_mode']} on {run_hints['threads']} threads ({timed})")
    report["variants"] = {v: r.to_json() for v, r in found.items()}
    report["shipped"] = chosen
    report["arch_variants"] = arch_variants
    report["run_hints"] = run_hints
    report["bundle_dir"] = str(out)
    report["build_key"] = keyed.key
    validation_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    bundle_files[VALIDATION_FILE] = validation_path

    staged_final = work / "publish"
    spec = exported.bundle_spec(
        keyed,
        chosen,
        bundle_files,
        arch_variants=arch_variants,
        run_hints=run_hints,
        validation=results.summary(report),
        build_key=keyed.key,
    )
    write_bundle(staged_final, spec, link=False)
    publish(staged_final, out)
    progress(format_report(report))
    return report


def build_model(
    kind: str,
    cfg: BuildConfig,
    *,
    force: bool = False,
    progress: Progress = print_progress,
    builders: Mapping[str, Builder] | None = None,
    data_dir: Path = DATA_DIR,
) -> ModelOutcome:
    """Build (or reuse) the bundle of one model family; raises GateFailure when no variant passes."""
    started = time.perf_counter()
    keyed = key_stage(request_for(kind, cfg, data_dir), progress)
    out = keyed.request.out
    if not force and cache.bundle_is_current(out, keyed.key):
        report = json.loads((out / VALIDATION_FILE).read_text(encoding="utf-8"))
        progress(f"[{kind}] {out} is up to date (build key {keyed.key[:12]}); nothing to do")
        return ModelOutcome(kind, out, True, report, time.perf_counter() - started, keyed.work)
    _prune_siblings(keyed.work)
    exported = export_stage(keyed, progress)
    files = variants_stage(keyed, exported, progress, builders)
    validated = validate_stage(keyed, exported, files, progress)
    choice = choose_stage(keyed.request.family, validated)
    report = ship_stage(keyed, exported, validated, choice, progress)
    return ModelOutcome(kind, out, False, report, time.perf_counter() - started, keyed.work)


def _prune_siblings(work: Path) -> None:
    """Keep only the current export of this model kind under the work dir (old ones are 100+ MB each)."""
    parent = work.parent
    if parent.is_dir():
        for sibling in parent.iterdir():
            if sibling.is_dir() and sibling != work:
                shutil.rmtree(sibling, ignore_errors=True)


def run_export(
    cfg: BuildConfig,
    *,
    kinds: tuple[str, ...] = FAMILY_NAMES,
    force: bool = False,
    progress: Progress = print_progress,
    data_dir: Path = DATA_DIR,
) -> list[ModelOutcome]:
    """Build every requested model; a gate failure of one does not stop the other (raised at the end)."""
    outcomes, failures = [], []
    for kind in kinds:
        try:
            outcomes.append(build_model(kind, cfg, force=force, progress=progress, data_dir=data_dir))
        except GateFailure as exc:
            failures.append(str(exc))
    if failures:
        raise GateFailure(" | ".join(failures))
    return outcomes


__all__ = ["GateFailure", "ModelFacts", "ModelOutcome", "build_model", "run_export"]
