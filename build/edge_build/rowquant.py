"""Batch-invariant int8: SmoothQuant channel scales + one activation scale per row (token), as a graph rewrite.

Why: onnxruntime's dynamic int8 scales activations per tensor, i.e. over the whole batch, so a text's vector
depends on the other texts in the call, and one outlier token costs every other token precision. Here every
weight MatMul ``y = x @ W`` becomes

    xs  = x * (1/s)                                  SmoothQuant: s_j = max|x_j|^a / max|W_j,:|^(1-a)
    r   = max(|xs|, last axis)                       one scale per row, so no row sees another
    q   = QuantizeLinear(xs * (127/r), 1, 128)       uint8, symmetric around the zero point 128
    y   = MatMulIntegerToFloat(q, Wq, 1, c/127, 128) * r        Wq = round(s*W / c), c per column

All integer arithmetic is exact, so the result is the same whatever else is in the batch. U8S8 with a scalar
zero point is the combination onnxruntime's x86 int8 GEMM runs fast (S8S8 and a per-row zero point do not).
Consumers of the same activation (Q, K and V) share one smoothing vector and one quantized copy.

Optionally (plan.static_after) activations made by LayerNorm get one calibrated scale instead of one per row:

    q   = QuantizeLinear(x * (1/(s*t)), 1, 128)      t = max over calibration of max|x_j / s_j|, / 127
    y   = MatMulIntegerToFloat(q, Wq, t, c, 128, b)  the GEMM's epilogue applies both scales and the bias

Still batch-invariant (constants only), with two nodes per activation instead of seven and no rescale after
the GEMM; the outlier-heavy inputs (attention context, GELU output) keep their per-row scale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

EPS = 1e-8
MS_DOMAIN = "com.microsoft"


@dataclass
class WeightMatMul:
    """One MatMul whose second input is a 2-D float initializer."""

    node_name: str
    activation: str
    weight: str
    output: str


@dataclass
class RowQuantPlan:
    """What to rewrite: which MatMuls, SmoothQuant alpha (None: no smoothing) and the activation maxima."""

    alpha: float | None = 0.5
    exclude: set[str] = field(default_factory=set)  # node names left in fp32
    smooth_only_after: frozenset[str] | None = None  # smooth only activations made by these op types (None: all)
    embeddings: bool = True  # word-embedding table as int8 rows too
    static_after: frozenset[str] | None = None  # activations made by these op types: one calibrated scale
    static_margin: float = 1.0  # static range = calibration max x this


def weight_matmuls(model: object) -> list[WeightMatMul]:
    """The MatMuls with a 2-D float initializer as B (the linear layers); attention-score MatMuls have none."""
    import onnx

    graph = model.graph  # type: ignore[attr-defined]
    inits = {i.name: i for i in graph.initializer}
    found = []
    for node in graph.node:
        if node.op_type != "MatMul" or node.domain not in ("", "ai.onnx"):
            continue
        a, b = node.input[0], node.input[1]
        init = inits.get(b)
        if init is None or len(init.dims) != 2 or init.data_type != onnx.TensorProto.FLOAT:
            continue
        found.append(WeightMatMul(node.name, a, b, node.output[0]))
    return found


def _capture(
    model_path: Path, feeds: Iterable[dict[str, np.ndarray]], names: list[str]
) -> Iterator[dict[str, np.ndarray]]:
    """Per feed: each named activation as (text tokens, channels), padding rows dropped (fp32, onnxruntime)."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(model_path))
    present = {o.name for o in model.graph.output}
    for name in names:
        if name not in present:
            model.graph.output.append(onnx.ValueInfoProto(name=name))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    for feed in feeds:
        values = session.run(names, feed)
        mask = feed.get("attention_mask")
        rows = {}
        for name, value in zip(names, values, strict=True):
            flat = value.reshape(-1, value.shape[-1])
            if mask is not None and value.ndim == 3 and value.shape[:2] == mask.shape:
                flat = flat[mask.reshape(-1).astype(bool)]
            rows[name] = flat
        yield rows


def activation_maxima(
    model_path: Path, feeds: Iterable[dict[str, np.ndarray]], names: list[str]
) -> dict[str, np.ndarray]:
    """Per-channel max |x| of each named activation over the calibration feeds."""
    maxima: dict[str, np.ndarray] = {}
    for rows in _capture(model_path, feeds, names):
        for name, flat in rows.items():
            if not len(flat):
                continue
            current = np.abs(flat).max(axis=0)
            maxima[name] = np.maximum(maxima[name], current) if name in maxima else current
    return maxima


