"""CLS-only last layer: compute the tail of the graph for the one token the head reads (exact rewrite).

Why: a cross-encoder's head (pooler -> classifier) reads position 0 of the last encoder layer and nothing
else, yet the exported graph runs that whole layer for every token. Only the last layer's K and V need every
token; its Q, attention scores, attention output projection, both LayerNorms and the FFN are needed at
position 0 only. Every operation there works on each token on its own (the attention's query axis too), so
slicing position 0 out before them gives the same numbers up to float rounding: for MiniLM-L6 about 1/6 of
the layer's GEMM work per token is left in the last layer (K, V) and the rest of it goes.

How, without matching one exporter's node names: walking back from the head's `Gather(axis=1, index 0)`, a
node joins the sliced region when every reader of its outputs is in the region and its kind has a rule that
maps the sliced axis from output to inputs (elementwise with broadcasting, LayerNorm/Softmax/ReduceMax over
another axis, MatMul rows, the int8 chain's QuantizeLinear/MatMulIntegerToFloat, Transpose, Reshape). Region
nodes are edited in place: an input that is also needed in full elsewhere (the layer input, which K and V
read) gets a `Slice(0:1)` on its sequence axis; a Reshape's target shape gets 1 on that axis. Axes are found
from a probe run at two sequence lengths. The rewrite is checked on a second probe (padded batch, random ids)
against the unrewritten graph and refused (graph unchanged) if the outputs differ: a model whose head reads
more than token 0 (mean pooling, token outputs) has no such region and is left alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from edge_build.graph_probe import session_with_outputs
from edge_build.hybridfuse import _rebuild, _scalar

PROBE_LENGTHS = (7, 11)  # two sequence lengths: a dimension equal to both is the sequence axis
PROBE_BATCH = 2
CHECK_ATOL = 2e-3  # outputs of the rewritten graph vs the original on the check probe (logits)
CHECK_RTOL = 1e-3

_ELEMENTWISE = frozenset(
    {"Add", "Sub", "Mul", "Div", "Max", "Min", "Pow", "Erf", "Tanh", "Sqrt", "Relu", "Sigmoid", "Cast", "Abs"}
    | {"Gelu", "FastGelu", "BiasGelu", "QuickGelu", "Neg", "Exp", "Where"}
)
_LAST_AXIS_OPS = frozenset({"LayerNormalization", "SkipLayerNormalization", "Softmax"})


@dataclass
class ClsReport:
    """What the rewrite did: nodes now run on token 0 only, and Slice nodes inserted (0, 0: unchanged)."""

    sliced_nodes: int = 0
    slices: int = 0
    refused: str = ""  # why the graph was left alone (empty when rewritten)
    names: list[str] = field(default_factory=list)


def _attr(node: object, name: str, default: object = None) -> object:
    from onnx import helper

    for a in node.attribute:  # type: ignore[attr-defined]
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _feeds(session: object, batch: int, length: int, rng: np.random.Generator | None) -> dict[str, np.ndarray]:
    """Feeds for every input: token ids (random when rng is given), a mask with the last row padded to half."""
    dtypes = {"tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(float)": np.float32}
    feeds = {}
    for i in session.get_inputs():  # type: ignore[attr-defined]
        dtype = dtypes.get(i.type)
        if dtype is None:
            raise ValueError(f"input {i.name} has type {i.type}")
        shape = (batch, length)
        if i.name == "attention_mask":
            value = np.ones(shape, dtype)
            if rng is not None:
                value[-1, length // 2 + 1 :] = 0
        elif i.name == "token_type_ids":
            value = np.zeros(shape, dtype)
            value[:, length // 2 :] = 1
        elif rng is not None:
            value = rng.integers(1000, 2000, size=shape).astype(dtype)
        else:
            value = np.ones(shape, dtype)
        feeds[i.name] = value
    return feeds


def _probe_shapes(model: object) -> list[dict[str, tuple[int, ...]]]:
    """Every node output's shape, at each probe length (plain graph: no fusions, so every tensor exists)."""
    known = {o.name for o in model.graph.output}  # type: ignore[attr-defined]
    names = [o for n in model.graph.node for o in n.output if o and o not in known]  # type: ignore[attr-defined]
    session = session_with_outputs(model, names, optimize=False)
    outs = [o.name for o in session.get_outputs()]
    found = []
    for length in PROBE_LENGTHS:
        values = session.run(outs, _feeds(session, PROBE_BATCH, length, None))
        found.append({n: tuple(np.shape(v)) for n, v in zip(outs, values, strict=True)})
    return found


