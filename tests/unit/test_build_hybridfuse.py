"""The cheaper per-row quantize chain (hybridfuse) on a toy BERT-style FFN, quantized as int8-hybrid does.

LayerNorm -> MatMul + bias -> exact GELU (the erf form torch exports) -> MatMul, and a second consumer of the
LayerNorm output. The fused graph must compute what the unfused one does, stay batch-invariant bit for bit, and
leave alone what is not the pattern.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from edge_build import hybridfuse, rowquant  # noqa: E402

HIDDEN, FFN = 32, 64


def _toy(path: Path, rng: np.random.Generator, half: float = 0.5) -> dict[str, np.ndarray]:
    """x0 -> LayerNorm -> x; h = x @ W1 + b1; y = GELU(h) @ W2; z = x @ W3. `half`: GELU's 0.5 (else not GELU)."""
    from onnx import TensorProto, helper, numpy_helper

    w = {
        "g": (1.0 + rng.normal(size=(HIDDEN,)) * 0.1).astype(np.float32),
        "be": (rng.normal(size=(HIDDEN,)) * 0.1).astype(np.float32),
        "W1": rng.normal(size=(HIDDEN, FFN)).astype(np.float32) * 0.3,
        "b1": rng.normal(size=(FFN,)).astype(np.float32) * 0.1,
        "W2": rng.normal(size=(FFN, HIDDEN)).astype(np.float32) * 0.2,
        "W3": rng.normal(size=(HIDDEN, HIDDEN)).astype(np.float32) * 0.2,
    }
    w["g"][3] = 4.0  # an outlier channel, as BERT's LayerNorm outputs have
    consts = {"sqrt2": np.array(math.sqrt(2.0), np.float32), "one": np.array(1.0, np.float32)}
    consts["half"] = np.array(half, np.float32)
    nodes = [
        helper.make_node("LayerNormalization", ["x0", "g", "be"], ["x"], name="ln", axis=-1),
        helper.make_node("MatMul", ["x", "W1"], ["h1"], name="mm1"),
        helper.make_node("Add", ["b1", "h1"], ["h"], name="add1"),
        helper.make_node("Div", ["h", "sqrt2"], ["hd"], name="gelu_div"),
        helper.make_node("Erf", ["hd"], ["he"], name="gelu_erf"),
        helper.make_node("Add", ["he", "one"], ["hp"], name="gelu_add"),
        helper.make_node("Mul", ["h", "hp"], ["hm"], name="gelu_mul"),
        helper.make_node("Mul", ["hm", "half"], ["a"], name="gelu_half"),
        helper.make_node("MatMul", ["a", "W2"], ["y"], name="mm2"),
        helper.make_node("MatMul", ["x", "W3"], ["z"], name="mm3"),
    ]
    graph = helper.make_graph(
        nodes,
        "toy",
        [helper.make_tensor_value_info("x0", TensorProto.FLOAT, ["batch", "seq", HIDDEN])],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "seq", HIDDEN]),
            helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", "seq", HIDDEN]),
        ],
        [numpy_helper.from_array(v, k) for k, v in {**w, **consts}.items()],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    return w


def _hybrid(tmp_path: Path, rng: np.random.Generator, half: float = 0.5) -> tuple[Path, dict[str, np.ndarray]]:
    """The toy, quantized as int8-hybrid (static LayerNorm scale, per-row scale for the GELU output)."""
    w = _toy(tmp_path / "toy.onnx", rng, half)
    calib = [{"x0": _inputs(rng, 1, 8)} for _ in range(64)]
    out = tmp_path / "hybrid.onnx"
    ln = frozenset({"LayerNormalization"})
    plan = rowquant.RowQuantPlan(alpha=0.7, smooth_only_after=ln, static_after=ln)
    rowquant.build_rowwise(tmp_path / "toy.onnx", out, iter(calib), plan)
    return out, w


def _fused(src: Path, out: Path) -> hybridfuse.FuseReport:
    model = onnx.load(str(src))
    report = hybridfuse.fuse(model)
    onnx.checker.check_model(model)
    onnx.save(model, str(out))
    return report


def _inputs(rng: np.random.Generator, batch: int = 4, seq: int = 6) -> np.ndarray:
    return rng.normal(size=(batch, seq, HIDDEN)).astype(np.float32)


