"""Where a cold start's time goes, measured inside the image (or any task root): imports, digest checks,
session creation (with and without graph optimization at load), tokenizer load (from tokenizer.json and from the
parts the image build splits it into), warm-up, first request.

    podman run --rm -i --entrypoint python3.12 -e PYTHONPATH=/var/task edge-encoders:x86_64 - < scripts/init_profile.py

Prints one JSON object (milliseconds). Each import is timed in dependency order, so a line counts only what
the lines before it had not already loaded.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

T0 = time.perf_counter()


def _process_age_ms() -> float | None:
    try:
        with open("/proc/self/stat") as stat, open("/proc/uptime") as uptime:
            ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
            now = float(uptime.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return round((now - ticks / os.sysconf("SC_CLK_TCK")) * 1000, 1)


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


out: dict[str, object] = {"interpreter_start_ms": _process_age_ms()}
imports: dict[str, float] = {}
imports_cpu: dict[str, float] = {}  # CPU time: what contention on a shared host inflates far less than wall time
for module in ("numpy", "onnxruntime", "tokenizers", "pydantic", "fastapi", "mangum", "edge_encoders", "handler.app"):
    started, cpu = time.perf_counter(), time.process_time()
    __import__(module)
    imports[module] = _ms(started)
    imports_cpu[module] = round((time.process_time() - cpu) * 1000, 1)
out["imports_ms"] = imports
out["imports_total_ms"] = round(sum(imports.values()), 1)
out["imports_cpu_ms"] = imports_cpu
out["imports_total_cpu_ms"] = round(sum(imports_cpu.values()), 1)

import onnxruntime as ort  # noqa: E402

from edge_encoders import Embedder, Reranker, load_cache  # noqa: E402
from edge_encoders.manifest import read_manifest, verify_files  # noqa: E402
from edge_encoders.session import SessionConfig, available_cpus  # noqa: E402
from edge_encoders.text_tokenizer import TextTokenizer  # noqa: E402

bundles = {
    "embed": os.environ.get("EDGE_EMBED_BUNDLE", "bundles/embed"),
    "rerank": os.environ.get("EDGE_RERANK_BUNDLE", "bundles/rerank"),
}
out["threads"] = available_cpus()
for kind, path in bundles.items():
    figures: dict[str, float] = {}
    manifest = read_manifest(path)
    _, model_file = manifest.model_for_machine()
    started = time.perf_counter()
    verify_files(path, manifest)
    figures["verify_sha256_ms"] = _ms(started)
    model = os.path.join(path, model_file)
    for level in ("all", "disabled"):
        options = ort.SessionOptions()
        options.intra_op_num_threads = available_cpus()
        options.graph_optimization_level = {
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
            "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        }[level]
        started = time.perf_counter()
        ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
        figures[f"session_{level}_ms"] = _ms(started)
    # The same graph optimized once and saved with its weights inside, then loaded without optimizing.
    with tempfile.TemporaryDirectory() as tmp:
        optimized = os.path.join(tmp, "optimized.onnx")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        options.optimized_model_filepath = optimized
        ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
        options = ort.SessionOptions()
        options.intra_op_num_threads = available_cpus()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        started = time.perf_counter()
        ort.InferenceSession(optimized, sess_options=options, providers=["CPUExecutionProvider"])
        figures["session_preoptimized_extended_ms"] = _ms(started)
    # What the image ships (edge_encoders.load_cache): that graph with its weights in a data file onnxruntime maps.
    cached = load_cache.find(Path(path), manifest, model_file, verify=False)
    if cached is not None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = available_cpus()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        started = time.perf_counter()
        ort.InferenceSession(str(cached), sess_options=options, providers=["CPUExecutionProvider"])
        figures["session_load_cache_ms"] = _ms(started)
    started = time.perf_counter()
    TextTokenizer(os.path.join(path, manifest.tokenizer_file), manifest.max_seq_length)
    figures["tokenizer_ms"] = _ms(started)
    # What the image ships (edge_encoders.wordpiece_parts): the same tokenizer from its vocabulary and the rest.
    parts = load_cache.tokenizer_parts(Path(path), manifest, verify=False)
    if parts is not None:
        started = time.perf_counter()
        TextTokenizer(os.path.join(path, manifest.tokenizer_file), manifest.max_seq_length, parts=parts)
        figures["tokenizer_from_parts_ms"] = _ms(started)
    cls = Embedder if kind == "embed" else Reranker
    started = time.perf_counter()
    loaded = cls.from_bundle(path, session_config=SessionConfig(), verify=False, warmup=False)
    figures["from_bundle_no_verify_no_warmup_ms"] = _ms(started)
    started = time.perf_counter()
    if isinstance(loaded, Embedder):
        loaded.embed(["warm-up"])
        figures["first_call_ms"] = _ms(started)
        started = time.perf_counter()
        loaded.embed(["a second short text"])
    else:
        loaded.rerank("warm-up", ["a document"])
        figures["first_call_ms"] = _ms(started)
        started = time.perf_counter()
        loaded.rerank("a second query", ["another document"])
    figures["second_call_ms"] = _ms(started)
    out[kind] = figures
out["script_total_ms"] = _ms(T0)
print(json.dumps(out, indent=1))