class _Shapes:
    """Probe shapes, and which axis of a tensor is the sequence (the dimension that follows the length)."""

    def __init__(self, runs: list[dict[str, tuple[int, ...]]], inits: dict[str, tuple[int, ...]]) -> None:
        self.runs = runs
        self.inits = inits

    def rank(self, name: str) -> int | None:
        if name in self.inits:
            return len(self.inits[name])
        shape = self.runs[0].get(name)
        return None if shape is None else len(shape)

    def is_seq(self, name: str, axis: int) -> bool | None:
        """Whether `axis` of `name` is the sequence axis (True), a broadcast 1 (False), or neither (None)."""
        if name in self.inits:
            dims = [self.inits[name]]
        elif name in self.runs[0]:
            dims = [run[name] for run in self.runs]
        else:
            return None
        sizes = [d[axis] for d in dims]
        if all(s == length for s, length in zip(sizes, PROBE_LENGTHS, strict=False)) and len(sizes) == len(
            PROBE_LENGTHS
        ):
            return True
        return False if all(s == 1 for s in sizes) else None


def _input_axes(node: object, axis: int, shapes: _Shapes) -> list[int | None] | None:
    """For a node whose output is sliced on `axis`: per input, the axis to slice (None: read it whole).

    None overall: no rule for this node (it cannot join the region).
    """
    op = node.op_type  # type: ignore[attr-defined]
    inputs = list(node.input)  # type: ignore[attr-defined]
    out_rank = shapes.rank(node.output[0])  # type: ignore[attr-defined]
    if out_rank is None:
        return None

    def broadcast(name: str) -> tuple[bool, int | None]:
        """(known, axis): the input's axis under the output's sliced one when it is the sequence, None when
        the input broadcasts there (absent or 1); known False when it is neither (no rule)."""
        rank = shapes.rank(name) if name else 0
        if rank is None:
            return False, None
        in_axis = axis - (out_rank - rank)
        if in_axis < 0:
            return True, None
        seq = shapes.is_seq(name, in_axis)
        return seq is not None, in_axis if seq else None

    if op in _ELEMENTWISE or op in ("QuantizeLinear", "DequantizeLinear"):
        if op in ("QuantizeLinear", "DequantizeLinear") and shapes.rank(inputs[1]) not in (0, out_rank):
            return None  # per-axis scales: one per channel of some axis, not broadcast from the right
        found = [broadcast(i) if i else (True, None) for i in inputs]
        return None if not all(known for known, _ in found) else [a for _, a in found]
    if op in _LAST_AXIS_OPS or op == "ReduceMax":
        norm = _attr(node, "axis", -1)
        if op == "ReduceMax":
            ok = axis != out_rank - 1 and _reduces_last(node, shapes)
            return [axis] + [None] * (len(inputs) - 1) if ok else None
        if int(norm) % out_rank == axis:  # type: ignore[call-overload]
            return None
        return [axis] + [None] * (len(inputs) - 1)
    if op == "MatMul" or op in ("MatMulInteger", "MatMulIntegerToFloat"):
        if axis != out_rank - 2:
            return None  # only the row axis: the batch/head axes would slice both sides
        known, rows = broadcast(inputs[0])
        if not known or rows is None:
            return None
        # B and its scales read whole; A's scale / zero points and the bias must not depend on the row
        if any(broadcast(name) != (True, None) for name in inputs[2:] if name):
            return None
        return [rows] + [None] * (len(inputs) - 1)
    if op == "Transpose":
        perm = _attr(node, "perm")
        return None if perm is None else [list(perm)[axis]]  # type: ignore[call-overload]
    if op == "Reshape":
        run = shapes.runs[0]
        src, dst = run.get(inputs[0]), run.get(node.output[0])  # type: ignore[attr-defined]
        if src is None or dst is None or len(src) <= axis or src[: axis + 1] != dst[: axis + 1]:
            return None
        if not all(r.get(inputs[0], ())[: axis + 1] == r.get(node.output[0], ())[: axis + 1] for r in shapes.runs):  # type: ignore[attr-defined]
            return None
        return [axis, None]
    return None