def matmul_sensitivity(
    model_path: Path, feeds: Iterable[dict[str, np.ndarray]], max_rows: int = 1024, rows_per_feed: int = 32
) -> list[tuple[str, float]]:
    """Weight MatMuls, most sensitive first: relative error of dynamic int8 (per-tensor x, per-column W).

    Measured on the captured calibration activations with numpy: one model run, no quantized model builds.
    Each feed is quantized as one tensor, as onnxruntime's dynamic int8 does for a one-text call; the error is
    summed over an even sample of at most rows_per_feed of its tokens (bounded cost on long reranker pairs).
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(model_path))
    inits = {i.name: i for i in model.graph.initializer}
    matmuls = weight_matmuls(model)
    names = sorted({m.activation for m in matmuls})
    errors = {m.node_name: [0.0, 0.0] for m in matmuls}
    weights = {m.weight: numpy_helper.to_array(inits[m.weight]).astype(np.float32) for m in matmuls}
    quantized = {}
    for name, w in weights.items():
        q, scale = quantize_columns(w)
        quantized[name] = q.astype(np.float32) * scale
    seen = 0
    for rows in _capture(model_path, feeds, names):
        for m in matmuls:
            full = rows[m.activation]
            lo, hi = min(float(full.min()), 0.0), max(float(full.max()), 0.0)
            step = max(hi - lo, EPS) / 255.0
            zero = float(np.rint(-lo / step))
            x = full[:: max(1, len(full) // rows_per_feed)]
            xq = (np.clip(np.rint(x / step) + zero, 0, 255) - zero) * step
            ref = x @ weights[m.weight]
            errors[m.node_name][0] += float(np.sum((xq @ quantized[m.weight] - ref) ** 2))
            errors[m.node_name][1] += float(np.sum(ref**2))
        seen += min(rows_per_feed, len(next(iter(rows.values())))) if rows else 0
        if seen >= max_rows:
            break
    ranked = [(name, float(np.sqrt(e / max(r, EPS)))) for name, (e, r) in errors.items()]
    return sorted(ranked, key=lambda item: -item[1])


def smoothing_scales(act_max: np.ndarray, weights: list[np.ndarray], alpha: float) -> np.ndarray:
    """SmoothQuant's s_j = max|x_j|^alpha / max|W_j,:|^(1-alpha), over every consumer's W (rows = in-channels)."""
    w_max = np.max(np.stack([np.abs(w).max(axis=1) for w in weights]), axis=0)
    s = np.power(np.maximum(act_max, 1e-5), alpha) / np.power(np.maximum(w_max, 1e-5), 1.0 - alpha)
    return np.clip(s, 1e-5, 1e5).astype(np.float32)


def quantize_columns(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per output column: (int8 weights, float scale per column)."""
    scale = np.maximum(np.abs(w).max(axis=0), EPS) / 127.0
    q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
    return q, scale.astype(np.float32)


def _names(prefix: str) -> Iterator[str]:
    i = 0
    while True:
        yield f"{prefix}_{i}"
        i += 1


