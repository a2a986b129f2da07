"""int8 attention products (attnquant) on a toy attention block shaped like int8-hybrid-fused's.

x -> QuantizeLinear (one static scale) -> Q/K/V as MatMulIntegerToFloat with the bias inside -> Reshape/Transpose
-> q @ k^T + mask -> Softmax -> @ v -> context. The rewrite must keep the block's output close (constant scales,
calibrated), keep q . k exact under the channel equalization, and stay batch-invariant bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from edge_build import attnquant  # noqa: E402

HIDDEN, HEADS, HEAD_DIM = 32, 2, 16


def _toy(rng: np.random.Generator) -> object:
    from onnx import TensorProto, helper, numpy_helper

    init = {
        "x_scale": np.array(0.05, np.float32),
        "x_zero": np.array(128, np.uint8),
        "w_zero": np.array(0, np.int8),
        "shape4": np.array([0, -1, HEADS, HEAD_DIM], np.int64),
        "shape3": np.array([0, -1, HIDDEN], np.int64),
    }
    nodes = [helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zero"], ["xq"], name="x_quant")]
    for p in ("q", "k", "v"):
        init[f"W{p}"] = rng.integers(-127, 128, size=(HIDDEN, HIDDEN), dtype=np.int8)
        init[f"s{p}"] = (rng.random(HIDDEN) * 0.004 + 0.001).astype(np.float32)
        if p in "qk":
            init[f"s{p}"] *= 0.25  # scores of a few units, as after the 1/sqrt(head_dim) scale
        init[f"b{p}"] = (rng.normal(size=HIDDEN) * 0.1).astype(np.float32)
        if p == "k":
            init["sk"][3] *= 8.0  # an outlier key channel: what the equalization is for
        perm = [0, 2, 3, 1] if p == "k" else [0, 2, 1, 3]
        nodes += [
            helper.make_node(
                "MatMulIntegerToFloat",
                ["xq", f"W{p}", "x_scale", f"s{p}", "x_zero", "w_zero", f"b{p}"],
                [f"{p}o"],
                name=f"{p}_gemm",
                domain="com.microsoft",
            ),
            helper.make_node("Reshape", [f"{p}o", "shape4"], [f"{p}r"], name=f"{p}_reshape"),
            helper.make_node("Transpose", [f"{p}r"], [f"{p}t"], name=f"{p}_transpose", perm=perm),
        ]
    nodes += [
        helper.make_node("MatMul", ["qt", "kt"], ["scores"], name="scores"),
        helper.make_node("Add", ["scores", "mask"], ["masked"], name="mask_add"),
        helper.make_node("Softmax", ["masked"], ["probs"], name="softmax", axis=-1),
        helper.make_node("MatMul", ["probs", "vt"], ["ctx"], name="context"),
        helper.make_node("Transpose", ["ctx"], ["ctxt"], name="ctx_transpose", perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["ctxt", "shape3"], ["y"], name="ctx_reshape"),
    ]
    graph = helper.make_graph(
        nodes,
        "attention",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq", HIDDEN]),
            helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["batch", 1, 1, "seq"]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "seq", HIDDEN])],
        [numpy_helper.from_array(v, k) for k, v in init.items()],
    )
    opsets = [helper.make_opsetid("", 21), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 10
    return model


def _feeds(rng: np.random.Generator, batch: int, seq: int, padded: int = 0) -> dict[str, np.ndarray]:
    mask = np.zeros((batch, 1, 1, seq), np.float32)
    if padded:
        mask[0, ..., seq - padded :] = np.finfo(np.float32).min  # the first text is shorter than the others
    return {"x": rng.normal(size=(batch, seq, HIDDEN)).astype(np.float32), "mask": mask}


def _run(model: object, feeds: dict[str, np.ndarray]) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])  # type: ignore[attr-defined]
    return session.run(["y"], feeds)[0]


def _quantized(rng: np.random.Generator, **which: bool) -> tuple[object, object, int]:
    base = _toy(rng)
    model = onnx.ModelProto()
    model.CopyFrom(base)
    calibration = [_feeds(rng, 1, 8) for _ in range(32)]
    return base, model, attnquant.quantize_attention(model, iter(calibration), **which)


def test_both_products_become_int8_gemms_close_to_the_fp32_block() -> None:
    rng = np.random.default_rng(0)
    base, model, count = _quantized(rng)
    assert count == 1
    ops = [n.op_type for n in model.graph.node]  # type: ignore[attr-defined]
    assert "MatMul" not in ops and ops.count("MatMulIntegerToFloat") == 5 and ops.count("QuantizeLinear") == 5
    feeds = _feeds(rng, 3, 8, padded=3)
    want, got = _run(base, feeds), _run(model, feeds)
    assert np.abs(got - want).max() / np.abs(want).max() < 0.05  # calibrated constant scales: int8 error only
    assert np.isfinite(got).all()


def test_scores_only_keeps_q_dot_k_up_to_int8_rounding() -> None:
    """The channel equalization (q * e, k / e) leaves q . k unchanged: with the scores alone in int8 the error is
    the Q/K grid's, and the context product stays an fp32 MatMul."""
    rng = np.random.default_rng(1)
    base, model, count = _quantized(rng, context=False)
    assert count == 1
    ops = [n.op_type for n in model.graph.node]  # type: ignore[attr-defined]
    assert ops.count("MatMul") == 1 and ops.count("MatMulIntegerToFloat") == 4
    feeds = _feeds(rng, 2, 8)
    want, got = _run(base, feeds), _run(model, feeds)
    assert np.abs(got - want).max() / np.abs(want).max() < 0.05


def test_int8_attention_is_batch_invariant() -> None:
    rng = np.random.default_rng(2)
    _, model, _ = _quantized(rng)
    feeds = _feeds(rng, 4, 8, padded=3)
    batched = _run(model, feeds)
    for i in range(4):
        length = 5 if i == 0 else 8  # the padded text alone, at its own length
        alone = _run(model, {"x": feeds["x"][i : i + 1, :length], "mask": feeds["mask"][i : i + 1, ..., :length]})
        np.testing.assert_array_equal(alone[0], batched[i, :length])


def test_a_graph_without_the_pattern_is_unchanged() -> None:
    """A scale Mul between the projection and the product (the unfused torch export) is not the pattern."""
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(3)
    model = _toy(rng)
    graph = model.graph  # type: ignore[attr-defined]
    graph.initializer.append(numpy_helper.from_array(np.array(0.5, np.float32), "half"))
    scores = next(n for n in graph.node if n.name == "scores")
    scores.input[0] = "q_scaled"
    graph.node.insert(list(graph.node).index(scores), helper.make_node("Mul", ["qt", "half"], ["q_scaled"]))
    before = model.SerializeToString()  # type: ignore[attr-defined]
    assert attnquant.quantize_attention(model, iter([_feeds(rng, 1, 8)])) == 0
    assert model.SerializeToString() == before  # type: ignore[attr-defined]
