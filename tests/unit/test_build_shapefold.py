"""Constant Reshape targets (shapefold): the head split and merge as torch exports them, shapes from Shape nodes."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from edge_build import shapefold  # noqa: E402

HIDDEN, HEADS, HEAD_DIM = 32, 2, 16


def _toy() -> object:
    """x (batch, seq, HIDDEN) -> Reshape to (batch, -1, HEADS, HEAD_DIM) -> Transpose -> * 2 -> Transpose back ->
    Reshape to (batch, seq, HIDDEN), both targets built at run time from Shape(x) as torch's export does."""
    from onnx import TensorProto, helper, numpy_helper

    init = {
        "i0": np.array(0, np.int64),
        "i1": np.array(1, np.int64),
        "axes": np.array([0], np.int64),
        "minus1": np.array([-1], np.int64),
        "heads": np.array([HEADS], np.int64),
        "dim": np.array([HEAD_DIM], np.int64),
        "hidden": np.array([HIDDEN], np.int64),
        "two": np.array(2.0, np.float32),
    }
    nodes = [
        helper.make_node("Shape", ["x"], ["xs"], name="shape"),
        helper.make_node("Gather", ["xs", "i0"], ["b"], name="gather_b", axis=0),
        helper.make_node("Gather", ["xs", "i1"], ["s"], name="gather_s", axis=0),
        helper.make_node("Unsqueeze", ["b", "axes"], ["b1"], name="unsqueeze_b"),
        helper.make_node("Unsqueeze", ["s", "axes"], ["s1"], name="unsqueeze_s"),
        helper.make_node("Concat", ["b1", "minus1", "heads", "dim"], ["split"], name="concat_split", axis=0),
        helper.make_node("Concat", ["b1", "s1", "hidden"], ["merge"], name="concat_merge", axis=0),
        helper.make_node("Reshape", ["x", "split"], ["x4"], name="split"),
        helper.make_node("Transpose", ["x4"], ["xt"], name="to_heads", perm=[0, 2, 1, 3]),
        helper.make_node("Mul", ["xt", "two"], ["xm"], name="work"),
        helper.make_node("Transpose", ["xm"], ["xb"], name="from_heads", perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["xb", "merge"], ["y"], name="merge"),
    ]
    graph = helper.make_graph(
        nodes,
        "heads",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq", HIDDEN])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "seq", HIDDEN])],
        [numpy_helper.from_array(v, k) for k, v in init.items()],
    )
    return onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 18)])


def _run(model: object, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])  # type: ignore[attr-defined]
    return session.run(["y"], {"x": x})[0]


def test_constant_targets_copy_keep_or_infer_each_dimension() -> None:
    split = shapefold.constant_shape([(2, 3, 32), (3, 5, 32)], [(2, 3, 2, 16), (3, 5, 2, 16)])
    assert split is not None and split.tolist() == [0, 0, 2, 16]
    flat = shapefold.constant_shape([(2, 3, 32), (3, 5, 32)], [(6, 32), (15, 32)])
    assert flat is not None and flat.tolist() == [-1, 32]
    # two entries that neither copy nor stay put: no single constant target says that
    assert shapefold.constant_shape([(2, 3), (3, 5)], [(3, 2), (5, 3)]) is None


def test_run_time_targets_become_constants_with_the_same_outputs() -> None:
    model = _toy()
    original = onnx.ModelProto()
    original.CopyFrom(model)
    assert shapefold.fold_reshape_shapes(model) == 2
    ops = [n.op_type for n in model.graph.node]  # type: ignore[attr-defined]
    assert ops == ["Reshape", "Transpose", "Mul", "Transpose", "Reshape"]  # the shape arithmetic is gone
    rng = np.random.default_rng(0)
    for batch, seq in ((1, 1), (1, 7), (4, 3), (9, 64)):
        x = rng.normal(size=(batch, seq, HIDDEN)).astype(np.float32)
        np.testing.assert_array_equal(_run(model, x), _run(original, x))


def test_constant_targets_are_left_alone() -> None:
    model = _toy()
    shapefold.fold_reshape_shapes(model)
    before = model.SerializeToString()  # type: ignore[attr-defined]
    assert shapefold.fold_reshape_shapes(model) == 0
    assert model.SerializeToString() == before  # type: ignore[attr-defined]
