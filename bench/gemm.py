"""This machine's practical GEMM peak, measured with onnxruntime on one large MatMul / MatMulInteger graph.

Why onnxruntime and not numpy: the embedder runs onnxruntime's MLAS kernels, so the ceiling that matters is
what MLAS reaches on these cores with the same thread count, for fp32 (MatMul) and u8 x s8 (MatMulInteger,
the kernel behind dynamically quantized MatMuls).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# (M, K, N): BERT-shaped (tokens x hidden x 4*hidden, both directions) and one square shape; the best counts
DEFAULT_SHAPES: tuple[tuple[int, int, int], ...] = ((4096, 384, 1536), (4096, 1536, 384), (2048, 2048, 2048))


def matmul_model(m: int, k: int, n: int, *, int8: bool, seed: int = 0) -> onnx.ModelProto:
    """A one-node graph: Y = A @ B with B a constant weight, fp32 MatMul or uint8 x int8 MatMulInteger."""
    rng = np.random.default_rng(seed)
    weight: np.ndarray
    if int8:
        weight = rng.integers(-127, 128, size=(k, n), dtype=np.int8)
        a_type, y_type, op = TensorProto.UINT8, TensorProto.INT32, "MatMulInteger"
    else:
        weight = rng.standard_normal((k, n), dtype=np.float32)
        a_type, y_type, op = TensorProto.FLOAT, TensorProto.FLOAT, "MatMul"
    node = helper.make_node(op, ["A", "B"], ["Y"])
    graph = helper.make_graph(
        [node],
        f"{op.lower()}_{m}x{k}x{n}",
        [helper.make_tensor_value_info("A", a_type, [m, k])],
        [helper.make_tensor_value_info("Y", y_type, [m, n])],
        initializer=[numpy_helper.from_array(weight, name="B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def gemm_input(m: int, k: int, *, int8: bool, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if int8:
        return rng.integers(0, 256, size=(m, k), dtype=np.uint8)
    return rng.standard_normal((m, k), dtype=np.float32)


@dataclass
class GemmResult:
    kind: str  # "fp32" | "int8"
    shape: tuple[int, int, int]
    seconds_median: float
    gflops: float  # 2*M*K*N / median seconds / 1e9 (GOP/s for int8)


def measure_gemm(
    m: int,
    k: int,
    n: int,
    *,
    int8: bool,
    threads: int,
    min_seconds: float = 1.0,
    max_runs: int = 200,
    clock: Callable[[], float] = time.perf_counter,
) -> GemmResult:
    """Median time of repeated runs of one MatMul graph (after two warm-up runs) and the rate it implies.

    clock: wall time by default; time.process_time gives the CPU-time peak of one thread on a busy machine.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    model = matmul_model(m, k, n, int8=int8)
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feed = {"A": gemm_input(m, k, int8=int8)}
    for _ in range(2):
        session.run(None, feed)
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < max_runs and (time.perf_counter() - started < min_seconds or len(times) < 5):
        t0 = clock()
        session.run(None, feed)
        times.append(clock() - t0)
    times.sort()
    med = times[len(times) // 2]
    return GemmResult("int8" if int8 else "fp32", (m, k, n), med, 2.0 * m * k * n / med / 1e9)


def measure_peaks(
    threads: int,
    shapes: tuple[tuple[int, int, int], ...] = DEFAULT_SHAPES,
    min_seconds: float = 1.0,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, object]:
    """Best fp32 and int8 rate over the shapes, with every shape's figure for the record."""
    runs = [
        measure_gemm(m, k, n, int8=int8, threads=threads, min_seconds=min_seconds, clock=clock)
        for int8 in (False, True)
        for (m, k, n) in shapes
    ]
    best = {kind: max(r.gflops for r in runs if r.kind == kind) for kind in ("fp32", "int8")}
    return {
        "threads": threads,
        "fp32_gflops": best["fp32"],
        "int8_gops": best["int8"],
        "runs": [
            {"kind": r.kind, "shape": list(r.shape), "seconds": r.seconds_median, "gflops": r.gflops} for r in runs
        ],
    }