def _reduces_last(node: object, shapes: _Shapes) -> bool:
    """ReduceMax whose (probe) output keeps every axis of its input but the last, which becomes 1."""
    for run in shapes.runs:
        src, dst = run.get(node.input[0]), run.get(node.output[0])  # type: ignore[attr-defined]
        if src is None or dst is None or len(src) != len(dst) or dst[-1] != 1 or src[:-1] != dst[:-1]:
            return False
    return True


def _head_gather(g: object) -> object | None:
    """The node that reads one position of the sequence: Gather(axis=1, scalar index 0) of a rank-3 tensor."""
    for node in g.graph.node:  # type: ignore[attr-defined]
        if node.op_type != "Gather" or _attr(node, "axis", 0) != 1:
            continue
        if _scalar(g, node.input[1]) != 0.0:  # type: ignore[arg-type]
            continue
        init = g.inits.get(node.input[1])  # type: ignore[attr-defined]
        producer = g.producer.get(node.input[1])  # type: ignore[attr-defined]
        if init is not None and len(init.dims) != 0:
            continue
        if producer is not None and producer.op_type == "Constant":
            value = _attr(producer, "value")
            if value is None or len(value.dims) != 0:  # type: ignore[attr-defined]
                continue
        elif init is None:
            continue
        return node
    return None


def _names(prefix: str) -> Iterator[str]:
    i = 0
    while True:
        yield f"{prefix}_{i}"
        i += 1


