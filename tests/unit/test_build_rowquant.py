"""The batch-invariant int8 rewrites (per-row SmoothQuant, MatMulNBits 8-bit) on a toy two-layer graph.

The graph is built here with known weights; the rewritten graph runs in onnxruntime and is compared with numpy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from edge_build import nbits, rowquant  # noqa: E402

HIDDEN, FFN = 32, 64


def _toy(path: Path, rng: np.random.Generator, layernorm: bool = False) -> dict[str, np.ndarray]:
    """x -> MatMul(W1) -> Add(b1) -> Relu -> MatMul(W2) ; x also -> MatMul(W3) (a second consumer of x).

    layernorm: x is first normalized (LayerNormalization with gamma g, beta be), as in a BERT layer.
    """
    from onnx import TensorProto, helper, numpy_helper

    w = {
        "W1": rng.normal(size=(HIDDEN, FFN)).astype(np.float32) * 0.2,
        "b1": rng.normal(size=(FFN,)).astype(np.float32) * 0.1,
        "W2": rng.normal(size=(FFN, HIDDEN)).astype(np.float32) * 0.2,
        "W3": rng.normal(size=(HIDDEN, HIDDEN)).astype(np.float32) * 0.2,
    }
    first: list[object] = []
    if layernorm:
        w["g"] = (1.0 + rng.normal(size=(HIDDEN,)) * 0.1).astype(np.float32)
        w["g"][3] = 20.0  # an outlier channel, as BERT's LayerNorm outputs have
        w["be"] = (rng.normal(size=(HIDDEN,)) * 0.1).astype(np.float32)
        first = [helper.make_node("LayerNormalization", ["x0", "g", "be"], ["x"], name="ln", axis=-1)]
    nodes = [
        *first,
        helper.make_node("MatMul", ["x", "W1"], ["h1"], name="mm1"),
        helper.make_node("Add", ["h1", "b1"], ["h2"], name="add1"),
        helper.make_node("Relu", ["h2"], ["h3"], name="relu"),
        helper.make_node("MatMul", ["h3", "W2"], ["y"], name="mm2"),
        helper.make_node("MatMul", ["x", "W3"], ["z"], name="mm3"),
    ]
    graph = helper.make_graph(
        nodes,
        "toy",
        [helper.make_tensor_value_info("x0" if layernorm else "x", TensorProto.FLOAT, ["batch", "seq", HIDDEN])],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "seq", HIDDEN]),
            helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", "seq", HIDDEN]),
        ],
        [numpy_helper.from_array(v, k) for k, v in w.items()],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return w


def _reference(w: dict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if "g" in w:
        x = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * w["g"] + w["be"]
    return np.maximum(x @ w["W1"] + w["b1"], 0) @ w["W2"], x @ w["W3"]


def _run(path: Path, x: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return session.run(["y", "z"], {name: x})


def _inputs(rng: np.random.Generator, batch: int = 4, seq: int = 6) -> np.ndarray:
    x = rng.normal(size=(batch, seq, HIDDEN)).astype(np.float32)
    x[..., 3] *= 20.0  # an outlier channel, as LayerNorm outputs of BERT-like models have
    return x


def _rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize("alpha", [0.5, None])
def test_rowwise_matches_float_and_is_batch_invariant(tmp_path: Path, alpha: float | None) -> None:
    rng = np.random.default_rng(0)
    w = _toy(tmp_path / "toy.onnx", rng)
    calib = [{"x": _inputs(rng, 1, 8)} for _ in range(8)]
    out = tmp_path / "rowq.onnx"
    rowquant.build_rowwise(tmp_path / "toy.onnx", out, iter(calib), rowquant.RowQuantPlan(alpha=alpha))
    ops = [n.op_type for n in onnx.load(str(out)).graph.node]
    assert ops.count("MatMulIntegerToFloat") == 3 and "MatMul" not in ops
    assert ops.count("QuantizeLinear") == 2  # x is quantized once for both of its consumers
    x = _inputs(rng)
    y, z = _run(out, x)
    y_ref, z_ref = _reference(w, x)
    assert _rel_err(y, y_ref) < 0.02 and _rel_err(z, z_ref) < 0.02
    # the same row alone, or next to a row with 100x larger values, gives bit-identical output
    loud = x.copy()
    loud[1:] *= 100.0
    for row in range(1):
        alone = _run(out, x[row : row + 1])
        in_company = _run(out, loud)
        for a, b in zip(alone, in_company, strict=True):
            np.testing.assert_array_equal(a[0], b[row])


def test_static_layernorm_scale_matches_float_and_is_batch_invariant(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    w = _toy(tmp_path / "toy.onnx", rng, layernorm=True)
    calib = [{"x0": _inputs(rng, 1, 8)} for _ in range(8)]
    out = tmp_path / "static.onnx"
    plan = rowquant.RowQuantPlan(alpha=0.7, static_after=frozenset({"LayerNormalization"}))
    rowquant.build_rowwise(tmp_path / "toy.onnx", out, iter(calib), plan)
    nodes = onnx.load(str(out)).graph.node
    ops = [n.op_type for n in nodes]
    assert ops.count("MatMulIntegerToFloat") == 3 and "MatMul" not in ops
    # one per-row chain (the Relu output) and one static quantization (the LayerNorm output) ...
    assert ops.count("QuantizeLinear") == 2 and ops.count("ReduceMax") == 1
    # ... whose GEMM took over the bias Add
    assert "Add" not in ops and any(len(n.input) == 7 and n.input[6] == "b1" for n in nodes)
    x = _inputs(rng)
    y, z = _run(out, x)
    y_ref, z_ref = _reference(w, x)
    assert _rel_err(y, y_ref) < 0.03 and _rel_err(z, z_ref) < 0.03
    loud = x.copy()
    loud[1:] = _inputs(rng, len(x) - 1) * 5.0 + 3.0  # other texts next to row 0 (LayerNorm undoes a plain scale)
    alone = _run(out, x[:1])
    in_company = _run(out, loud)
    for a, b in zip(alone, in_company, strict=True):
        np.testing.assert_array_equal(a[0], b[0])


def test_smoothing_helps_when_one_channel_dominates(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    w = _toy(tmp_path / "toy.onnx", rng)
    calib = [{"x": _inputs(rng, 1, 8)} for _ in range(8)]
    x = _inputs(rng)
    errors = {}
    for alpha in (0.5, None):
        out = tmp_path / f"rowq-{alpha}.onnx"
        rowquant.build_rowwise(tmp_path / "toy.onnx", out, iter(calib), rowquant.RowQuantPlan(alpha=alpha))
        errors[alpha] = _rel_err(_run(out, x)[1], _reference(w, x)[1])
    assert errors[0.5] < errors[None]


def test_smoothing_scales_and_column_quantization() -> None:
    act = np.array([1.0, 100.0])
    weights = [np.array([[1.0, -2.0], [0.5, 0.25]]), np.array([[4.0], [0.5]])]
    s = rowquant.smoothing_scales(act, weights, 0.5)
    np.testing.assert_allclose(s, [np.sqrt(1.0) / np.sqrt(4.0), np.sqrt(100.0) / np.sqrt(0.5)], rtol=1e-6)
    q, scale = rowquant.quantize_columns(np.array([[1.27, -0.5], [-0.635, 0.25]], np.float32))
    np.testing.assert_allclose(scale, [0.01, 0.5 / 127], rtol=1e-6)
    assert q.dtype == np.int8 and q[:, 0].tolist() == [127, -64] and q[:, 1].tolist() == [-127, 64]


def test_sensitivity_ranks_the_matmul_fed_by_outliers_first(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    _toy(tmp_path / "toy.onnx", rng)
    feeds = [{"x": _inputs(rng, 1, 8)} for _ in range(4)]
    ranked = rowquant.matmul_sensitivity(tmp_path / "toy.onnx", iter(feeds))
    assert {name for name, _ in ranked} == {"mm1", "mm2", "mm3"}
    assert all(err > 0 for _, err in ranked) and ranked == sorted(ranked, key=lambda item: -item[1])
    assert ranked[-1][0] == "mm2"  # its input (after Relu) has no outlier channel


def test_nbits8_matches_float_and_is_batch_invariant(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    w = _toy(tmp_path / "toy.onnx", rng)
    out = tmp_path / "nbits.onnx"
    nbits.build_nbits8(tmp_path / "toy.onnx", out, block_size=16)
    assert [n.op_type for n in onnx.load(str(out)).graph.node].count("MatMulNBits") == 3
    x = _inputs(rng)
    y, z = _run(out, x)
    y_ref, z_ref = _reference(w, x)
    assert _rel_err(y, y_ref) < 0.02 and _rel_err(z, z_ref) < 0.02
    alone = _run(out, x[2:3])
    np.testing.assert_array_equal(alone[0][0], y[2])


def test_pack_blocks_round_trips() -> None:
    w = np.random.default_rng(4).normal(size=(40, 3)).astype(np.float32)
    q, scales = nbits.pack_blocks(w, 16)
    assert q.shape == (3, 3, 16) and scales.shape == (3, 3)
    back = ((q.astype(np.float32) - 128) * scales[:, :, None]).reshape(3, 48).T[:40]
    assert np.max(np.abs(back - w)) <= scales.max() / 2 + 1e-6


def test_embedding_tables_become_int8_rows(tmp_path: Path) -> None:
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(5)
    table = rng.normal(size=(5000, 8)).astype(np.float32)
    table[7] *= 50.0  # a row with a large range must not cost the other rows precision
    small = rng.normal(size=(16, 8)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Gather", ["table", "ids"], ["e"], name="g"),
            helper.make_node("Gather", ["small", "pos"], ["p"], name="g_small"),
            helper.make_node("Add", ["e", "p"], ["y"], name="add"),
        ],
        "emb",
        [
            helper.make_tensor_value_info("ids", TensorProto.INT64, ["b", "s"]),
            helper.make_tensor_value_info("pos", TensorProto.INT64, ["b", "s"]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", "s", 8])],
        [numpy_helper.from_array(table, "table"), numpy_helper.from_array(small, "small")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    assert rowquant.quantize_embedding_tables(model) == 1  # the 16-row table stays fp32
    names = {i.name: i.data_type for i in model.graph.initializer}
    assert "table" not in names and names["table_int8rows"] == TensorProto.INT8 and "small" in names
    path = tmp_path / "emb.onnx"
    onnx.save(model, str(path))
    ids = np.array([[7, 0, 4999]], np.int64)
    pos = np.array([[0, 1, 2]], np.int64)
    (y,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"ids": ids, "pos": pos})
    want = table[ids[0]] + small[pos[0]]
    step = np.abs(table[ids[0]]).max(axis=1, keepdims=True) / 127
    assert np.all(np.abs(y[0] - want) <= step / 2 + 1e-5)


def test_excluded_matmuls_stay_float(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    w = _toy(tmp_path / "toy.onnx", rng)
    out = tmp_path / "rowq.onnx"
    plan = rowquant.RowQuantPlan(alpha=None, exclude={"mm3"})
    rowquant.build_rowwise(tmp_path / "toy.onnx", out, iter([]), plan)
    ops = {n.name: n.op_type for n in onnx.load(str(out)).graph.node}
    assert ops["mm3"] == "MatMul" and list(ops.values()).count("MatMulIntegerToFloat") == 2
    x = _inputs(rng)
    np.testing.assert_allclose(_run(out, x)[1], _reference(w, x)[1], rtol=1e-4, atol=1e-4)
