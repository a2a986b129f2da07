"""One model through the build: source -> export -> variants -> validation -> gate -> bundle.

Each step's output is cached under the work dir, keyed by what it depends on; the published bundle carries
the build key, so an unchanged re-run stops after hashing its inputs (no torch import).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_build import cache, gate
from edge_build.bundle_writer import (
    ARM64_FILE,
    CALIBRATION_FILE,
    MODEL_FILE,
    TOKENIZER_FILE,
    VALIDATION_FILE,
    BundleSpec,
    publish,
    write_bundle,
)
from edge_build.config import DATA_DIR, BuildConfig
from edge_build.errors import BuildError
from edge_build.export import OUTPUT_NAMES, export_fp32, graph_io
from edge_build.model_facts import ModelFacts, load_model
from edge_build.report import Progress, format_report, print_progress, step
from edge_build.sources import resolve_source
from edge_build.validation import (
    EmbedReference,
    RerankReference,
    ValidationSet,
    load_validation_set,
    measure_speed,
    validate_embedder,
    validate_reranker,
)
from edge_build.variants import Builder, VariantInputs, build_variant, family

ARM64_VARIANT = "int8-arm64"
CALIBRATION_LIMIT = 2000


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


def _data_digest(data_dir: Path) -> str:
    paths = [p for p in (data_dir / "validation", data_dir / "calibration.txt") if p.exists()]
    return cache.tree_digest(paths, root=data_dir)


def _model_name(info: Mapping[str, Any], path: Path) -> str:
    if info.get("name"):
        return str(info["name"])
    if path.name in ("model", "") and info.get("id"):
        return str(info["id"])
    return path.name


def build_model(
    kind: str,
    cfg: BuildConfig,
    *,
    force: bool = False,
    progress: Progress = print_progress,
    builders: Mapping[str, Builder] | None = None,
    data_dir: Path = DATA_DIR,
) -> ModelOutcome:
    """Build (or reuse) the bundle of one model; raises GateFailure when no variant passes."""
    started = time.perf_counter()
    spec = getattr(cfg, kind)
    out = cfg.output_dir / kind
    gates = gate.resolve_gates({k: v for k, v in cfg.gates.items() if k.startswith(kind + "_")})
    with step(progress, f"[{kind}] source {spec.source}"):
        resolved = resolve_source(spec, kind, cfg.work_dir, progress=progress)
    vset = load_validation_set(data_dir)
    content = resolved.info.get("content_sha256") or cache.tree_digest([resolved.path])
    tools = cache.tool_versions()
    code = cache.code_version()
    data = _data_digest(data_dir)
    variants = list(cfg.variants)
    key = cache.digest(
        {
            "kind": kind,
            "spec": asdict(spec),
            "source": {k: v for k, v in resolved.info.items() if k != "local_path"},
            "content": content,
            "variants": variants,
            "gates": gates,
            "prompts": cfg.prompts if kind == "embed" else {},
            "data": data,
            "tools": tools,
            "code": code,
        }
    )
    export_key = cache.digest({"content": content, "tools": tools, "code": code, "data": data, "kind": kind})
    work = cfg.work_dir / kind / export_key[:16]
    if not force and cache.bundle_is_current(out, key):
        report = json.loads((out / VALIDATION_FILE).read_text(encoding="utf-8"))
        progress(f"[{kind}] {out} is up to date (build key {key[:12]}); nothing to do")
        return ModelOutcome(kind, out, True, report, time.perf_counter() - started, work)

    _prune_siblings(work)

    from edge_build.reference import reference_device

    ref_info = reference_device()
    with step(progress, f"[{kind}] loading the torch reference on {ref_info['device']}"):
        model, facts = load_model(
            kind, resolved.path, trust_remote_code=spec.trust_remote_code, device=ref_info["device"]
        )
    with step(progress, f"[{kind}] ONNX export (fp32, optimum)"):
        fp32 = export_fp32(facts, model, work / "export", trust_remote_code=spec.trust_remote_code)
    input_names, output_names = graph_io(fp32)
    output_name = OUTPUT_NAMES[kind]
    if output_name not in output_names:
        raise BuildError(f"the exported graph has outputs {output_names}, expected {output_name!r}")
    inputs = VariantInputs(work / "export", kind, input_names, facts.max_seq_length, vset.calibration)

    files: dict[str, Path] = {}
    errors: dict[str, str] = {}
    for name in variants:
        try:
            with step(progress, f"[{kind}] variant {name}"):
                files[name] = build_variant(name, inputs, work / "variants", builders)
        except BuildError as exc:
            errors[name] = str(exc)

    count = len(vset.all_embed_texts()) if kind == "embed" else len(vset.pairs)
    with step(progress, f"[{kind}] torch reference outputs ({count} inputs)"):
        reference = _reference(kind, model, vset)
    del model

    name = _model_name(resolved.info, resolved.path)
    common: dict[str, Any] = {
        "name": name,
        "facts": facts,
        "input_names": input_names,
        "output_name": output_name,
        "source": resolved.info,
        "tools": tools,
    }
    results: dict[str, dict[str, Any]] = {}
    by_digest: dict[str, str] = {}
    for variant in variants:
        if variant in errors:
            results[variant] = {"error": errors[variant], "passed": False, "size": 0, "metrics": {}}
            continue
        path = files[variant]
        entry = cache.sha256_file(path)
        result: dict[str, Any] = {"file_sha256": entry, "size": path.stat().st_size, "family": family(variant)}
        if entry in by_digest:
            twin = results[by_digest[entry]]
            result["metrics"] = dict(twin["metrics"])
            result["same_bytes_as"] = by_digest[entry]
        else:
            by_digest[entry] = variant
            staged = work / "stage" / variant
            write_bundle(
                staged,
                BundleSpec(
                    variant=variant,
                    files={MODEL_FILE: path, TOKENIZER_FILE: work / "export" / TOKENIZER_FILE},
                    extra_prompts=cfg.prompts if kind == "embed" else {},
                    **common,
                ),
            )
            with step(progress, f"[{kind}] validating {variant} through edge_encoders"):
                result["metrics"] = _validate(kind, staged, vset, reference)
        results[variant] = result

    speed_key = "texts_per_s" if kind == "embed" else "pairs_per_s"
    with step(progress, f"[{kind}] speed of {len(by_digest)} distinct variants ({speed_key}, round-robin)"):
        speeds = measure_speed(kind, {v: work / "stage" / v for v in by_digest.values()}, vset)
    for variant, result in results.items():
        if result.get("error"):
            continue
        result["metrics"][speed_key] = speeds[result.get("same_bytes_as", variant)]
        checks = gate.evaluate(kind, family(variant), result["metrics"], gates)
        result["checks"] = [{**asdict(c), "ok": c.ok} for c in checks]
        result["passed"] = all(c.ok for c in checks)
        result["reason"] = gate.failure_reason(checks)

    mark_pareto(kind, results)
    report = _report(kind, name, ref_info, gates, vset, results)
    chosen, arm = _choose(kind, results)
    if chosen is None:
        (work / VALIDATION_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        progress(format_report(report))
        raise GateFailure(
            f"no {kind} variant passed its gate, so nothing was shipped for it (table above; full report in "
            f"{work / VALIDATION_FILE}); {out} was left as it was"
        )
    report["shipped"] = chosen
    results[chosen]["shipped_as"] = MODEL_FILE
    bundle_files = {MODEL_FILE: files[chosen], TOKENIZER_FILE: work / "export" / TOKENIZER_FILE}
    arch_variants: dict[str, dict[str, str]] = {}
    if arm is not None:
        arm_file = MODEL_FILE if results[arm]["file_sha256"] == results[chosen]["file_sha256"] else ARM64_FILE
        arch_variants["aarch64"] = {"variant": arm, "file": arm_file}
        results[arm]["shipped_as"] = f"{arm_file} (aarch64)"
        if arm_file == ARM64_FILE:
            bundle_files[ARM64_FILE] = files[arm]
    if kind == "embed":
        with step(progress, f"[{kind}] calibration embeddings ({min(len(vset.calibration), CALIBRATION_LIMIT)} texts)"):
            bundle_files[CALIBRATION_FILE] = _calibration(
                work / "stage" / by_digest[results[chosen]["file_sha256"]], vset, work
            )
    report["arch_variants"] = arch_variants
    report["bundle_dir"] = str(out)
    report["build_key"] = key
    validation_path = work / VALIDATION_FILE
    validation_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    bundle_files[VALIDATION_FILE] = validation_path

    staged_final = work / "publish"
    write_bundle(
        staged_final,
        BundleSpec(
            variant=chosen,
            files=bundle_files,
            arch_variants=arch_variants,
            validation=_summary(report),
            build_key=key,
            extra_prompts=cfg.prompts if kind == "embed" else {},
            **common,
        ),
        link=False,
    )
    publish(staged_final, out)
    progress(format_report(report))
    return ModelOutcome(kind, out, False, report, time.perf_counter() - started, work)


def _prune_siblings(work: Path) -> None:
    """Keep only the current export of this model kind under the work dir (old ones are 100+ MB each)."""
    parent = work.parent
    if parent.is_dir():
        for sibling in parent.iterdir():
            if sibling.is_dir() and sibling != work:
                shutil.rmtree(sibling, ignore_errors=True)


def _reference(kind: str, model: Any, vset: ValidationSet) -> EmbedReference | RerankReference:
    from edge_build import reference

    if kind == "embed":
        return EmbedReference(reference.reference_embeddings(model, vset.all_embed_texts()))
    first = vset.rerank[0]
    first_scores = reference.reference_scores(model, [(first["query"], p) for p in first["passages"]], raw=False)
    logits = reference.reference_scores(model, vset.pairs, raw=True)
    return RerankReference(
        logits if logits.ndim == 1 else logits[:, 0],
        first_scores if first_scores.ndim == 1 else first_scores[:, 0],
    )


def _validate(kind: str, staged: Path, vset: ValidationSet, ref: Any) -> dict[str, Any]:
    try:
        if kind == "embed":
            return validate_embedder(staged, vset, ref)
        return validate_reranker(staged, vset, ref)
    except BuildError:
        raise
    except Exception as exc:
        raise BuildError(f"validating {staged.name} through the runtime failed: {type(exc).__name__}: {exc}") from None


def _speed(kind: str, result: dict[str, Any]) -> float:
    return float(result["metrics"].get("texts_per_s" if kind == "embed" else "pairs_per_s", 0.0))


def _choose(kind: str, results: dict[str, dict[str, Any]]) -> tuple[str | None, str | None]:
    """The fastest passing variant for x86 (arm64 excluded: it is the aarch64 choice) and the arm64 one."""
    passing = [v for v, r in results.items() if r.get("passed") and v != ARM64_VARIANT]
    chosen = max(passing, key=lambda v: _speed(kind, results[v])) if passing else None
    arm = ARM64_VARIANT if results.get(ARM64_VARIANT, {}).get("passed") else None
    return chosen, arm


def fidelity(kind: str, result: dict[str, Any]) -> float:
    """The fidelity axis of the Pareto front: tune-part cosine min (embed) or Spearman mean (rerank)."""
    return float(result["metrics"]["tune"]["cos_min" if kind == "embed" else "spearman_mean"])


def mark_pareto(kind: str, results: dict[str, dict[str, Any]]) -> None:
    """result['pareto'] = True where no other variant is at least as fast and as faithful, and better in one."""
    measured = {v: r for v, r in results.items() if not r.get("error") and "tune" in r.get("metrics", {})}
    for variant, result in results.items():
        if variant not in measured:
            result["pareto"] = False
            continue
        f, sp = fidelity(kind, result), _speed(kind, result)
        result["pareto"] = not any(
            fidelity(kind, o) >= f and _speed(kind, o) >= sp and (fidelity(kind, o) > f or _speed(kind, o) > sp)
            for v, o in measured.items()
            if v != variant
        )


def _calibration(staged: Path, vset: ValidationSet, work: Path) -> Path:
    """Pooled, un-normalized embeddings of the calibration text, computed by the runtime with the shipped model."""
    from edge_encoders import Embedder

    texts = vset.calibration[:CALIBRATION_LIMIT] or vset.embed_texts
    vectors = Embedder.from_bundle(staged).embed(texts, normalize=False)
    path = work / CALIBRATION_FILE
    np.save(path, vectors.astype(np.float32))
    return path


def _notes(kind: str, results: dict[str, dict[str, Any]]) -> list[str]:
    notes = []
    arm = results.get(ARM64_VARIANT)
    if arm and not arm.get("error"):
        twin = f"; its file is byte-identical to {arm['same_bytes_as']}" if arm.get("same_bytes_as") else ""
        notes.append(
            "int8-arm64 was validated on this x86 host with the same quantized graph a Graviton runs "
            f"(onnxruntime's arm64 kernels may differ slightly){twin}"
        )
    static = results.get("int8-static")
    dynamic = [v for v in ("int8-avx512_vnni", "int8-avx2") if results.get(v, {}).get("metrics")]
    if static and static.get("metrics") and dynamic:
        d = results[dynamic[0]]["metrics"]
        s = static["metrics"]
        if kind == "embed":
            inv, fid, speed = "batch_invariance_cos_min", "cos_mean", "texts_per_s"
        else:
            inv, fid, speed = "batch_invariance_max_abs_diff", "spearman_mean", "pairs_per_s"
        notes.append(
            f"static int8 vs dynamic ({dynamic[0]}): batch invariance {s[inv]:.6f} vs {d[inv]:.6f} ({inv}); "
            f"{fid} {s[fid]:.4f} vs {d[fid]:.4f}; speed {s[speed]:.0f} vs {d[speed]:.0f} per s"
        )
    return notes


def _report(
    kind: str,
    name: str,
    ref_info: dict[str, Any],
    gates: dict[str, float],
    vset: ValidationSet,
    results: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    return {
        "kind": kind,
        "name": name,
        "reference": ref_info,
        "gates": {k: v for k, v in gates.items() if k.startswith(kind + "_")},
        "validation_set": vset.fingerprint(),
        "selection": (
            "fastest variant whose gate holds on both the tune and the held-out part, by throughput measured on "
            "this build host; failures never ship"
        ),
        "pareto": {
            "fidelity": "tune cos_min" if kind == "embed" else "tune spearman_mean",
            "speed": "texts_per_s" if kind == "embed" else "pairs_per_s",
            "front": [v for v, r in results.items() if r.get("pareto")],
        },
        "variants": results,
        "notes": _notes(kind, results),
        "shipped": None,
    }


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    """The manifest's short version of validation.json."""
    shipped = report["shipped"]
    return {
        "passed": True,
        "reference": report["reference"],
        "gates": report["gates"],
        "validation_set": report["validation_set"],
        "shipped": shipped,
        "metrics": report["variants"][shipped]["metrics"],
        "variants": {
            v: {"passed": r.get("passed", False), "reason": r.get("error") or r.get("reason", "")}
            for v, r in report["variants"].items()
        },
        "arch_variants": report.get("arch_variants", {}),
    }


def run_export(
    cfg: BuildConfig,
    *,
    kinds: tuple[str, ...] = ("embed", "rerank"),
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
