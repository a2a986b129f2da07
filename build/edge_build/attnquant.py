"""int8 attention (QK^T and softmax(.)V as MatMulIntegerToFloat) with constant scales, after hybridfuse.

Why: in int8-hybrid-fused the two attention products stay fp32 MatMuls on fp32 Q/K/V moved by three fp32
Transposes. onnxruntime 1.32's u8 x s8 kernel runs the batched (B, heads, L, 32) products about 2x faster, and a
uint8/int8 Transpose moves a quarter of the bytes. What it costs per layer: a QuantizeLinear per Q, K, V and one
on the softmax probabilities.

Batch invariance decides the scales. A per-row scale for the keys or values would sit on the reduction axis
(one scale per key token) and needs extra passes; so every scale here is a constant: Q, K and V one calibrated
scale per tensor (max |x| on the calibration texts, like int8-hybrid's LayerNorm outputs), the probabilities
1/255 with zero point 0 (they lie in [0, 1]). Before the Q/K scales are read, each channel pair is equalized:
q_c * e_c and k_c / e_c with e_c = sqrt(max|k_c| / max|q_c|) leave q . k unchanged and give both tensors the same
per-channel range, so one scale wastes less of the grid; e goes into the Q and K GEMMs' column scales and biases.
Constants only: a text's vector does not depend on the rest of the batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_build.hybridfuse import _Graph, _rebuild

PROB_SCALE = 1.0 / 255.0  # softmax probabilities in [0, 1] -> uint8 0..255


@dataclass
class _Layer:
    """One attention block's nodes: the Q/K/V GEMMs (MatMulIntegerToFloat with bias), the two products."""

    q_gemm: Any
    k_gemm: Any
    v_gemm: Any
    scores: Any  # MatMul(q in (batch, heads, seq, dim), k^T)
    context: Any  # MatMul(softmax, v)
    softmax: Any


def _gemm_behind(g: _Graph, name: str, perm: list[int]) -> Any:
    """The MatMulIntegerToFloat (bias inside) behind Transpose(perm) <- Reshape <- it, each read once; else None."""
    from onnx import helper

    transpose = g.producer.get(name)
    if transpose is None or transpose.op_type != "Transpose" or g.only_consumer(name) is None:
        return None
    got = next((helper.get_attribute_value(a) for a in transpose.attribute if a.name == "perm"), None)
    if list(got or []) != perm:
        return None
    reshape = g.producer.get(transpose.input[0])
    if reshape is None or reshape.op_type != "Reshape" or g.only_consumer(reshape.output[0]) is None:
        return None
    gemm = g.producer.get(reshape.input[0])
    if gemm is None or gemm.op_type != "MatMulIntegerToFloat" or g.only_consumer(gemm.output[0]) is None:
        return None
    if len(gemm.input) < 7 or gemm.input[3] not in g.inits or gemm.input[6] not in g.inits:
        return None
    return gemm


def find_layers(model: object) -> list[_Layer]:
    """Softmax(MatMul(q, k^T) + mask) @ v blocks whose Q, K and V come straight from bias-inside int8 GEMMs."""
    g = _Graph(model)
    layers = []
    for softmax in [n for n in g.graph.node if n.op_type == "Softmax"]:
        add = g.producer.get(softmax.input[0])
        if add is None or add.op_type != "Add" or g.only_consumer(add.output[0]) is None:
            continue
        scores = next((g.producer[i] for i in add.input if g.op(i) == "MatMul"), None)
        context: Any = g.only_consumer(softmax.output[0])
        if scores is None or context is None or context.op_type != "MatMul":
            continue
        if context.input[0] != softmax.output[0]:
            continue
        q = _gemm_behind(g, scores.input[0], [0, 2, 1, 3])
        k = _gemm_behind(g, scores.input[1], [0, 2, 3, 1])
        v = _gemm_behind(g, context.input[1], [0, 2, 1, 3])
        if q is None or k is None or v is None:
            continue
        layers.append(_Layer(q, k, v, scores, context, softmax))
    return layers


