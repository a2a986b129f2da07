"""bench.opprofile: per-node times from onnxruntime's profiler and the node counts after load-time fusion.

No timing is asserted: these check which nodes and operator types the profile attributes time to.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.opprofile import node_times, optimized_op_counts  # noqa: E402


def _model(path: Path) -> None:
    """x -> MatMul(W) -> Add(b) -> Relu: three nodes that onnxruntime fuses at load (into one Gemm-like node)."""
    w = numpy_helper.from_array(np.eye(8, dtype=np.float32), "W")
    b = numpy_helper.from_array(np.ones(8, np.float32), "b")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["h"], name="mm"),
            helper.make_node("Add", ["h", "b"], ["a"], name="add"),
            helper.make_node("Relu", ["a"], ["y"], name="relu"),
        ],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 8])],
        [w, b],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def test_every_optimized_node_is_timed_under_its_op_type(tmp_path: Path) -> None:
    model = tmp_path / "tiny.onnx"
    _model(model)
    feeds = [{"x": np.random.default_rng(0).normal(size=(4, 8)).astype(np.float32)}]
    times, op_of = node_times(model, feeds, tmp_path)
    counts = optimized_op_counts(model, tmp_path)
    assert sum(counts.values()) == len(times) >= 1
    timed_ops = sorted(op_of[name] for name in times)
    assert timed_ops == sorted(counts.elements())
    assert sum(counts.values()) < 3  # the counts are those of the optimized graph, not of the file
    assert all(t >= 0 for t in times.values())
