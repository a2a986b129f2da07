"""A CPU onnxruntime session over a copy of a graph whose chosen inner tensors are also outputs.

Why: the build's rewrites decide from values and shapes seen inside the graph (probe runs, calibration
maxima); each needs the same session with extra outputs, built here once.
"""

from __future__ import annotations

from typing import Any


def session_with_outputs(model: object, names: list[str], *, threads: int | None = 1, optimize: bool = True) -> Any:
    """A session over a copy of `model` that also outputs `names` (the model itself is left as it is).

    threads: intra-op threads (None: onnxruntime's default); optimize=False keeps every tensor (no fusions).
    """
    import onnx
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.extend([onnx.ValueInfoProto(name=n) for n in names])
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