def channel_maxima(model: object, names: list[str], feeds: Iterable[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """max |x| per last-axis channel of each named tensor over the feeds (one onnxruntime run per feed)."""
    from edge_build.graph_probe import session_with_outputs

    session = session_with_outputs(model, names, threads=None)
    maxima: dict[str, np.ndarray] = {}
    for feed in feeds:
        for name, value in zip(names, session.run(names, feed), strict=True):
            m = np.abs(value.reshape(-1, value.shape[-1])).max(axis=0)
            maxima[name] = m if name not in maxima else np.maximum(maxima[name], m)
    if not maxima:
        raise ValueError("int8 attention needs calibration inputs (none given)")
    return maxima


def quantize_attention(
    model: object, feeds: Iterable[dict[str, np.ndarray]], *, scores: bool = True, context: bool = True
) -> int:
    """Rewrite every matching attention block in place (see the module docstring); returns how many.

    scores / context: which of the two products goes int8 (q @ k^T; softmax @ v).
    """
    from onnx import helper, numpy_helper

    layers = find_layers(model)
    if not layers:
        return 0
    names = [n for lay in layers for n in (lay.q_gemm.output[0], lay.k_gemm.output[0], lay.v_gemm.output[0])]
    maxima = channel_maxima(model, names, feeds)
    g = _Graph(model)
    inits = g.graph.initializer
    add_before: dict[str, list[Any]] = {}
    remove: list[Any] = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(value, name))
        return name

    zero_u8 = const("attnq_zero_u8", np.array(0, np.uint8))
    mid_u8 = const("attnq_mid_u8", np.array(128, np.uint8))
    zero_s8 = const("attnq_zero_s8", np.array(0, np.int8))
    prob_scale = const("attnq_prob_scale", np.array(PROB_SCALE, np.float32))
    for i, lay in enumerate(layers):
        q_out, k_out, v_out = (n.output[0] for n in (lay.q_gemm, lay.k_gemm, lay.v_gemm))
        qmax, kmax = np.maximum(maxima[q_out], 1e-6), np.maximum(maxima[k_out], 1e-6)
        e = np.sqrt(kmax / qmax).astype(np.float32)
        for gemm, factor in ((lay.q_gemm, e), (lay.k_gemm, 1.0 / e)) if scores else ():
            for slot in (3, 6):
                old = numpy_helper.to_array(g.inits[gemm.input[slot]])
                gemm.input[slot] = const(f"attnq_{i}_{gemm.name}_{slot}", (old * factor).astype(np.float32))
        qk_range = float(np.max(qmax * e))  # = max over c of sqrt(qmax_c * kmax_c), the same for K after 1/e
        scales = {
            q_out: (const(f"attnq_{i}_q_scale", np.array(qk_range / 127, np.float32)), mid_u8),
            k_out: (const(f"attnq_{i}_k_scale", np.array(qk_range / 127, np.float32)), zero_s8),
            v_out: (const(f"attnq_{i}_v_scale", np.array(float(maxima[v_out].max()) / 127, np.float32)), zero_s8),
        }
        wanted = ([q_out, k_out] if scores else []) + ([v_out] if context else [])
        for tensor, (scale, zp) in ((t, scales[t]) for t in wanted):
            reshape: Any = g.only_consumer(tensor)
            quantized = f"attnq_{i}_{tensor}_q"
            node = helper.make_node("QuantizeLinear", [tensor, scale, zp], [quantized], name=quantized)
            add_before.setdefault(reshape.name, []).append(node)
            reshape.input[0] = quantized
        probs_q = f"attnq_{i}_probs_q"
        scores_out, context_out = lay.scores.output[0], lay.context.output[0]
        new_scores = helper.make_node(
            "MatMulIntegerToFloat",
            [*lay.scores.input[:2], scales[q_out][0], scales[k_out][0], mid_u8, zero_s8],
            [scores_out],
            name=f"attnq_{i}_scores",
            domain="com.microsoft",
        )
        if scores:
            add_before.setdefault(lay.scores.name, []).append(new_scores)
            remove.append(lay.scores)
        if not context:
            continue
        add_before.setdefault(lay.context.name, []).extend(
            [
                helper.make_node(
                    "QuantizeLinear", [lay.softmax.output[0], prob_scale, zero_u8], [probs_q], name=probs_q
                ),
                helper.make_node(
                    "MatMulIntegerToFloat",
                    [probs_q, lay.context.input[1], prob_scale, scales[v_out][0], zero_u8, zero_s8],
                    [context_out],
                    name=f"attnq_{i}_context",
                    domain="com.microsoft",
                ),
            ]
        )
        remove.append(lay.context)
    _rebuild(model, remove, add_before)
    return len(layers)