def rewrite(model: object, maxima: dict[str, np.ndarray], plan: RowQuantPlan) -> object:
    """Return the model with every chosen weight MatMul replaced by the per-row int8 chain (in place)."""
    import onnx
    from onnx import helper, numpy_helper

    graph = model.graph  # type: ignore[attr-defined]
    inits = {i.name: i for i in graph.initializer}
    chosen = [m for m in weight_matmuls(model) if m.node_name not in plan.exclude]
    by_activation: dict[str, list[WeightMatMul]] = {}
    for m in chosen:
        by_activation.setdefault(m.activation, []).append(m)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)  # type: ignore[attr-defined]
    producer = {out: node.op_type for node in graph.node for out in node.output}
    smooth_after = plan.smooth_only_after
    if smooth_after is not None and not any(producer.get(a) in smooth_after for a in by_activation):
        smooth_after = None  # e.g. LayerNorm decomposed into primitive ops: smooth everything instead
    fresh = _names("rowq")
    new_inits: list[onnx.TensorProto] = []

    def const(value: np.ndarray) -> str:
        name = next(fresh)
        new_inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    one, zero_u8 = const(np.array(1.0, np.float32)), const(np.array(128, np.uint8))
    k127, eps = const(np.array(127.0, np.float32)), const(np.array(EPS, np.float32))
    axes = const(np.array([-1], np.int64))
    replaced: dict[str, list[object]] = {}  # node name -> nodes that replace it
    for activation, consumers in by_activation.items():
        weights = [numpy_helper.to_array(inits[m.weight]).astype(np.float32) for m in consumers]
        nodes: list[onnx.NodeProto] = []
        x = activation
        wanted = smooth_after is None or producer.get(activation) in smooth_after
        static = plan.static_after is not None and producer.get(activation) in plan.static_after
        if static and plan.alpha is not None and activation in maxima:
            s = smoothing_scales(maxima[activation], weights, plan.alpha)
            step = max(float(np.max(maxima[activation] / s)) * plan.static_margin / 127.0, EPS)
            chain = _static_chain(graph, inits, activation, consumers, weights, s, step, const, fresh)
            for name, new in chain.items():
                replaced.setdefault(name, []).extend(new)
            continue
        if plan.alpha is not None and activation in maxima and wanted:
            s = smoothing_scales(maxima[activation], weights, plan.alpha)
            weights = [w * s[:, None] for w in weights]
            xs = next(fresh)
            nodes.append(helper.make_node("Mul", [x, const((1.0 / s).astype(np.float32))], [xs], name=xs))
            x = xs
        t = [next(fresh) for _ in range(6)]
        nodes.append(helper.make_node("Abs", [x], [t[0]], name=t[0]))
        if opset >= 18:
            nodes.append(helper.make_node("ReduceMax", [t[0], axes], [t[1]], name=t[1], keepdims=1))
        else:
            nodes.append(helper.make_node("ReduceMax", [t[0]], [t[1]], name=t[1], axes=[-1], keepdims=1))
        nodes.append(helper.make_node("Max", [t[1], eps], [t[2]], name=t[2]))
        nodes.append(helper.make_node("Div", [k127, t[2]], [t[3]], name=t[3]))
        nodes.append(helper.make_node("Mul", [x, t[3]], [t[4]], name=t[4]))
        nodes.append(helper.make_node("QuantizeLinear", [t[4], one, zero_u8], [t[5]], name=t[5]))
        for m, w in zip(consumers, weights, strict=True):
            wq, col = quantize_columns(w)
            col = (col / 127.0).astype(np.float32)  # so the row factor is max|x| itself
            y = next(fresh)
            mm = helper.make_node(
                "MatMulIntegerToFloat",
                [t[5], const(wq), one, const(col), zero_u8],
                [y],
                name=y,
                domain=MS_DOMAIN,
            )
            out = helper.make_node("Mul", [y, t[2]], [m.output], name=f"{m.node_name}_rowq")
            replaced.setdefault(m.node_name, []).extend([mm, out])
        first = consumers[0].node_name
        replaced[first] = nodes + replaced[first]

    _splice(model, replaced, new_inits)
    if not any(o.domain == MS_DOMAIN for o in model.opset_import):  # type: ignore[attr-defined]
        model.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))  # type: ignore[attr-defined]
    return model


def _static_chain(
    graph: object,
    inits: Mapping[str, object],
    activation: str,
    consumers: Sequence[WeightMatMul],
    weights: Sequence[np.ndarray],
    s: np.ndarray,
    step: float,
    const: Callable[[np.ndarray], str],
    fresh: Iterator[str],
) -> dict[str, list[object]]:
    """x -> Mul(1/(s*step)) -> QuantizeLinear(1, 128) -> MatMulIntegerToFloat(step, c, bias) per consumer.

    Why: a LayerNorm output is bounded (|gamma| x sqrt(width) + |beta|) and its range varies little between
    texts, so one calibrated range per tensor after SmoothQuant is about as faithful as a range per row. It drops
    the row-max chain (Abs, ReduceMax, Max, Div, Mul) and the rescale Mul after each GEMM, and a constant scale
    lets the GEMM add the bias itself. Every element is quantized with constants only, so the result cannot
    depend on the rest of the batch.
    (A per-axis QuantizeLinear with the vector s*step would be one node less, but runs far slower.)
    """
    from onnx import helper

    xs, q = next(fresh), next(fresh)
    one, zero_u8 = const(np.array(1.0, np.float32)), const(np.array(128, np.uint8))
    nodes: dict[str, list[object]] = {consumers[0].node_name: []}
    first = nodes[consumers[0].node_name]
    first.append(helper.make_node("Mul", [activation, const((1.0 / (s * step)).astype(np.float32))], [xs], name=xs))
    first.append(helper.make_node("QuantizeLinear", [xs, one, zero_u8], [q], name=q))
    a_step = const(np.array(step, np.float32))
    for m, w in zip(consumers, weights, strict=True):
        wq, col = quantize_columns(w * s[:, None])
        inputs, output = [q, const(wq), a_step, const(col), zero_u8], m.output
        add = _bias_add(graph, m, inits, w.shape[1])
        if add is not None:  # the GEMM adds the bias itself: one pass over the output less
            inputs += ["", add.input[1] if add.input[0] == m.output else add.input[0]]  # type: ignore[attr-defined]
            output = add.output[0]  # type: ignore[attr-defined]
            nodes[add.name] = []  # type: ignore[attr-defined]
        mm = helper.make_node("MatMulIntegerToFloat", inputs, [output], name=f"{m.node_name}_static", domain=MS_DOMAIN)
        nodes.setdefault(m.node_name, []).append(mm)
    return nodes