def _run(path: Path, x: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["y", "z"], {"x0": x})


def _reference(w: dict[str, np.ndarray], x0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    erf = np.vectorize(math.erf)
    x = (x0 - x0.mean(-1, keepdims=True)) / np.sqrt(x0.var(-1, keepdims=True) + 1e-5) * w["g"] + w["be"]
    h = x @ w["W1"] + w["b1"]
    return (h * 0.5 * (1.0 + erf(h / math.sqrt(2.0)))) @ w["W2"], x @ w["W3"]


def _rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def test_fused_chain_computes_what_the_hybrid_graph_does(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    hybrid, w = _hybrid(tmp_path, rng)
    report = _fused(hybrid, tmp_path / "fused.onnx")
    assert (report.gelu_range, report.blocked_quantize) == (1, 1)
    model = onnx.load(str(tmp_path / "fused.onnx"))
    ops = [n.op_type for n in model.graph.node]
    assert "Abs" not in ops and ops.count("MatMulIntegerToFloat") == 3
    blocked = [n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.attribute]
    assert len(blocked) == 1 and {a.name: a.i for a in blocked[0].attribute}["block_size"] == FFN
    assert next(o.version for o in model.opset_import if o.domain == "") == 21
    x = _inputs(rng)
    y_h, z_h = _run(hybrid, x)
    y_f, z_f = _run(tmp_path / "fused.onnx", x)
    np.testing.assert_array_equal(z_f, z_h)  # the static LayerNorm path is untouched
    assert _rel_err(y_f, y_h) < 1e-3  # same grid: at most a rounding tie lands on the other code
    y_ref, z_ref = _reference(w, x)
    assert _rel_err(y_f, y_ref) < 0.03 and _rel_err(z_f, z_ref) < 0.03


def _assert_first_row_alone_equals_batched(model: Path, rng: np.random.Generator) -> None:
    """Row 0 run alone and beside louder rows gives bit-identical outputs (no batch-wide scale anywhere)."""
    x = _inputs(rng)
    loud = x.copy()
    loud[1:] = _inputs(rng, len(x) - 1) * 5.0 + 3.0
    alone = _run(model, x[:1])
    in_company = _run(model, loud)
    for a, b in zip(alone, in_company, strict=True):
        np.testing.assert_array_equal(a[0], b[0])


def test_fused_graph_is_batch_invariant(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    hybrid, _ = _hybrid(tmp_path, rng)
    _fused(hybrid, tmp_path / "fused.onnx")
    _assert_first_row_alone_equals_batched(tmp_path / "fused.onnx", rng)


def test_gelu_floor_bounds_every_gelu_value_from_below() -> None:
    """max(max y, GELU_FLOOR) >= max|y| for any GELU row, so the row range never clips a value."""
    g = np.linspace(-12.0, 12.0, 240001)
    gelu = g * 0.5 * (1.0 + np.vectorize(math.erf)(g / math.sqrt(2.0)))
    assert -float(gelu.min()) <= hybridfuse.GELU_FLOOR < -float(gelu.min()) + 0.001


def test_only_the_exact_gelu_loses_its_abs(tmp_path: Path) -> None:
    """x * 0.6 * (1 + erf(x / sqrt 2)) can reach below -0.17: its rows keep max|y|."""
    rng = np.random.default_rng(6)
    hybrid, _ = _hybrid(tmp_path, rng, half=0.6)
    report = _fused(hybrid, tmp_path / "fused.onnx")
    assert report.gelu_range == 0 and report.blocked_quantize == 1
    assert "Abs" in [n.op_type for n in onnx.load(str(tmp_path / "fused.onnx")).graph.node]


def test_a_graph_without_the_patterns_is_unchanged(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    _toy(tmp_path / "toy.onnx", rng)
    before = onnx.load(str(tmp_path / "toy.onnx"))
    after = onnx.load(str(tmp_path / "toy.onnx"))
    report = hybridfuse.fuse(after)
    assert (report.gelu_range, report.blocked_quantize) == (0, 0)
    assert after.SerializeToString() == before.SerializeToString()


HEADS, HEAD_DIM = 2, 16


def _attention_toy(path: Path, rng: np.random.Generator) -> None:
    """LayerNorm -> Q/K/V projections with bias -> SDPA as torch exports it (q and k each scaled by
    sqrt(1/sqrt(head_dim)), computed from the shape at run time) -> context (batch, seq, HIDDEN)."""
    from onnx import TensorProto, helper, numpy_helper

    w = {
        "g": (1.0 + rng.normal(size=(HIDDEN,)) * 0.1).astype(np.float32),
        "be": (rng.normal(size=(HIDDEN,)) * 0.1).astype(np.float32),
        "shape4": np.array([0, -1, HEADS, HEAD_DIM], np.int64),
        "shape3": np.array([0, -1, HIDDEN], np.int64),
        "last": np.array([-1], np.int64),
        "end": np.array([2**62], np.int64),
        "one": np.array(1.0, np.float32),
    }
    nodes = [helper.make_node("LayerNormalization", ["x0", "g", "be"], ["x"], name="ln", axis=-1)]
    for p in ("q", "k", "v"):
        w[f"W{p}"] = rng.normal(size=(HIDDEN, HIDDEN)).astype(np.float32) * 0.3
        w[f"b{p}"] = rng.normal(size=(HIDDEN,)).astype(np.float32) * 0.1
        perm = [0, 2, 3, 1] if p == "k" else [0, 2, 1, 3]
        nodes += [
            helper.make_node("MatMul", ["x", f"W{p}"], [f"{p}m"], name=f"{p}_mm"),
            helper.make_node("Add", [f"{p}m", f"b{p}"], [f"{p}b"], name=f"{p}_add"),
            helper.make_node("Reshape", [f"{p}b", "shape4"], [f"{p}r"], name=f"{p}_reshape"),
            helper.make_node("Transpose", [f"{p}r"], [f"{p}t"], name=f"{p}_transpose", perm=perm),
        ]
    nodes += [
        helper.make_node("Shape", ["qt"], ["qs"], name="scale_shape"),
        helper.make_node("Slice", ["qs", "last", "end"], ["qd"], name="scale_slice"),
        helper.make_node("Cast", ["qd"], ["qdf"], name="scale_cast", to=TensorProto.FLOAT),
        helper.make_node("Sqrt", ["qdf"], ["qsq"], name="scale_sqrt"),
        helper.make_node("Div", ["one", "qsq"], ["inv"], name="scale_div"),
        helper.make_node("Sqrt", ["inv"], ["half_scale"], name="scale_sqrt2"),
        helper.make_node("Mul", ["qt", "half_scale"], ["qsc"], name="q_scale"),
        helper.make_node("Mul", ["kt", "half_scale"], ["ksc"], name="k_scale"),
        helper.make_node("MatMul", ["qsc", "ksc"], ["scores"], name="scores"),
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
            helper.make_tensor_value_info("x0", TensorProto.FLOAT, ["batch", "seq", HIDDEN]),
            helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["batch", 1, 1, "seq"]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "seq", HIDDEN])],
        [numpy_helper.from_array(v, k) for k, v in w.items()],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))


