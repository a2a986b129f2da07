"""The systems compared: edge_encoders on each bundle, and its peers (sentence-transformers on torch and on
its ONNX backend, fastembed, CrossEncoder) on the same model files, each as a spec bench.systems can load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.bundles import rel
from bench.layouts import fastembed_folder, st_onnx_folder

RERANK_TYPES = ("edge-rerank", "ce-torch")


def plan_systems(
    bundles: dict[str, Path],
    manifests: dict[str, Any],
    minilm: Path,
    ce: dict[str, Any],
    policy: dict[str, int],
    work: Path,
    *,
    extra_files: bool,
) -> dict[str, dict[str, Any]]:
    """Every system keyed by its results key, with a label, the model file it runs ("int8", "O3", "rerank",
    "rerank_fp32" or None for safetensors) and its spec; peers get folders laid out under `work`."""
    max_len = int(manifests["int8"]["max_seq_length"])
    files = model_files(bundles, manifests)
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
    for tag in ("int8", "O3") if extra_files else ("int8",):
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
    # the same two bundles with the Lambda image's settings (spinning off): there `auto` follows each bundle's run
    # hint (the build measured sequential vs concurrent micro-batches), so the int8-vs-fp32 ratio the function
    # gets is measured too, not only the server image's (spinning on: sequential)
    for key in ("edge-rerank", "edge-rerank-fp32"):
        if key in systems:
            base = systems[key]
            systems[f"{key}-lambda"] = {
                "label": f"{base['label']} (Lambda settings: spinning off, run hint)",
                "file": base["file"],
                "spec": base["spec"] | {"spinning": False},
            }
    ce_spec = {"type": "ce-torch", "model": ce["model"]} | ({"num_labels": 1} if ce.get("num_labels") else {})
    systems["ce-torch"] = {"label": "CrossEncoder torch", "file": None, "spec": ce_spec}
    for s in systems.values():
        s["task"] = "rerank" if s["spec"]["type"] in RERANK_TYPES else "embed"
    return systems


def model_files(bundles: dict[str, Path], manifests: dict[str, Any]) -> dict[str, Path]:
    """The ONNX file of each embed bundle: the file the edge systems load and the peers are handed."""
    return {k: bundles[k] / manifests[k]["model_file"] for k in ("int8", "O3")}


def file_labels(origin: dict[str, Path], manifests: dict[str, Any]) -> dict[str | None, str]:
    """How the report names each system's model file: the bundle it came from (not the snapshot) and variant."""
    variant = {k: m["variant"] for k, m in manifests.items()}
    return {
        "int8": f"{rel(origin['int8'])}/{manifests['int8']['model_file']} ({variant['int8']})",
        "O3": f"{rel(origin['O3'])}/{manifests['O3']['model_file']} ({variant['O3']})",
        "rerank": f"{rel(origin['rerank'])}/{manifests['rerank']['model_file']} ({variant['rerank']})",
        "rerank_fp32": f"{rel(origin.get('rerank_fp32', Path('-')))}/model.onnx (fp32)",
        None: "safetensors (torch)",
    }
