"""FLOPs of a BERT-style encoder and the padded work of micro-batches (pure, tested).

Estimate: every token goes through each dense layer (Q, K, V, attention output, FFN up and down), 2*K*N FLOPs
per token per weight matrix [K, N]; those weights are read from the graph (MatMul/Gemm/Attention and their
quantized forms whose weight input is an initializer). Attention itself adds QK^T and softmax(QK^T)V:
4 * L^2 * hidden FLOPs per sequence of padded width L per layer. Softmax, layer norms, GELU and embedding
lookups are ignored (under 2% here). Padded positions are computed too: "hardware" FLOPs count them,
"useful" FLOPs count real tokens only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from edge_encoders.batching import BatchPolicy, plan_batches

# ops whose input 1 is a dense weight [K, N] (or [N, K] for Gemm with transB; the product is what counts)
_WEIGHT_OPS = {
    "MatMul",
    "Gemm",
    "MatMulInteger",
    "MatMulIntegerToFloat",
    "DynamicQuantizeMatMul",
    "Attention",
    "QAttention",
    "FusedMatMul",
    "QLinearMatMul",
}


@dataclass(frozen=True)
class ModelFlops:
    """Per-token dense FLOPs, the layer count and the hidden size of an encoder graph."""

    dense_per_token: float
    layers: int
    hidden: int

    def batch_flops(self, rows: int, width: int) -> float:
        """FLOPs of one padded batch of `rows` sequences of width `width`."""
        tokens = rows * width
        return tokens * self.dense_per_token + self.layers * 4.0 * rows * width * width * self.hidden

    def useful_flops(self, lengths: Iterable[int]) -> float:
        """FLOPs if every sequence ran alone, unpadded."""
        return sum(self.batch_flops(1, n) for n in lengths)


def count_model_flops(model_path: str | Path, hidden: int) -> ModelFlops:
    """Read dense weights from the graph; layers = fused Attention nodes, else activation x activation MatMuls / 2."""
    import onnx

    model = onnx.load(str(model_path), load_external_data=False)
    graph = model.graph
    shapes = {init.name: list(init.dims) for init in graph.initializer}
    dense = 0.0
    attention_nodes = 0
    dynamic_matmuls = 0
    for node in graph.node:
        if node.op_type not in _WEIGHT_OPS:
            continue
        if node.op_type in ("Attention", "QAttention"):
            attention_nodes += 1
        weight = node.input[1] if len(node.input) > 1 else ""
        dims = shapes.get(weight)
        if dims is not None and len(dims) == 2:
            dense += 2.0 * dims[0] * dims[1]
        elif node.op_type in ("MatMul", "FusedMatMul") and node.input[0] not in shapes:
            dynamic_matmuls += 1
    layers = attention_nodes or dynamic_matmuls // 2
    return ModelFlops(dense_per_token=dense, layers=layers, hidden=hidden)


def edge_batches(lengths: Sequence[int], call_size: int, policy: BatchPolicy) -> list[tuple[int, int]]:
    """(rows, padded width) of every onnxruntime call edge_encoders makes for calls of `call_size` texts."""
    out: list[tuple[int, int]] = []
    for start in range(0, len(lengths), call_size):
        call = list(lengths[start : start + call_size])
        for indices in plan_batches(call, policy):
            out.append((len(indices), max(max(1, call[i]) for i in indices)))
    return out


def single_batches(lengths: Sequence[int], call_size: int) -> list[tuple[int, int]]:
    """One padded batch per call: what sentence-transformers and fastembed do when batch_size == call size."""
    return [
        (len(lengths[s : s + call_size]), max(lengths[s : s + call_size])) for s in range(0, len(lengths), call_size)
    ]


def padding_ratio(batches: Sequence[tuple[int, int]], lengths: Sequence[int]) -> float:
    """Padded tokens / real tokens (1.0 = no padding)."""
    return sum(r * w for r, w in batches) / max(1, sum(lengths))