def test_attention_scale_moves_into_the_q_projection(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    _attention_toy(tmp_path / "toy.onnx", rng)
    mask = np.zeros((1, 1, 1, 8), np.float32)
    calib = [{"x0": _inputs(rng, 1, 8), "mask": mask} for _ in range(32)]
    ln = frozenset({"LayerNormalization"})
    plan = rowquant.RowQuantPlan(alpha=0.7, smooth_only_after=ln, static_after=ln)
    rowquant.build_rowwise(tmp_path / "toy.onnx", tmp_path / "hybrid.onnx", iter(calib), plan)
    report = _fused(tmp_path / "hybrid.onnx", tmp_path / "fused.onnx")
    assert report.attention_scale == 1
    ops = [n.op_type for n in onnx.load(str(tmp_path / "fused.onnx")).graph.node]
    assert "Sqrt" not in ops and "Mul" in ops  # the shape chain is gone; the static chains' Muls remain
    x = _inputs(rng, 3, 6)
    padded = np.zeros((3, 1, 1, 6), np.float32)
    padded[0, ..., 4:] = -1e4  # the first text has two padded positions
    feeds = {"x0": x, "mask": padded}
    unfused = ort.InferenceSession(str(tmp_path / "hybrid.onnx"), providers=["CPUExecutionProvider"])
    fused = ort.InferenceSession(str(tmp_path / "fused.onnx"), providers=["CPUExecutionProvider"])
    (a,), (b,) = unfused.run(["y"], feeds), fused.run(["y"], feeds)
    assert _rel_err(b, a) < 1e-5  # the same products, the scale applied in the GEMM's epilogue


def _rowwise(src: Path, out: Path, calib: list[dict[str, np.ndarray]]) -> None:
    """src quantized as int8-rowwise: SmoothQuant on the LayerNorm outputs, one scale per row everywhere."""
    plan = rowquant.RowQuantPlan(alpha=0.5, smooth_only_after=frozenset({"LayerNormalization"}))
    rowquant.build_rowwise(src, out, iter(calib), plan)


def test_rowwise_chains_are_fused_on_the_same_grid(tmp_path: Path) -> None:
    """int8-rowwise has a per-row chain on the LayerNorm output too: both chains become blocked QuantizeLinear."""
    rng = np.random.default_rng(11)
    w = _toy(tmp_path / "toy.onnx", rng)
    _rowwise(tmp_path / "toy.onnx", tmp_path / "rowwise.onnx", [{"x0": _inputs(rng, 1, 8)} for _ in range(64)])
    report = _fused(tmp_path / "rowwise.onnx", tmp_path / "fused.onnx")
    assert (report.gelu_range, report.blocked_quantize, report.attention_scale) == (1, 2, 0)
    ops = [n.op_type for n in onnx.load(str(tmp_path / "fused.onnx")).graph.node]
    assert ops.count("Abs") == 1  # the smoothed LayerNorm output keeps its Abs; the GELU output's is gone
    assert ops.count("QuantizeLinear") == 2 and ops.count("MatMulIntegerToFloat") == 3
    x = _inputs(rng)
    for fused, unfused, ref in zip(
        _run(tmp_path / "fused.onnx", x), _run(tmp_path / "rowwise.onnx", x), _reference(w, x), strict=True
    ):
        assert _rel_err(fused, unfused) < 1e-3  # same grid: at most a rounding tie lands on the other code
        assert _rel_err(fused, ref) < 0.03


def test_fused_rowwise_graph_is_batch_invariant(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    _toy(tmp_path / "toy.onnx", rng)
    _rowwise(tmp_path / "toy.onnx", tmp_path / "rowwise.onnx", [{"x0": _inputs(rng, 1, 8)} for _ in range(64)])
    _fused(tmp_path / "rowwise.onnx", tmp_path / "fused.onnx")
    _assert_first_row_alone_equals_batched(tmp_path / "fused.onnx", rng)


def test_attention_scale_moves_into_the_rowwise_q_projection(tmp_path: Path) -> None:
    """int8-rowwise's Q projection is GEMM -> Mul(row range) -> Add(bias): the scale goes into the column scales
    and the bias."""
    rng = np.random.default_rng(13)
    _attention_toy(tmp_path / "toy.onnx", rng)
    mask = np.zeros((1, 1, 1, 8), np.float32)
    _rowwise(tmp_path / "toy.onnx", tmp_path / "rowwise.onnx", [{"x0": _inputs(rng, 1, 8), "mask": mask}] * 16)
    report = _fused(tmp_path / "rowwise.onnx", tmp_path / "fused.onnx")
    assert (report.attention_scale, report.blocked_quantize) == (1, 1)
    model = onnx.load(str(tmp_path / "fused.onnx"))
    assert "Sqrt" not in [n.op_type for n in model.graph.node]
    assert sum(i.name.endswith("_qk_scaled") for i in model.graph.initializer) == 2
    x = _inputs(rng, 3, 6)
    padded = np.zeros((3, 1, 1, 6), np.float32)
    padded[0, ..., 4:] = -1e4
    feeds = {"x0": x, "mask": padded}
    unfused = ort.InferenceSession(str(tmp_path / "rowwise.onnx"), providers=["CPUExecutionProvider"])
    fused = ort.InferenceSession(str(tmp_path / "fused.onnx"), providers=["CPUExecutionProvider"])
    (a,), (b,) = unfused.run(["y"], feeds), fused.run(["y"], feeds)
    assert _rel_err(b, a) < 1e-3  # same grid; the blocked quantize may move a rounding tie
    alone = fused.run(["y"], {"x0": x[1:2], "mask": padded[1:2]})[0]
    np.testing.assert_array_equal(alone[0], b[1])  # batch-invariant, bit for bit