def cls_only(model: object) -> ClsReport:
    """Rewrite in place so the layers after the last all-token step run for token 0 only; see the module doc."""
    import onnx
    from onnx import helper, numpy_helper

    from edge_build.hybridfuse import _Graph

    original = onnx.ModelProto()
    original.CopyFrom(model)
    g = _Graph(model)
    head = _head_gather(g)
    if head is None:
        return ClsReport(refused="no Gather of sequence position 0 (the head reads more than the first token)")
    shapes = _Shapes(
        _probe_shapes(model),
        {i.name: tuple(i.dims) for i in g.graph.initializer},
    )
    start = head.input[0]  # type: ignore[attr-defined]
    if shapes.rank(start) != 3 or not shapes.is_seq(start, 1) or g.consumers.get(start) != [head]:
        return ClsReport(refused="the head's input is read by more than the position-0 Gather")
    want: dict[str, int] = {start: 1}  # tensor -> the axis its readers want sliced (region tensors only)
    readers: dict[str, set[int]] = {}
    whole: set[str] = set()  # tensors some region node reads unsliced: their producers stay as they are
    region: dict[int, list[int | None]] = {}  # id(node) -> per input, the axis to slice
    in_region = {id(head)}
    order = list(g.graph.node)
    for node in reversed(order):
        if node is head or not node.output or node.output[0] not in want or node.output[0] in whole:
            continue
        outs = [o for o in node.output if o]
        if len(outs) != 1 or node.output[0] in g.outputs:
            continue
        if any(id(r) not in in_region for r in g.consumers.get(outs[0], [])):
            continue
        axes = _input_axes(node, want[outs[0]], shapes)
        if axes is None:
            continue
        region[id(node)] = axes
        in_region.add(id(node))
        for name, axis in zip(node.input, axes, strict=True):
            if axis is None:
                whole.add(name)
                continue
            readers.setdefault(name, set()).add(axis)
            if len(readers[name]) == 1:
                want[name] = axis
            else:
                want.pop(name, None)
    if not region:
        return ClsReport(refused="nothing before the head works token by token")

    fresh = _names("clsonly")
    add_before: dict[str, list[object]] = {}
    slices: dict[tuple[str, int], str] = {}
    new_inits: list[onnx.TensorProto] = []
    starts, ends = "clsonly_start", "clsonly_end"
    new_inits += [
        numpy_helper.from_array(np.array([0], np.int64), starts),
        numpy_helper.from_array(np.array([1], np.int64), ends),
    ]

    def sliced(name: str, axis: int, before: str) -> str:
        key = (name, axis)
        if key not in slices:
            axes_name = f"clsonly_axis_{axis}"
            if axes_name not in {i.name for i in new_inits}:
                new_inits.append(numpy_helper.from_array(np.array([axis], np.int64), axes_name))
            out = next(fresh)
            add_before.setdefault(before, []).append(
                helper.make_node("Slice", [name, starts, ends, axes_name], [out], name=out)
            )
            slices[key] = out
        return slices[key]

    count = 0
    for node in order:
        axes = region.get(id(node))
        if axes is None:
            continue
        count += 1
        for k, (name, axis) in enumerate(zip(list(node.input), axes, strict=True)):
            producer = g.producer.get(name)
            if axis is not None and (producer is None or id(producer) not in region):
                node.input[k] = sliced(name, axis, node.name)
        if node.op_type == "Reshape":
            out_axis = want[node.output[0]]
            rank = shapes.rank(node.output[0]) or 0
            onehot = np.zeros(rank, np.int64)
            onehot[out_axis] = 1
            keep, put = next(fresh), next(fresh)
            new_inits += [
                numpy_helper.from_array(1 - onehot, f"{keep}_mask"),
                numpy_helper.from_array(onehot, f"{put}_one"),
            ]
            masked, shape = next(fresh), next(fresh)
            add_before.setdefault(node.name, []).extend(
                [
                    helper.make_node("Mul", [node.input[1], f"{keep}_mask"], [masked], name=masked),
                    helper.make_node("Add", [masked, f"{put}_one"], [shape], name=shape),
                ]
            )
            node.input[1] = shape
    g.graph.initializer.extend(new_inits)
    del g.graph.value_info[:]  # shapes recorded for the full sequence no longer hold in the region
    _rebuild(model, [], add_before)
    problem = _check(original, model)
    if problem:
        model.CopyFrom(original)  # type: ignore[attr-defined]
        return ClsReport(refused=problem)
    return ClsReport(sliced_nodes=count, slices=len(slices), names=[n.name for n in order if id(n) in region])


def _check(original: object, rewritten: object) -> str:
    """'' when both graphs give the same outputs on a padded random batch (optimized as served), else why not."""
    rng = np.random.default_rng(0)
    try:
        before, after = session_with_outputs(original, []), session_with_outputs(rewritten, [])
    except Exception as exc:  # any load failure: the rewrite is unusable, refuse it
        return f"rewritten graph does not load: {type(exc).__name__}: {exc}"
    for length in PROBE_LENGTHS:
        feeds = _feeds(before, 3, length, rng)
        want = before.run(None, feeds)
        got = after.run(None, feeds)
        for w, v in zip(want, got, strict=True):
            if w.shape != v.shape or not np.allclose(w, v, atol=CHECK_ATOL, rtol=CHECK_RTOL):
                diff = float(np.max(np.abs(w - v))) if w.shape == v.shape else float("inf")
                return f"rewritten graph's outputs differ from the original's (max abs diff {diff:.3g})"
    return ""