def _bias_add(graph: object, m: WeightMatMul, inits: Mapping[str, object], n: int) -> object | None:
    """The Add of a 1-D float bias of length n that is the only reader of m's output, if there is one."""
    from onnx import TensorProto

    readers = [node for node in graph.node if m.output in node.input]  # type: ignore[attr-defined]
    outputs = {o.name for o in graph.output}  # type: ignore[attr-defined]
    if len(readers) != 1 or m.output in outputs or readers[0].op_type != "Add" or not readers[0].name:
        return None
    add = readers[0]
    other = add.input[1] if add.input[0] == m.output else add.input[0]
    bias = inits.get(other)
    if bias is None or list(bias.dims) != [n] or bias.data_type != TensorProto.FLOAT:  # type: ignore[attr-defined]
        return None
    return add


def quantize_embedding_tables(model: object, min_rows: int = 4096) -> int:
    """Store large Gather tables (word embeddings) as int8 with one scale per row; returns how many.

    Why: the word-embedding table is most of what the int8 file still holds in fp32 (47 MB of 59 for MiniLM).
    A row's lookup does not depend on any other row, so this keeps batch invariance.
    """
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph  # type: ignore[attr-defined]
    inits = {i.name: i for i in graph.initializer}
    replaced: dict[str, list[object]] = {}
    new_inits = []
    for node in graph.node:
        if node.op_type != "Gather" or node.input[0] not in inits or dict_attr(node, "axis", 0) != 0:
            continue
        table = inits[node.input[0]]
        if len(table.dims) != 2 or table.dims[0] < min_rows or table.data_type != TensorProto.FLOAT:
            continue
        values = numpy_helper.to_array(table).astype(np.float32)
        scale = (np.maximum(np.abs(values).max(axis=1, keepdims=True), EPS) / 127.0).astype(np.float32)
        q = np.clip(np.rint(values / scale), -127, 127).astype(np.int8)
        qn, sn = f"{table.name}_int8rows", f"{table.name}_rowscale"
        new_inits += [numpy_helper.from_array(q, qn), numpy_helper.from_array(scale, sn)]
        out = node.output[0]
        replaced[node.name] = [
            helper.make_node("Gather", [qn, node.input[1]], [f"{out}_q"], name=f"{node.name}_q", axis=0),
            helper.make_node("Gather", [sn, node.input[1]], [f"{out}_s"], name=f"{node.name}_s", axis=0),
            helper.make_node("Cast", [f"{out}_q"], [f"{out}_f"], name=f"{node.name}_f", to=TensorProto.FLOAT),
            helper.make_node("Mul", [f"{out}_f", f"{out}_s"], [out], name=f"{node.name}_deq"),
        ]
    _splice(model, replaced, new_inits)
    return len(replaced)


def dict_attr(node: object, name: str, default: int) -> int:
    from onnx import helper

    for attr in node.attribute:  # type: ignore[attr-defined]
        if attr.name == name:
            return int(helper.get_attribute_value(attr))
    return default


def _splice(model: object, replaced: Mapping[str, Sequence[object]], new_inits: Sequence[object]) -> None:
    """Replace nodes by name (keeping order), add initializers, drop initializers nothing uses any more."""
    graph = model.graph  # type: ignore[attr-defined]
    nodes: list[object] = []
    for node in graph.node:
        nodes.extend(replaced.get(node.name, [node]))
    del graph.node[:]
    graph.node.extend(nodes)
    used = {i for node in graph.node for i in node.input}
    kept = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept + [i for i in new_inits if i.name in used])  # type: ignore[attr-defined]


def build_rowwise(fp32_path: Path, out_path: Path, feeds: Iterable[dict[str, np.ndarray]], plan: RowQuantPlan) -> None:
    """Calibrate (when smoothing), rewrite and save. The first consumer of an activation hosts the shared chain."""
    import onnx

    model = onnx.load(str(fp32_path))
    activations = sorted({m.activation for m in weight_matmuls(model)})
    maxima = activation_maxima(fp32_path, feeds, activations) if plan.alpha is not None else {}
    rewrite(model, maxima, plan)
    if plan.embeddings:
        quantize_embedding_tables(model)
    onnx.save(model, str(out_path))
