"""Opening a bundle folder: manifest, file digests, tokenizer and onnxruntime session, checked together."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import onnxruntime as ort

from edge_encoders import load_cache
from edge_encoders.errors import BundleError
from edge_encoders.manifest import Manifest, read_manifest, verify_files
from edge_encoders.scheduling import RunPlan, choose_run_plan
from edge_encoders.session import SessionConfig, available_cpus, create_session, run_options
from edge_encoders.text_tokenizer import TextTokenizer, TokenizerCache

log = logging.getLogger("edge_encoders")


@dataclass
class LoadedBundle:
    """What every model class needs from a bundle folder, verified."""

    path: Path
    manifest: Manifest
    variant: str
    model_file: str
    tokenizer: TextTokenizer
    session: ort.InferenceSession
    load_seconds: float
    run_plan: RunPlan
    extra: dict[str, Path] = field(default_factory=dict)
    run_options: ort.RunOptions | None = None


def open_bundle(
    bundle_dir: str | Path,
    *,
    expected_kind: str,
    session_config: SessionConfig | None = None,
    verify: bool = True,
    machine: str | None = None,
    tokenizers: TokenizerCache | None = None,
) -> LoadedBundle:
    """Read the manifest, verify the files this process will load, open tokenizer and session.

    tokenizers: shared with the other bundles loaded with the same cache (one tokenizer for equal ones).
    """
    started = time.perf_counter()
    path = Path(bundle_dir)
    manifest = read_manifest(path)
    # The one comparison of family names outside the registry: does the bundle match the class opening it.
    if manifest.kind != expected_kind:
        raise BundleError(f"{path} is a {manifest.kind!r} bundle, expected {expected_kind!r}")
    variant, model_file = manifest.model_for_machine(machine)
    needed = [model_file, manifest.tokenizer_file]
    if manifest.calibration_file:
        needed.append(manifest.calibration_file)
    if verify:
        verify_files(path, manifest, needed)
    parts = load_cache.tokenizer_parts(path, manifest, verify=verify)  # split at image build: faster to load
    if tokenizers is None:
        tokenizer = TextTokenizer(path / manifest.tokenizer_file, manifest.max_seq_length, parts=parts)
    else:
        key = load_cache.tokenizer_key(path, manifest)
        tokenizer = tokenizers.get(key, path / manifest.tokenizer_file, manifest.max_seq_length, parts=parts)
    requested = session_config or SessionConfig()
    threads = requested.intra_op_threads or available_cpus()
    plan = choose_run_plan(requested.run_mode, manifest.run_hints, variant, threads, requested.allow_spinning)
    config = replace(requested, intra_op_threads=plan.intra_op_threads, allow_spinning=plan.allow_spinning)
    optimized = load_cache.find(path, manifest, model_file, verify=verify)
    if optimized is not None:  # optimized at image build: skip onnxruntime's graph optimization now
        session = create_session(optimized, replace(config, graph_optimization="disabled"))
    else:
        session = create_session(path / model_file, config)
    graph_inputs = {i.name for i in session.get_inputs()}
    missing = [name for name in manifest.input_names if name not in graph_inputs]
    if missing:
        raise BundleError(f"{path}/{model_file}: graph has no input(s) {missing} named in the manifest")
    if manifest.output_name not in {o.name for o in session.get_outputs()}:
        raise BundleError(f"{path}/{model_file}: graph has no output {manifest.output_name!r}")
    seconds = time.perf_counter() - started
    log.info(
        "loaded %s bundle %s (variant %s, micro-batches %s x%d) in %.3f s",
        manifest.kind,
        path,
        variant,
        plan.mode,
        plan.workers,
        seconds,
    )
    return LoadedBundle(
        path, manifest, variant, model_file, tokenizer, session, seconds, plan, run_options=run_options(config)
    )


def run_session(bundle: LoadedBundle, feeds: dict[str, np.ndarray]) -> np.ndarray:
    """One onnxruntime call returning the manifest's output."""
    (output,) = bundle.session.run([bundle.manifest.output_name], feeds, bundle.run_options)
    return np.asarray(output)
