"""8-bit block-quantized weights run by onnxruntime's MatMulNBits (com.microsoft), written without onnx_ir.

Why: with accuracy_level 4 the kernel quantizes the activations per block of each row itself, so the output
does not depend on the other rows of the batch, and the whole chain is one fused op. Weights are symmetric
int8 per block of `block_size` input channels, stored as uint8 with the default zero point 128.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_build.rowquant import MS_DOMAIN, weight_matmuls


def pack_blocks(w: np.ndarray, block_size: int) -> tuple[np.ndarray, np.ndarray]:
    """w (K, N) float -> (uint8 (N, blocks, block_size), float scales (N, blocks)), symmetric, zero point 128."""
    k, n = w.shape
    blocks = -(-k // block_size)
    padded = np.zeros((blocks * block_size, n), np.float32)
    padded[:k] = w
    cols = padded.T.reshape(n, blocks, block_size)
    scales = np.maximum(np.abs(cols).max(axis=2), 1e-12) / 127.0
    q = np.clip(np.rint(cols / scales[:, :, None]), -127, 127) + 128
    return q.astype(np.uint8), scales.astype(np.float32)


def build_nbits8(fp32_path: Path, out_path: Path, *, block_size: int = 32, accuracy_level: int = 4) -> None:
    """Replace every weight MatMul of the fp32 graph by MatMulNBits(bits=8) and save."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(fp32_path))
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    replaced = {}
    new_inits = []
    for m in weight_matmuls(model):
        w = numpy_helper.to_array(inits[m.weight]).astype(np.float32)
        q, scales = pack_blocks(w, block_size)
        qn, sn = f"{m.weight}_nbits8_q", f"{m.weight}_nbits8_scales"
        new_inits += [numpy_helper.from_array(q, qn), numpy_helper.from_array(scales.reshape(-1), sn)]
        replaced[m.node_name] = helper.make_node(
            "MatMulNBits",
            [m.activation, qn, sn],
            [m.output],
            name=f"{m.node_name}_nbits8",
            domain=MS_DOMAIN,
            K=w.shape[0],
            N=w.shape[1],
            bits=8,
            block_size=block_size,
            accuracy_level=accuracy_level,
        )
    nodes = [replaced.get(node.name, node) for node in graph.node]
    del graph.node[:]
    graph.node.extend(nodes)
    used = {i for node in graph.node for i in node.input}
    kept = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept + new_inits)
    if not any(o.domain == MS_DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    onnx.save(model, str(out_path))
